#!/usr/bin/env node
/**
 * The `hallpass` bin. `hallpass run …` and `hallpass mcp` are the clients of the HTTP API (src/cli/run.ts,
 * src/cli/mcp.ts); `hallpass --help` prints the usage; anything else (no arguments, or options) starts
 * the bot, as `npm start` always has. Each part is imported only when asked for, so the clients never
 * load the bot's configuration, its `.env`, or its dependencies.
 */

const USAGE = `Usage:
  hallpass                      start the bot (reads .env and the settings in docs/settings.md)
  hallpass run <resource> <duration> --reason "<why>" [--from <ip|cidr>] [--lease <ttl> | --no-lease]
               [--timeout <duration>] -- <command> [args…]
                                ask for a window through the API, run the command in it, end it
                                when the command exits (hallpass run --help for more)
  hallpass mcp                  serve the Model Context Protocol over stdio for AI agents
                                (hallpass mcp --help for more)
  hallpass --help               this text

run and mcp read HALLPASS_URL and HALLPASS_TOKEN from the environment (not from .env).
Docs: docs/run-and-mcp.md.`;

async function main(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'run') {
    const { runAccess } = await import('./cli/run.js');
    const code = await runAccess(rest, process.env, {
      out: (t: string) => process.stdout.write(t),
      err: (t: string) => process.stderr.write(t),
      errIsTty: process.stderr.isTTY === true,
    });
    process.exit(code);
  } else if (command === 'mcp') {
    if (rest.includes('--help') || rest.includes('-h')) {
      const { MCP_USAGE } = await import('./cli/mcp.js');
      process.stdout.write(`${MCP_USAGE}\n`);
      return;
    }
    const { serveMcp } = await import('./cli/mcp.js');
    process.exit(await serveMcp(process.env));
  } else if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
  } else {
    const { startBot } = await import('./bot.js');
    await startBot();
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(
    `hallpass could not start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
