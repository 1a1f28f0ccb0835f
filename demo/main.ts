import { startDemo } from './demo';

/** `npm run demo`: everything on this machine, one line to say where, Ctrl-C to stop. */
async function main(): Promise<void> {
  const port = process.env['DEMO_PORT'] === undefined ? 3999 : Number(process.env['DEMO_PORT']);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    process.stderr.write(`DEMO_PORT: ${process.env['DEMO_PORT']} is not a port number (0-65535)\n`);
    process.exit(1);
  }
  const demo = await startDemo({ port, logLevel: process.env['LOG_LEVEL'] ?? 'error' });
  process.stdout.write(
    `hallpass demo: open ${demo.url}  (local Slack, EC2, STS and IAM stand-ins; nothing leaves this machine; Ctrl-C stops)\n`,
  );
  // Ctrl-C reaches both tsx and this process; a second signal while stopping changes nothing.
  const stop = () => {
    demo.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `hallpass demo could not start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
