import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks';
import { createTestDatabase, dropTestDatabase, printable } from '../tests/support/postgres';
import { type BatchResult, runBatchExpiry } from './batch-expiry';
import { BenchClock } from './bench-clock';
import { addresses, type BenchStack, pool, startBenchStack } from './stack';
import { num, type Row, tailRows } from './stats';

/** Opens in flight at once while a spread is opened (the clock is pinned meanwhile, so nothing expires). */
const CONCURRENCY = 16;
/** The first expiry of a spread comes this long (real time) after the clock is let go: timers are armed, not late. */
const LEAD_MS = 2_000;
/** Shortest grant of a spread: longer than any opening takes, though the pinned clock makes that moot. */
const FIRST_MS = 60_000;

/** How a spread of expiries went: lateness of each revoke behind its grant's `expires_at`. */
export type SpreadResult = {
  readonly count: number;
  readonly spreadMs: number;
  readonly openMs: number;
  /** Per grant: real arrival of its revoke at EC2 − its `expires_at` (ms). */
  readonly revokeLateness: readonly number[];
  /** Per grant: `ended_at` (recorded once EC2 confirmed) − `expires_at` (ms). */
  readonly endedLateness: readonly number[];
  readonly revokeCalls: number;
  /** Grants each replica closed. */
  readonly closedBy: readonly number[];
  /** This process's event-loop delay while the expiries ran (ms): every replica shares the one loop. */
  readonly loopDelay: { readonly p99: number; readonly max: number };
};

/**
 * `count` grants, opened first (clock pinned), whose `expires_at` are spread evenly over `spreadMs`;
 * then time runs at its real rate and every replica's timers close them as they come due, while the
 * others are still open: the steady state of a busy deployment. Real timers, real EC2 adapter.
 */
export async function runSpreadExpiry(
  stack: BenchStack,
  clock: BenchClock,
  count: number,
  spreadMs: number,
): Promise<SpreadResult> {
  const closedBefore = stack.closedBy();
  const baseRules = stack.revokes.rulesSeen();
  const baseCalls = stack.revokes.seen.length;
  const startsAt = clock.pin();
  const openedFrom = Date.now();
  const grants = addresses(count, 40).map((ip, i) => ({
    ip,
    durationMs: FIRST_MS + Math.floor((i * spreadMs) / count),
  }));
  const submitted = await pool(grants, CONCURRENCY, (g, i) =>
    stack.submit(g.ip, g.durationMs, { group: i % stack.groups }),
  );
  const openMs = Date.now() - openedFrom;
  // Read the rule ids now: the fake forgets a rule once it is revoked.
  const owners = stack.ruleOwners();

  clock.release(new Date(startsAt.getTime() + FIRST_MS), LEAD_MS);
  stack.wake();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  // Garbage collections longer than 20 ms, in real time (for the timeline): every replica shares one heap.
  const pauses: [number, number][] = [];
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.duration >= 20) pauses.push([performance.timeOrigin + e.startTime, e.duration]);
    }
  });
  gc.observe({ entryTypes: ['gc'] });
  await stack.revokes.waitFor(baseRules + count, spreadMs + LEAD_MS + 120_000);
  loop.disable();
  gc.disconnect();
  await stack.idle();

  const revokedAt = new Map<string, number>();
  for (const [ruleId, at] of stack.revokes.byRule()) {
    const grantId = owners.get(ruleId);
    if (grantId !== undefined) revokedAt.set(grantId, at);
  }
  const revokeLateness: number[] = [];
  const endedLateness: number[] = [];
  const grantsExpiry: number[] = [];
  for (const { requestId } of submitted) {
    const grant = await stack.grantOf(requestId);
    if (grant?.endedAt === undefined || grant.state !== 'closed') {
      throw new Error(`grant of ${requestId} is ${grant?.state ?? 'missing'}, not closed`);
    }
    const at = revokedAt.get(grant.id);
    if (at === undefined) throw new Error(`no revoke seen for grant ${grant.id}`);
    revokeLateness.push(at - clock.realTimeOf(grant.expiresAt));
    grantsExpiry.push(clock.realTimeOf(grant.expiresAt));
    endedLateness.push(grant.endedAt.getTime() - grant.expiresAt.getTime());
  }
  const closedAfter = stack.closedBy();
  writeTimeline(stack, submitted.length, revokeLateness, endedLateness, grantsExpiry, pauses);
  return {
    count,
    spreadMs,
    openMs,
    revokeLateness,
    endedLateness,
    revokeCalls: stack.revokes.seen.length - baseCalls,
    closedBy: closedAfter.map((n, i) => n - (closedBefore[i] ?? 0)),
    loopDelay: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
  };
}

/**
 * With `BENCH_TIMELINE=<file>`: each grant's real expiry and lateness, when EC2 saw each other call
 * (reconciliation's listings above all) and the garbage collections of 20 ms or more, as JSON (ms from
 * the first expiry), to line late closes up with what ran then.
 */
