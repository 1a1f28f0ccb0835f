/**
 * `npm run bench`: prints figures for the running bot — how late expiry fires, how fast a batch of
 * grants closes, how fast Slack gets its ack, memory per grant, and the cost of the scheduler's
 * queries; then both engines side by side (PostgreSQL with three replicas, SQLite with one instance).
 * Figures only: nothing here passes or fails on time. Every database lives in a temporary directory
 * (SQLite) or a database created for the run (PostgreSQL) that is removed afterwards.
 *
 * `npm run bench -- engines` (or any of the section names below) runs only those sections;
 * `engines` is both engines, `engines-postgres` and `engines-sqlite` one each.
 * `npm run bench` is the quick run, under five minutes on two cores; `HALLPASS_BENCH_FULL=1` runs the
 * targets' workloads (about 45 minutes): the engines' expiry stream with 10,000 grants over ten minutes on
 * 20 groups (300 over 15 s on 4 otherwise, about the same rate) and 1,000 grants sharing one expires_at
 * after it (250), the real process (`process`) with 10,000 active grants and a 50,000-request soak (500
 * and none otherwise), 2,000 grants for memory per grant (500), a 100,000-event audit log (20,000) and
 * Slack's 429s asking to wait 20 s (5 s), and mass expiry with 1,000 grants (500). `BENCH_NODE_OPTIONS` replaces the
 * process's NODE_OPTIONS (npm start's by default; '' for Node's own), `BENCH_BOT_ENV='NAME=value …'` adds to
 * its environment (e.g. `MALLOC_ARENA_MAX=2`), `BENCH_KEEP=1` keeps its directory, `BENCH_RESTARTS=N`
 * restarts it N times with its grants live, `BENCH_HEAP_SNAPSHOTS=1` has its soak write heap snapshots
 * (see docs/benchmarks.md; bench/restart.ts restarts a kept directory alone). PostgreSQL is the server of
 * `HALLPASS_BENCH_DATABASE_URL` (else `HALLPASS_TEST_DATABASE_URL`, else postgres://postgres@127.0.0.1:5432/postgres).
 * `BENCH_TIMELINE=<file>` writes the expiry stream's timeline as JSON (each grant's expiry and lateness,
 * EC2's other calls, garbage collections), to line late closes up with what ran then.
 */
import { cpus, platform, release, totalmem } from 'node:os';
import { measureAckAgainstMinimal } from './ack-latency';
import { measureApproveToOpen } from './approve-open';
import { measureAuditChain } from './audit-chain';
import { measureClosesAndMemory } from './closes-and-memory';
import { type EngineSizes, measurePostgresReplicas, measureSqliteOne } from './engines';
import { measureExpiryLateness } from './expiry-lateness';
import { measureMassExpiry } from './mass-expiry';
import { measureProcess, type ProcessSizes } from './process';
import { measureCloseLatenessUnderSlackFaults } from './slack-faults';
import { measureSqliteStore } from './sqlite-store';
import { formatTable, mib, type Row } from './stats';

const FULL = process.env['HALLPASS_BENCH_FULL'] === '1';
/**
 * A size for the quick run (`npm run bench`: every section in under five minutes on two cores, figures
 * to compare one change with the last) or the full one (`HALLPASS_BENCH_FULL=1`: issue 15's and issue
 * 12's workloads, the figures the targets are judged on; about 45 minutes).
 */
const size = (quick: number, full: number): number => (FULL ? full : quick);
const EXPIRY_GRANTS = 50;
const BATCH_GRANTS = 500;
const MEMORY_GRANTS = size(500, 2_000);
const ACK_REQUESTS = 400;
const APPROVALS = 50;
const CLOSED_ROWS = 100_000;
const ACTIVE_ROWS = 1_000;
const SLACK_FAULT_GRANTS = 20;
/** What Slack's 429s in the Slack-faults section ask to wait, in seconds. */
const SLACK_RETRY_AFTER_S = size(5, 20);
const AUDIT_EVENTS = size(20_000, 100_000);
/**
 * Issue 15's mass expiry: a thousand grants sharing one `expires_at` on a few groups, EC2 at 20 calls/s
 * (500 in the quick run: opening them twice was a fifth of it; the close is the same few batch calls).
 */
const MASS = { count: size(500, 1_000), groups: 4, perSecond: 20 } as const;
/** The expiry stream runs at about 17–20 closes a second in both: 300 over 15 s, or 10,000 over 10 min. */
const ENGINES: EngineSizes = {
  spreadCount: size(300, 10_000),
  spreadMs: size(15, 600) * 1_000,
  batchCount: size(250, 1_000),
  replicas: 3,
  // EC2 holds at most 1,000 rules per group (60 by default): thousands of grants at once are on several.
  groups: size(4, 20),
};

