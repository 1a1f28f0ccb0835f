import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { type FakeEc2, startFakeEc2 } from '../tests/support/fake-ec2';
import { postToApp, slashCommandBody } from '../tests/support/slack-signing';
import { type SlackStandIn, startSlackStandIn } from '../tests/support/slack-stand-in';
import { addresses, pool, RevokeWatch } from './stack';
import { mib, num, type Row } from './stats';

/**
 * `BENCH_HEAP_SNAPSHOTS=1`: the soak writes a V8 heap snapshot of the bot (SIGUSR2) after the first round's
 * idle reading and after the end's, into its directory (kept with `BENCH_KEEP=1`), to compare what is live.
 */
const SNAPSHOTS = process.env['BENCH_HEAP_SNAPSHOTS'] === '1';
/** The checkout whose build runs: this one, or `BENCH_BOT_ROOT` (another version's, to compare). */
const ROOT = process.env['BENCH_BOT_ROOT'] ?? path.resolve(__dirname, '..');
const SECRET = 'bench-process-signing-secret-0123456789';
const CHANNEL = 'C0BENCHPROC';
/** EC2 holds at most 1,000 rules per group: thousands of grants at once live on several groups (one resource each). */
const GRANTS_PER_GROUP = 900;
/** Signed requests in flight at once, as a busy workspace would send them. */
const IN_FLIGHT = 16;
/** `npm start`'s `NODE_OPTIONS` (package.json), unless `BENCH_NODE_OPTIONS` says otherwise ('' for Node's defaults). */
const START_NODE_OPTIONS = '--max-old-space-size=256 --max-semi-space-size=4';
const nodeOptions = (): string => process.env['BENCH_NODE_OPTIONS'] ?? START_NODE_OPTIONS;
/** `BENCH_BOT_ENV='NAME=value …'`: more of the bot's environment (e.g. `MALLOC_ARENA_MAX=2`), to compare. */
export const botEnv = (): Record<string, string> =>
  Object.fromEntries(
    (process.env['BENCH_BOT_ENV'] ?? '')
      .split(/\s+/)
      .filter((pair) => pair.includes('='))
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );

export type ProcessSizes = {
  /** Active grants opened by as many signed `/access` requests, then held over a restart. */
  readonly active: number;
  /** Requests opened and closed (two-second grants) in the soak, in rounds of `soakRound`. */
  readonly soak: number;
  readonly soakRound: number;
  /**
   * How long the bot is left alone before its idle RSS is read: V8 gives back what a burst made it take
   * only after some seconds of little allocation (its memory reducer).
   */
  readonly idleMs: number;
};

const groupOf = (i: number): string => `sg-0abcdef0123${String(i).padStart(5, '0')}`;
const resourceOf = (i: number): string => `bench-proc-${i}`;

function policyFor(groups: number): string {
  const resources = Array.from(
    { length: groups },
    (_, i) => `
  - id: ${resourceOf(i)}
    description: Benchmark database ${i}
    kind: security-group
    region: us-east-1
    securityGroupId: ${groupOf(i)}
    protocol: tcp
    ports: [5432]
    minDuration: 1s
    maxDuration: 2h
    maxPrefix: 32
    channel: ${CHANNEL}
    approvers: ["@sre"]
    autoApprove: true`,
  );
  return `admins: ["@security"]\napprovalTimeout: 30m\nresources:${resources.join('')}\n`;
}

/** The resident set's parts (`RssAnon`, `RssFile`, `RssShmem` of /proc/<pid>/status), in bytes: code pages of node and its addons count as file. */
function rssPartsOf(pid: number): { anon: number; file: number; shmem: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 'NaN') * 1024;
  return { anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') };
}