function writeTimeline(
  stack: BenchStack,
  count: number,
  revokeLateness: readonly number[],
  endedLateness: readonly number[],
  expiries: readonly number[],
  pauses: readonly (readonly [number, number])[],
): void {
  const file = process.env['BENCH_TIMELINE'];
  if (file === undefined || file === '') return;
  const from = Math.min(...expiries);
  const calls = stack.ec2.calls
    .filter((c) => c.action !== 'RevokeSecurityGroupIngress' && c.at.getTime() >= from - 60_000)
    .map((c) => [c.at.getTime() - from, c.action]);
  const grants = Array.from({ length: count }, (_, i) => [
    (expiries[i] ?? 0) - from,
    revokeLateness[i],
    endedLateness[i],
  ]);
  const gc = pauses.map(([at, ms]) => [at - from, ms]);
  // `from`: the first expiry in real time (ms since the epoch), to line the timeline up with other logs.
  writeFileSync(file, JSON.stringify({ from, grants, calls, gc }));
}

const spreadRows = (r: SpreadResult): Row[] => [
  {
    label: `grants, expiries spread over ${r.spreadMs < 120_000 ? `${num(r.spreadMs / 1_000, 0)} s` : `${num(r.spreadMs / 60_000, 0)} min`}`,
    value: String(r.count),
    unit: `grants (${num((r.count * 1000) / r.spreadMs, 1)}/s)`,
  },
  { label: `time to open them (${CONCURRENCY} in flight)`, value: num(r.openMs / 1000, 1), unit: 's' },
  ...tailRows('EC2 saw Revoke − expires_at', r.revokeLateness, 'ms'),
  ...tailRows('ended_at − expires_at', r.endedLateness, 'ms'),
  {
    label: 'revokes later than 100 ms',
    value: String(r.revokeLateness.filter((ms) => ms > 100).length),
    unit: 'grants',
  },
  { label: 'RevokeSecurityGroupIngress calls', value: String(r.revokeCalls), unit: 'calls' },
  { label: 'grants closed by each replica', value: r.closedBy.join(' / '), unit: '' },
  {
    label: 'event-loop delay p99 / max (one loop for every replica)',
    value: `${num(r.loopDelay.p99, 0)} / ${num(r.loopDelay.max, 0)}`,
    unit: 'ms',
  },
];

const batchRows = (r: BatchResult): Row[] => [
  {
    label: 'grants sharing one expires_at',
    value: String(r.count),
    unit: `grants (on ${r.groups} security groups)`,
  },
  { label: 'time to open them (16 in flight)', value: num(r.openMs / 1000, 1), unit: 's' },
  { label: 'expiry → first revoke', value: num(r.firstRevokeMs, 0), unit: 'ms' },
  { label: 'expiry → last revoke', value: num(r.lastRevokeMs, 0), unit: 'ms' },
  { label: 'max ended_at − expires_at', value: num(r.lastEndedMs, 0), unit: 'ms' },
  { label: 'RevokeSecurityGroupIngress calls', value: String(r.revokeCalls), unit: 'calls' },
];

export type EngineSizes = {
  readonly spreadCount: number;
  readonly spreadMs: number;
  readonly batchCount: number;
  readonly replicas: number;
  /** Security groups the stream's grants are spread over (the batch is all on one). */
  readonly groups: number;
};

/** Both measurements on one stack: the spread first, then the batch (on a table holding the spread's closed grants). */
async function measureOn(stack: BenchStack, clock: BenchClock, sizes: EngineSizes): Promise<Row[]> {
  const spread = await runSpreadExpiry(stack, clock, sizes.spreadCount, sizes.spreadMs);
  stack.revokes.reset();
  stack.slack.reset();
  const batch = await runBatchExpiry(stack, clock, sizes.batchCount, 60);
  return [
    {
      label: 'replicas (hallpass instances in this process)',
      value: String(stack.replicas.length),
      unit: '',
    },
    ...spreadRows(spread),
    ...batchRows(batch),
  ];
}

/**
 * Figures 8 and 9: expiry lateness under a steady stream of expiries, and a burst of grants sharing one
 * `expires_at` — on PostgreSQL with `sizes.replicas` replicas (one database created for the run on the
 * server of `HALLPASS_BENCH_DATABASE_URL`, else `HALLPASS_TEST_DATABASE_URL`, and dropped afterwards),
 * and on SQLite with one instance.
 */
export async function measurePostgresReplicas(sizes: EngineSizes): Promise<Row[]> {
  const server =
    process.env['HALLPASS_BENCH_DATABASE_URL'] ||
    process.env['HALLPASS_TEST_DATABASE_URL'] ||
    'postgres://postgres@127.0.0.1:5432/postgres';
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  try {
    database = await createTestDatabase(server);
  } catch (e) {
    return [
      {
        label: 'skipped',
        value: `no PostgreSQL at ${printable(server)} (${e instanceof Error ? e.message : String(e)}); set HALLPASS_BENCH_DATABASE_URL`,
        unit: '',
        note: true,
      },
    ];
  }
  try {
    const clock = new BenchClock();
    const stack = await startBenchStack({
      clock,
      db: database.url,
      replicas: sizes.replicas,
      groups: sizes.groups,
    });
    try {
      return await measureOn(stack, clock, sizes);
    } finally {
      await stack.close();
    }
  } finally {
    await dropTestDatabase(database, server);
  }
}

/** The same two measurements on SQLite, one instance. */
export async function measureSqliteOne(sizes: EngineSizes): Promise<Row[]> {
  const clock = new BenchClock();
  const stack = await startBenchStack({ clock, groups: sizes.groups });
  try {
    return await measureOn(stack, clock, sizes);
  } finally {
    await stack.close();
  }
}
