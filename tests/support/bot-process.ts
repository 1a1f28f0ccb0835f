import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = path.resolve(__dirname, '../..');
/**
 * tsx's loader (`node --import tsx`), by absolute URL because the bot runs in a temp directory. Node runs
 * the bot itself — not the `tsx` CLI, which relays only SIGINT and SIGTERM — so every signal (SIGHUP
 * too) reaches hallpass.
 */
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** The real hallpass process (`src/main.ts` under tsx), its output so far, and how it exited. */
export type BotProcess = {
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  readonly exited: Promise<number | null>;
};

/** Starts `src/main.ts` in `cwd` with only PATH, HOME and `env` in its environment (and `.env` if `cwd` has one). */
export function runBot(cwd: string, env: Record<string, string>): BotProcess {
  return runProcess(process.execPath, ['--import', TSX_LOADER, path.join(ROOT, 'src/main.ts')], {
    cwd,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
  });
}

/**
 * Starts `command` as a bot would be started some other way (`node dist/main.js`, `npm start`), with
 * exactly `env`. `detached` makes it the leader of a process group of its own, so that a signal to
 * `-pid` reaches what it starts (npm's shell and node).
 */
export function runProcess(
  command: string,
  args: readonly string[],
  opts: { readonly cwd: string; readonly env: NodeJS.ProcessEnv; readonly detached?: boolean },
): BotProcess {
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, detached: opts.detached ?? false });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** Polls `probe` every 100 ms of real time until it gives a value; fails after `timeoutMs`. */
export async function until<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The port the bot logged in its `hallpass started` line (waiting up to `timeoutMs`: longer where a build comes first). */
export const startedPort = (bot: BotProcess, timeoutMs?: number): Promise<number> =>
  until(
    async () => {
      const m = /"port":(\d+)/.exec(bot.output());
      return m?.[1] === undefined ? undefined : Number(m[1]);
    },
    'the started log line',
    timeoutMs,
  );

/**
 * The environment of a bot wired to local stand-ins: the Slack stand-in's Web API, the fake EC2, an
 * ephemeral port and a database in its working directory. `name` tags the made-up secrets (so a test
 * can look for them where they must not be).
 */
export function standInEnv(opts: {
  readonly name: string;
  readonly signingSecret: string;
  readonly slackApiUrl: string;
  readonly ec2Url: string;
}): Record<string, string> {
  return {
    SLACK_BOT_TOKEN: `xoxb-${opts.name}`,
    SLACK_SIGNING_SECRET: opts.signingSecret,
    SLACK_API_URL: opts.slackApiUrl,
    PORT: '0',
    HALLPASS_DB: './hallpass.db',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDSTANDINTEST',
    AWS_SECRET_ACCESS_KEY: `${opts.name}-aws-secret`,
    AWS_ENDPOINT_URL_EC2: opts.ec2Url,
  };
}