/** The real process's resident set (`VmRSS` of /proc/<pid>/status), in bytes. */
function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m?.[1] === undefined) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/** Warnings every start of the bench's bot logs, not about the run: left out of the table. */
const SETTINGS_WARNINGS = [
  'start-up check',
  'HALLPASS_AUDIT_KEY is not set',
  'no backstop is configured',
  'the policy names no auditChannel',
];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` until it holds; fails when it has made no progress (`progress` unchanged) for `stallMs`. */
async function until(
  probe: () => Promise<boolean> | boolean,
  what: string,
  progress: () => number = () => 0,
  stallMs = 60_000,
  everyMs = 100,
): Promise<void> {
  let last = progress();
  let since = Date.now();
  for (;;) {
    if (await probe()) return;
    const now = progress();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since > stallMs) throw new Error(`stalled waiting for ${what}`);
    await sleep(everyMs);
  }
}

type Running = {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly pid: number;
  /** Started as a process group (`npm start`): signals go to all of it. */
  readonly group: boolean;
};

/** One bench run: the stand-ins here, the compiled bot in a child process on a SQLite file in `dir`. */
class ProcessBench {
  private constructor(
    readonly dir: string,
    readonly slack: SlackStandIn,
    readonly ec2: FakeEc2,
    readonly revokes: RevokeWatch,
    readonly groups: number,
    readonly port: number,
  ) {}

  static async create(groups: number): Promise<ProcessBench> {
    const dir = mkdtempSync(path.join(tmpdir(), 'hallpass-bench-process-'));
    writeFileSync(path.join(dir, 'policy.yml'), policyFor(groups));
    const slack = await startSlackStandIn();
    slack.setGroups([{ id: 'S0SRE', handle: 'sre', users: ['UAPPROVER1'] }]);
    const ec2 = await startFakeEc2({ groups: Array.from({ length: groups }, (_, i) => groupOf(i)) });
    return new ProcessBench(dir, slack, ec2, new RevokeWatch(ec2), groups, await freePort());
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Starts `node dist/main.js` with `npm start`'s NODE_OPTIONS (and a CPU profile into `cpuProfDir`),
   * or `npm start` itself (its prestart, in the checkout, as its own process group), logging to
   * `bot.log` in the directory.
   */
  start(cpuProfDir?: string, how: 'node' | 'npm start' = 'node'): Running {
    const log = openSync(path.join(this.dir, 'bot.log'), 'a');
    const [command, args, cwd] =
      how === 'node'
        ? [
            process.execPath,
            [
              ...(cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`]),
              path.join(ROOT, 'dist/main.js'),
            ],
            this.dir,
          ]
        : ['npm', ['start', '--silent'], ROOT];
    const child = spawn(command, args, {
      cwd,
      stdio: ['ignore', log, log],
      detached: how !== 'node',
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '',
        ...(how === 'node'
          ? { NODE_OPTIONS: `${nodeOptions()}${SNAPSHOTS ? ' --heapsnapshot-signal=SIGUSR2' : ''}` }
          : {}),
        SLACK_BOT_TOKEN: 'xoxb-bench-process',
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: this.slack.apiUrl,
        PORT: String(this.port),
        HALLPASS_DB: path.join(this.dir, 'hallpass.db'),
        HALLPASS_POLICY: path.join(this.dir, 'policy.yml'),
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'AKIDBENCHPROCESS',
        AWS_SECRET_ACCESS_KEY: 'bench-process-aws-secret',
        AWS_ENDPOINT_URL_EC2: this.ec2.url,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...botEnv(),
      },
    });
    closeSync(log);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    if (child.pid === undefined) throw new Error('the bot did not start');
    return { child, exited, pid: child.pid, group: how !== 'node' };
  }

  /** Resolves once `/healthz` answers 200 (the server holds requests until start-up is done: timers armed). */
  async healthy(bot: Running, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void bot.exited.then(() => {
      exited = true;
    });
    for (;;) {
      if (exited) throw new Error(`the bot exited during start-up: ${this.logTail()}`);
      const ok = await fetch(`${this.url}/healthz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`not healthy after ${timeoutMs} ms: ${this.logTail()}`);
      await sleep(25);
    }
  }

  async stop(bot: Running): Promise<void> {
    const signal = (s: NodeJS.Signals) => (bot.group ? process.kill(-bot.pid, s) : bot.child.kill(s));
    signal('SIGTERM');
    const code = await Promise.race([bot.exited, sleep(60_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      signal('SIGKILL');
      await bot.exited;
    }
  }

  /** Resolves once the bot has made no Slack call for `quietMs` (its notices and Home views are out). */
  async quiet(quietMs = 1_500): Promise<void> {
    let seen = this.slack.calls.length;
    let since = Date.now();
    while (Date.now() - since < quietMs) {
      await sleep(100);
      if (this.slack.calls.length !== seen) {
        seen = this.slack.calls.length;
        since = Date.now();
      }
    }
  }

  /**
   * What the bot's database says, read beside it (SQLite in WAL mode lets a reader in): requests
   * recorded, requests without a grant, grants by state, and ended grants that never opened.
   */
  counts(): {
    requests: number;
    noGrant: number;
    live: number;
    active: number;
    endedUnopened: number;
    byState: string;
  } {
    const db = new Database(path.join(this.dir, 'hallpass.db'), { readonly: true, fileMustExist: true });
    try {
      const one = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;
      const states = db
        .prepare('SELECT state, count(*) AS n FROM grants GROUP BY state ORDER BY state')
        .all() as {
        state: string;
        n: number;
      }[];
      return {
        requests: one("SELECT count(*) AS n FROM requests WHERE kind = 'access'"),
        noGrant: one(
          "SELECT count(*) AS n FROM requests r WHERE r.kind = 'access' AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.request_id = r.id)",
        ),
        live: one("SELECT count(*) AS n FROM grants WHERE state IN ('opening', 'active', 'closing')"),
        active: one("SELECT count(*) AS n FROM grants WHERE state = 'active'"),
        endedUnopened: one(
          "SELECT count(*) AS n FROM grants WHERE state = 'closed' AND id NOT IN (SELECT grant_id FROM audit_events WHERE type = 'grant.opened' AND grant_id IS NOT NULL)",
        ),
        byState: states.map((r) => `${r.state} ${r.n}`).join(', '),
      };
    } finally {
      db.close();
    }
  }

  /** Rules open now, over every group. */
  openRules(): number {
    let n = 0;
    for (let g = 0; g < this.groups; g++) n += this.ec2.rules(groupOf(g)).length;
    return n;
  }

  /** Requests whose POST failed (no answer at all): never acked, so never expected. */
  unsent = 0;

  /** `count` signed `/access` requests, one requester each (`U…<first + i>`), each on group `i / GRANTS_PER_GROUP`. */
  async send(first: number, count: number, duration: string, block: number): Promise<void> {
    const ips = addresses(count, block);
    await pool(ips, IN_FLIGHT, async (ip, i) => {
      const n = first + i;
      const body = slashCommandBody({
        user_id: `UBP${String(n).padStart(7, '0')}`,
        text: `${resourceOf(Math.floor(i / GRANTS_PER_GROUP) % this.groups)} ${duration} from ${ip} process benchmark`,
        channel_id: CHANNEL,
        response_url: this.slack.responseUrl(),
      });
      // On a loaded machine a connection may time out (undici gives up connecting after 10 s): counted, not retried.
      const res = await postToApp(`${this.url}/slack/events`, body, { secret: SECRET }).catch(
        () => undefined,
      );
      if (res === undefined) this.unsent += 1;
      else if (res.status !== 200) throw new Error(`/access answered ${res.status}: ${res.body}`);
    });
  }

  /**
   * The heap as the bot's own metrics report it (`hallpass_nodejs_heap_size_used_bytes`, `…_total_bytes`,
   * `hallpass_nodejs_external_memory_bytes`), in bytes; undefined where the bot did not answer.
   */
  async heap(): Promise<{ used?: number; total?: number; external?: number }> {
    const text = await fetch(`${this.url}/metrics`).then(
      (r) => r.text(),
      () => '',
    );
    const read = (name: string): number | undefined => {
      const m = new RegExp(`^hallpass_${name} (\\d+(?:\\.\\d+)?)`, 'm').exec(text);
      return m?.[1] === undefined ? undefined : Number(m[1]);
    };
    return {
      used: read('nodejs_heap_size_used_bytes'),
      total: read('nodejs_heap_size_total_bytes'),
      external: read('nodejs_external_memory_bytes'),
    };
  }

  /**
   * RSS once the bot has been left alone for `idleMs`: V8 gives back what a burst made it take
   * only after a while with little allocation (its memory reducer), and a server spends most of its life
   * so. With the heap as the bot reports it.
   */
  async idleRows(pid: number, what: string, idleMs: number): Promise<Row[]> {
    return (await this.idle(pid, what, idleMs)).rows;
  }

  /** Has the bot write a heap snapshot (it runs with `--heapsnapshot-signal=SIGUSR2`), named `<name>.heapsnapshot`. */
  async heapSnapshot(pid: number, name: string): Promise<void> {
    const snapshots = () => readdirSync(this.dir).filter((f) => /^Heap\..*\.heapsnapshot$/.test(f));
    const before = new Set(snapshots());
    process.kill(pid, 'SIGUSR2');
    let file: string | undefined;
    let size = -1;
    for (;;) {
      await sleep(1_000);
      file ??= snapshots().find((f) => !before.has(f));
      if (file === undefined) continue;
      const now = statSync(path.join(this.dir, file)).size;
      if (now === size && now > 0) break;
      size = now;
    }
    renameSync(path.join(this.dir, file), path.join(this.dir, `${name}.heapsnapshot`));
  }

  /** {@link idleRows}, with the RSS it read (bytes). */
  async idle(pid: number, what: string, idleMs: number): Promise<{ rss: number; rows: Row[] }> {
    await sleep(idleMs);
    const rss = rssOf(pid);
    const heap = await this.heap();
    const show = (b: number | undefined) => (b === undefined ? '?' : mib(b));
    return {
      rss,
      rows: [
        {
          label: `RSS ${what}, after ${idleMs / 1000} s idle`,
          value: mib(rss),
          unit: `MiB (${num(rss / 1e6)} MB)`,
        },
        {
          label: '  JS heap used / total; external',
          value: `${show(heap.used)} / ${show(heap.total)}; ${show(heap.external)}`,
          unit: 'MiB',
        },
      ],
    };
  }

  logTail(): string {
    try {
      return readFileSync(path.join(this.dir, 'bot.log'), 'utf8').slice(-2_000);
    } catch {
      return '';
    }
  }

  /** The steps of the last start-up, as its 'hallpass started' line gives them (real ms each; processAge: the whole). */
  startupSteps(): string {
    const lines = readFileSync(path.join(this.dir, 'bot.log'), 'utf8').split('\n');
    const started = lines.filter((l) => l.includes('"msg":"hallpass started"')).pop();
    if (started === undefined) return '(no start line)';
    const steps = (JSON.parse(started) as { startupMs?: Record<string, number> }).startupMs ?? {};
    return Object.entries(steps)
      .map(([step, ms]) => `${step} ${ms}`)
      .join(', ');
  }

  /** Requests refused because the directory could not place the requester (`users.info` failed): its log lines. */
  refused(): number {
    const log = readFileSync(path.join(this.dir, 'bot.log'), 'utf8');
    return log.split('"msg":"could not tell who a user is; refused"').length - 1;
  }

  /** Lines of the bot's log at level warn (40) or above, counted by message. */
  problems(): string {
    const counts = new Map<string, number>();
    for (const line of readFileSync(path.join(this.dir, 'bot.log'), 'utf8').split('\n')) {
      const m = /"level":(\d+).*"msg":"([^"]*)"/.exec(line);
      const msg = m?.[2] ?? '';
      // The start-up checks' warnings are about the stand-ins (no STS, no @security group), and the
      // settings the bench leaves unset (audit key, backstop, audit channel) are warned about at each start.
      if (m?.[1] === undefined || Number(m[1]) < 40 || SETTINGS_WARNINGS.some((w) => msg.startsWith(w)))
        continue;
      counts.set(msg, (counts.get(msg) ?? 0) + 1);
    }
    return [...counts].map(([msg, n]) => `${n} × ${msg.slice(0, 80)}`).join('; ');
  }

  async close(): Promise<void> {
    await this.slack.close();
    await this.ec2.close();
    if (process.env['BENCH_KEEP'] === undefined) rmSync(this.dir, { recursive: true, force: true });
    else console.log(`kept ${this.dir}`);
  }
}

const startRows = (label: string, ms: number, rss: number): Row[] => [
  { label: `${label}: spawn → /healthz 200`, value: num(ms), unit: 'ms' },
  { label: `${label}: RSS when healthy`, value: mib(rss), unit: 'MiB' },
];

/** Runs `body` with `bot`; kills it if `body` fails (a bench error never leaves it running). */
async function withBot<T>(bot: Running, body: (bot: Running) => Promise<T>): Promise<T> {
  try {
    return await body(bot);
  } catch (error) {
    bot.child.kill('SIGKILL');
    await bot.exited;
    throw error;
  }
}

/**
 * The real process: `npm run build`, then `node dist/main.js` (with `npm start`'s NODE_OPTIONS) on a
 * SQLite file, the stand-ins on loopback. `active` signed `/access` requests, one requester each, leave
 * as many grants open; RSS is read from /proc after they are all open and Slack has been told; then a
 * restart with them all live (time to healthy, timers armed), `npm start` twice with nothing changed,
 * and a soak of `soak` requests opened and closed (ten-second grants) in a fresh process: RSS after
 * the first round against the end.
 */
export async function measureProcess(sizes: ProcessSizes): Promise<Row[]> {
  // The checkout's own build script (this one's bundles the EC2 SDK down after tsc: scripts/slim-ec2.cjs).
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
  // Each figure is also written to stderr as it is measured: a long run stopped early keeps what it had.
  const rows: Row[] = [];
  const push = rows.push.bind(rows);
  rows.push = (...items: Row[]): number => {
    for (const r of items) process.stderr.write(`  … ${r.label}: ${r.value} ${r.unit}\n`);
    return push(...items);
  };
  rows.push({ label: 'NODE_OPTIONS', value: nodeOptions() === '' ? '(none)' : nodeOptions(), unit: '' });

  // A phase that fails says so in the table and the next one still runs (BENCH_KEEP=1 keeps the logs).
  const phase = async (name: string, run: () => Promise<void>): Promise<void> => {
    try {
      await run();
    } catch (error) {
      rows.push({
        label: `${name} FAILED`,
        value: error instanceof Error ? error.message : String(error),
        unit: '',
      });
    }
  };
  if (sizes.active > 0) await phase('active grants', () => measureActive(sizes, rows));
  await phase('npm start and soak', () => measureSoak(sizes, rows));
  return rows;
}

async function measureActive(sizes: ProcessSizes, rows: Row[]): Promise<void> {
  const bench = await ProcessBench.create(Math.ceil(sizes.active / GRANTS_PER_GROUP));
  try {
    let t0 = performance.now();
    await withBot(bench.start(), async (bot) => {
      await bench.healthy(bot);
      rows.push(...startRows('first start, empty database', performance.now() - t0, rssOf(bot.pid)));
      await bench.quiet();
      rows.push({ label: 'RSS at start, settled', value: mib(rssOf(bot.pid)), unit: 'MiB' });

      t0 = performance.now();
      await bench.send(0, sizes.active, '2h', 0);
      const sent = performance.now() - t0;
      try {
        await until(
          () => {
            const expected = sizes.active - bench.unsent - bench.refused();
            return bench.counts().active >= expected && bench.openRules() >= expected;
          },
          `${sizes.active} grants active`,
          () => bench.openRules(),
          30_000,
          250,
        );
      } catch {
        // Reported below, with what the database and the bot's log say.
      }
      const allOpen = performance.now() - t0;
      await bench.quiet();
      const rss = rssOf(bot.pid);
      const c = bench.counts();
      rows.push(
        { label: `${sizes.active} requests sent (${IN_FLIGHT} in flight)`, value: num(sent), unit: 'ms' },
        {
          label: 'refused, requester not placed (users.info failed)',
          value: String(bench.refused()),
          unit: '',
        },
        { label: 'POSTs that got no answer (connection failed)', value: String(bench.unsent), unit: '' },
        { label: 'first request → all active', value: num(allOpen), unit: 'ms' },
        { label: 'requests recorded / without a grant', value: `${c.requests} / ${c.noGrant}`, unit: '' },
        { label: 'grants by state', value: c.byState, unit: '' },
        { label: 'rules open in EC2', value: String(bench.openRules()), unit: '' },
        {
          label: `RSS with ${c.active} active grants, settled`,
          value: mib(rss),
          unit: `MiB (${num(rss / 1e6)} MB)`,
        },
      );
      const heap = await bench.heap();
      if (heap.used !== undefined)
        rows.push({ label: '  of which JS heap used', value: mib(heap.used), unit: 'MiB' });
      rows.push(...(await bench.idleRows(bot.pid, `with ${c.active} active grants`, sizes.idleMs)));
      const warned = bench.problems();
      if (warned !== '') rows.push({ label: '  bot log, warn and above', value: warned, unit: '' });
      await bench.stop(bot);
    });

    const live = bench.counts().active;
    // `BENCH_RESTARTS=N` restarts N times (the first is the figure with RSS; the others time start-up alone,
    // for a median on a noisy machine).
    const restarts = Math.max(1, Number(process.env['BENCH_RESTARTS'] ?? '1'));
    const times: number[] = [];
    for (let turn = 0; turn < restarts; turn++) {
      t0 = performance.now();
      await withBot(bench.start(process.env['BENCH_CPU_PROF']), async (bot) => {
        await bench.healthy(bot);
        const ms = performance.now() - t0;
        times.push(ms);
        if (turn === 0) {
          rows.push(...startRows(`restart with ${live} active grants`, ms, rssOf(bot.pid)));
          await bench.quiet();
          rows.push({ label: 'RSS after restart, settled', value: mib(rssOf(bot.pid)), unit: 'MiB' });
          rows.push(...(await bench.idleRows(bot.pid, 'after restart', sizes.idleMs)));
        } else {
          await bench.quiet();
        }
        // Read once the log has its line (pino writes it behind the start).
        rows.push({
          label: `  restart ${turn + 1}: start-up steps`,
          value: bench.startupSteps(),
          unit: 'ms',
        });
        await bench.stop(bot);
      });
    }
    if (restarts > 1) {
      const sorted = [...times].sort((a, b) => a - b);
      rows.push({
        label: `restart → healthy, ${restarts} restarts: median (each)`,
        value: num(sorted[Math.floor(sorted.length / 2)] ?? Number.NaN),
        unit: `ms (${times.map((t) => num(t)).join(', ')})`,
      });
    }
  } finally {
    await bench.close();
  }
}

async function measureSoak(sizes: ProcessSizes, rows: Row[]): Promise<void> {
  const soak = await ProcessBench.create(Math.ceil(sizes.soakRound / GRANTS_PER_GROUP));
  try {
    // `npm start` twice with nothing changed since the build above: the second is the figure.
    for (const turn of ['first', 'second']) {
      const t0 = performance.now();
      await withBot(soak.start(undefined, 'npm start'), async (bot) => {
        await soak.healthy(bot);
        rows.push({
          label: `npm start, nothing changed, ${turn}: → /healthz 200`,
          value: num(performance.now() - t0),
          unit: 'ms',
        });
        await soak.stop(bot);
      });
    }
    if (sizes.soak === 0) return;
    await withBot(soak.start(), async (bot) => {
      await soak.healthy(bot);
      await soak.quiet();
      const rounds = Math.ceil(sizes.soak / sizes.soakRound);
      const rss: number[] = [];
      const heapUsed: number[] = [];
      const heapTotal: number[] = [];
      const parts: ReturnType<typeof rssPartsOf>[] = [];
      let firstIdle: { rss: number; rows: Row[] } | undefined;
      const t0 = performance.now();
      for (let r = 0; r < rounds; r++) {
        const count = Math.min(sizes.soakRound, sizes.soak - r * sizes.soakRound);
        await soak.send(r * sizes.soakRound, count, '10s', 100 + (r % 100));
        const sent = r * sizes.soakRound + count;
        await until(
          () => {
            const c = soak.counts();
            // A request refused before it was recorded (the requester could not be placed) is answered, not lost.
            return (
              c.requests + soak.refused() + soak.unsent >= sent && c.live === 0 && soak.openRules() === 0
            );
          },
          `round ${r + 1} closed`,
          () => soak.revokes.rulesSeen(),
          60_000,
          500,
        ).catch((error: unknown) => {
          const c = soak.counts();
          throw new Error(
            `${error instanceof Error ? error.message : String(error)}: ${c.requests} of ${sent} requests recorded, grants ${c.byState}, ${soak.openRules()} rules open; bot log: ${soak.problems()}`,
          );
        });
        await soak.quiet(1_000);
        rss.push(rssOf(bot.pid));
        parts.push(rssPartsOf(bot.pid));
        const heap = await soak.heap();
        heapUsed.push(heap.used ?? 0);
        heapTotal.push(heap.total ?? 0);
        // The first round's figure once idle too, to compare with the end's like for like.
        if (r === 0 && rounds > 1) {
          firstIdle = await soak.idle(bot.pid, `after the first ${count}`, sizes.idleMs);
          if (SNAPSHOTS) await soak.heapSnapshot(bot.pid, 'soak-first');
        }
      }
      const first = rss[0] ?? 0;
      const last = rss[rss.length - 1] ?? 0;
      // Idle at the end only to compare with the first round's idle figure.
      const lastIdle =
        firstIdle === undefined ? undefined : await soak.idle(bot.pid, 'at the end', sizes.idleMs);
      if (SNAPSHOTS && lastIdle !== undefined) await soak.heapSnapshot(bot.pid, 'soak-end');
      const c = soak.counts();
      rows.push(
        {
          label: `soak: ${sizes.soak} requests opened and closed`,
          value: num(performance.now() - t0),
          unit: 'ms',
        },
        { label: `soak: RSS after the first ${sizes.soakRound}`, value: mib(first), unit: 'MiB' },
        { label: 'soak: RSS at the end', value: mib(last), unit: 'MiB' },
        { label: 'soak: growth', value: num(((last - first) / first) * 100, 1), unit: '%' },
        { label: 'soak: RSS after each round', value: rss.map((b) => mib(b)).join(' '), unit: 'MiB' },
        {
          label: 'soak: JS heap used after each round',
          value: heapUsed.map((b) => mib(b)).join(' '),
          unit: 'MiB',
        },
        {
          label: 'soak: JS heap total after each round',
          value: heapTotal.map((b) => mib(b)).join(' '),
          unit: 'MiB',
        },
        {
          label: 'soak: RSS anonymous / file / shmem after each round',
          value: parts.map((p) => `${mib(p.anon)}/${mib(p.file)}/${mib(p.shmem)}`).join(' '),
          unit: 'MiB',
        },
        ...[...(firstIdle?.rows ?? []), ...(lastIdle?.rows ?? [])].map((row) => ({
          ...row,
          label: `soak: ${row.label.trim()}`,
        })),
        ...(firstIdle === undefined || lastIdle === undefined
          ? []
          : [
              {
                label: 'soak: growth, idle to idle',
                value: num(((lastIdle.rss - firstIdle.rss) / firstIdle.rss) * 100, 1),
                unit: '%',
              },
            ]),
        {
          label: 'soak: requests recorded / without a grant',
          value: `${c.requests} / ${c.noGrant}`,
          unit: '',
        },
        {
          label: 'soak: refused, requester not placed (users.info failed)',
          value: String(soak.refused()),
          unit: '',
        },
        { label: 'soak: POSTs that got no answer (connection failed)', value: String(soak.unsent), unit: '' },
        { label: 'soak: grants by state', value: c.byState, unit: '' },
        {
          label: 'soak: closed before they opened (time ran out opening)',
          value: String(c.endedUnopened),
          unit: '',
        },
      );
      const warned = soak.problems();
      if (warned !== '') rows.push({ label: 'soak: bot log, warn and above', value: warned, unit: '' });
      await soak.stop(bot);
    });
  } finally {
    await soak.close();
  }
}