const sizeFrom = (name: string, otherwise: number): number => {
  const v = process.env[name];
  return v === undefined || v === '' ? otherwise : Number(v);
};
/** `BENCH_PROCESS_ACTIVE` / `BENCH_PROCESS_SOAK` override the sizes (0 skips that phase). */
const PROCESS: ProcessSizes = {
  active: sizeFrom('BENCH_PROCESS_ACTIVE', size(500, 10_000)),
  // The soak's figure is growth over many rounds: the quick run has no time for it.
  soak: sizeFrom('BENCH_PROCESS_SOAK', size(0, 50_000)),
  soakRound: 1_000,
  idleMs: size(10_000, 20_000),
};

function machine(): Row[] {
  const cpu = cpus();
  return [
    { label: 'node', value: process.version, unit: '' },
    { label: 'platform', value: `${platform()} ${release()}`, unit: '' },
    { label: 'cpus', value: String(cpu.length), unit: `× ${cpu[0]?.model.trim() ?? 'unknown'}` },
    { label: 'memory', value: mib(totalmem()), unit: 'MiB' },
  ];
}

async function section(title: string, measure: () => Promise<Row[]> | Row[]): Promise<void> {
  const started = Date.now();
  const rows = await measure();
  console.log(`${formatTable(`${title}  (${((Date.now() - started) / 1000).toFixed(1)} s)`, rows)}\n`);
}

/** Every section, by the name `npm run bench -- <name> …` selects it with. */
const SECTIONS: readonly {
  name: string;
  /** A name that selects this section along with others (`engines`: both engines). */
  group?: string;
  title: string;
  measure: () => Promise<Row[]> | Row[];
}[] = [
  {
    name: 'expiry',
    title: '1. Expiry lateness (system clock, real timers, real scheduler)',
    measure: () => measureExpiryLateness(EXPIRY_GRANTS),
  },
  {
    name: 'closes',
    title: '2 + 4. Close throughput and memory (one shared expires_at per batch)',
    measure: () => measureClosesAndMemory(BATCH_GRANTS, MEMORY_GRANTS),
  },
  {
    name: 'ack',
    title: '3. Slash command and Approve click → ack, against a minimal Bolt app in the same runs',
    measure: () => measureAckAgainstMinimal(ACK_REQUESTS),
  },
  {
    name: 'approve',
    title: '3b. Approve click → rule open in EC2 (EC2 stand-in at 50 ms a call)',
    measure: () => measureApproveToOpen(APPROVALS),
  },
  {
    name: 'sqlite',
    title: '5. SQLite store: the scheduler queries',
    measure: () => measureSqliteStore(CLOSED_ROWS, ACTIVE_ROWS),
  },
  {
    name: 'slack',
    title: '6. Close lateness while Slack misbehaves (EC2 saw Revoke − expires_at)',
    measure: () => measureCloseLatenessUnderSlackFaults(SLACK_FAULT_GRANTS, SLACK_RETRY_AFTER_S),
  },
  {
    name: 'audit',
    title: '7. Audit log: verifying the chain, and the tables against it (start-up, verify, exports)',
    measure: () => measureAuditChain(AUDIT_EVENTS),
  },
  {
    name: 'engines-postgres',
    group: 'engines',
    title: `8. PostgreSQL, ${ENGINES.replicas} replicas in one process: a stream of expiries, then ${ENGINES.batchCount} sharing one expires_at`,
    measure: () => measurePostgresReplicas(ENGINES),
  },
  {
    name: 'engines-sqlite',
    group: 'engines',
    title: `9. SQLite, one instance: the same stream of expiries, then ${ENGINES.batchCount} sharing one expires_at`,
    measure: () => measureSqliteOne(ENGINES),
  },
  {
    name: 'mass',
    title: `10. Mass expiry: ${MASS.count} grants sharing one expires_at on ${MASS.groups} groups, EC2 at ${MASS.perSecond} calls/s, throttling beyond`,
    measure: () => measureMassExpiry(MASS),
  },
  {
    name: 'process',
    title: `11. The real process (node dist/main.js, SQLite): RSS with ${PROCESS.active} active grants, restart, a ${PROCESS.soak}-request soak, npm start`,
    measure: () => measureProcess(PROCESS),
  },
];

async function main(): Promise<void> {
  const started = Date.now();
  const only = process.argv.slice(2);
  const selects = (s: (typeof SECTIONS)[number], name: string) => s.name === name || s.group === name;
  const unknown = only.filter((name) => !SECTIONS.some((s) => selects(s, name)));
  if (unknown.length > 0) {
    const names = new Set(SECTIONS.flatMap((s) => (s.group === undefined ? [s.name] : [s.group, s.name])));
    throw new Error(`no section ${unknown.join(', ')}: use ${[...names].join(', ')}`);
  }
  console.log(`${formatTable('hallpass benchmarks — machine', machine())}\n`);
  for (const s of SECTIONS) {
    if (only.length === 0 || only.some((name) => selects(s, name))) await section(s.title, s.measure);
  }
  console.log(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
