import { type ChildProcess, spawn } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FaultPoint } from '../../src/app/ports';

/**
 * Real hallpass processes for the fault tests: `tests/support/crash-child.ts`, the bot as `src/main.ts`
 * starts it, which kills itself with SIGKILL at a fault point (`CRASH_AT`, or a crash plan every
 * replica reads, `CRASH_PLAN`: see crash-child.ts). crash-recovery.test.ts restarts one bot after its
 * crash; replicas.test.ts runs several at once on one PostgreSQL database, as replicas that live across
 * many cases, and whichever reaches the armed point first dies.
 */

const ROOT = path.resolve(__dirname, '../..');
/**
 * `node --import tsx`, not the `tsx` CLI: the CLI runs the script in a grandchild process, so its pid
 * would not be the bot's — the SIGKILL's exit signal would not reach us, and killing it would orphan the bot.
 */
const NODE_ARGS = ['--import', 'tsx'];
const CHILD = path.join(ROOT, 'tests/support/crash-child.ts');

export type Exit = { readonly code: number | null; readonly signal: NodeJS.Signals | null };

/** A line crash-child writes for the parent: `ready` with its port, or `fault` at each point reached. */
export type ChildLine = {
  readonly child: string;
  readonly port?: number;
  readonly point?: string;
  readonly n?: number;
  readonly crashing?: boolean;
};

/** A crash-child process as it runs: what it said, and how it ended. */
export type ChildBot = {
  readonly proc: ChildProcess;
  readonly exited: Promise<Exit>;
  /** How it ended, once it has. */
  exit(): Exit | undefined;
  /** Its lines to the parent so far. */
  lines(): ChildLine[];
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
};

/** Starts crash-child.ts with only PATH, HOME and `env` in its environment, and listens to it. */
export function spawnCrashChild(env: Record<string, string>): ChildBot {
  const proc = spawn(process.execPath, [...NODE_ARGS, CHILD], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let pending = '';
  const parsed: ChildLine[] = [];
  proc.stdout?.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    out += text;
    pending += text;
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const line of complete) if (line.startsWith('{"child"')) parsed.push(JSON.parse(line) as ChildLine);
  });
  proc.stderr?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  let ended: Exit | undefined;
  const exited = new Promise<Exit>((resolve) =>
    proc.on('exit', (code, signal) => {
      ended = { code, signal };
      resolve(ended);
    }),
  );
  return { proc, exited, exit: () => ended, lines: () => [...parsed], output: () => out };
}

/** One running replica: a crash-child serving under its name. */
export type Replica = ChildBot & {
  readonly name: string;
  /** `http://127.0.0.1:<port>`. */
  readonly base: string;
  /** Where Slack posts: `<base>/slack/events`. */
  readonly url: string;
};

/**
 * Starts a replica and resolves once it serves (its start-up recovery, reconciliation and first run of
 * due work are done by then); rejects with its output if it exits first or is not up within `timeoutMs`.
 */
export async function startReplica(
  name: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<Replica> {
  const child = spawnCrashChild(env);
  const deadline = Date.now() + timeoutMs;
  let port: number | undefined;
  while (port === undefined) {
    const ended = child.exit();
    if (ended !== undefined)
      throw new Error(
        `replica ${name} exited before it was ready (${JSON.stringify(ended)}):\n${child.output()}`,
      );
    if (Date.now() > deadline) {
      child.proc.kill('SIGKILL');
      throw new Error(`replica ${name} was not ready within ${timeoutMs} ms:\n${child.output()}`);
    }
    port = child.lines().find((l) => l.child === 'ready')?.port;
    if (port === undefined) await new Promise((r) => setTimeout(r, 50));
  }
  const base = `http://127.0.0.1:${port}`;
  return { ...child, name, base, url: `${base}/slack/events` };
}

/** Kills a replica (SIGKILL) if it still runs and waits for it to be gone. */
export async function killReplica(replica: Replica): Promise<void> {
  if (replica.exit() === undefined) replica.proc.kill('SIGKILL');
  await replica.exited;
}

let plans = 0;

/**
 * Arms the crash plan at `file` (crash-child's `CRASH_PLAN`): the `after`-th time a replica reaches `at`
 * from now on, it dies — the first replica to get there only.
 */
export function armCrash(file: string, at: FaultPoint, after = 1): void {
  plans += 1;
  writePlan(file, JSON.stringify({ id: `${process.pid}-${plans}`, at, after }));
}

/** Disarms the crash plan at `file`: no replica dies at any point. */
export function disarmCrash(file: string): void {
  writePlan(file, '');
}

/** Replaces the plan in one step (a rename), so a replica never reads half of it. */
function writePlan(file: string, text: string): void {
  writeFileSync(`${file}.next`, text);
  renameSync(`${file}.next`, file);
}
