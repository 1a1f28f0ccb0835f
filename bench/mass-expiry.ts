import { GRANT_MS } from './batch-expiry';
import { BenchClock } from './bench-clock';
import { addresses, type BenchStack, pool, startBenchStack } from './stack';
import { num, type Row } from './stats';

/** Real time between letting the clock go and the shared expiry: the timer is armed, not already late. */
const LEAD_MS = 300;
/** Opens in flight at once (the rate limit is lifted while they open). */
const CONCURRENCY = 16;
/** EC2's latency per call (real EC2 answers a revoke in tens to hundreds of milliseconds). */
const EC2_LATENCY_MS = 50;
/** How long a run may take before the grants still open are counted as lost. */
const DEADLINE_MS = 90_000;
/** How often the run looks whether everything is closed. */
const POLL_MS = 100;

export type MassSizes = {
  /** Grants sharing one `expires_at`. */
  readonly count: number;
  /** Security groups they are spread over (the stack's). */
  readonly groups: number;
  /** EC2's rate limit for the account, calls per second. */
  readonly perSecond: number;
};

type Variant = {
  readonly name: string;
  /** The bucket: `burst` calls at once, refilled at `perSecond − background` a second for hallpass. */
  readonly burst: number;
  readonly background: number;
};

type MassResult = {
  /** From the shared `expires_at` to the last grant's `ended_at`, or NaN when some never closed. */
  readonly allClosedMs: number;
  /** From the shared `expires_at` to the first and the last revoke EC2 accepted. */
  readonly firstRevokeMs: number;
  readonly lastRevokeMs: number;
  readonly revokeCalls: number;
  readonly revokesAccepted: number;
  readonly throttled: number;
  /** Most EC2 calls (of every action, refused ones included) that arrived in any one second. */
  readonly maxPerSecond: number;
  readonly lost: number;
};

/**
 * Issue 15's mass expiry: `count` grants sharing one `expires_at` on `groups` security groups, EC2
 * metering the account at `perSecond` calls a second and answering `RequestLimitExceeded` beyond. Two
 * runs on one stack: the account's budget free (the bucket starts full), then almost all of it taken
 * by other tools (`background`) with no burst to spare, so closing needs more calls than EC2 allows at
 * once and shows whether a throttled close backs off or hammers.
 */
export async function measureMassExpiry(sizes: MassSizes): Promise<Row[]> {
  const clock = new BenchClock();
  const stack = await startBenchStack({ clock, groups: sizes.groups });
  const variants: Variant[] = [
    { name: 'budget free', burst: sizes.perSecond, background: 0 },
    // Half a call a second left: the four groups' revokes alone need more than EC2 allows in 2 s.
    { name: 'throttled', burst: 1, background: sizes.perSecond - 0.5 },
  ];
  const rows: Row[] = [
    {
      label: 'setup',
      value: `${sizes.count} grants, ${sizes.groups} groups`,
      unit: `EC2 ${sizes.perSecond} calls/s, ${EC2_LATENCY_MS} ms latency`,
    },
  ];
  try {
    for (const [i, variant] of variants.entries()) {
      const r = await runOnce(stack, clock, sizes, variant, i + 1);
      const label = (what: string) => `${variant.name}: ${what}`;
      rows.push(
        {
          label: label('bucket'),
          value: `burst ${variant.burst}`,
          unit: `${sizes.perSecond - variant.background} calls/s left to hallpass`,
        },
        {
          label: label('all closed after expires_at'),
          value: Number.isNaN(r.allClosedMs) ? 'never' : num(r.allClosedMs, 0),
          unit: 'ms',
        },
        {
          label: label('revokes accepted, first / last'),
          value: `${num(r.firstRevokeMs, 0)} / ${num(r.lastRevokeMs, 0)}`,
          unit: 'ms',
        },
        {
          label: label('revoke calls'),
          value: String(r.revokeCalls),
          unit: `(${r.revokesAccepted} accepted)`,
        },
        { label: label('calls throttled'), value: String(r.throttled), unit: '' },
        { label: label('max EC2 calls in one second'), value: String(r.maxPerSecond), unit: '' },
        { label: label('grants lost (open at the deadline)'), value: String(r.lost), unit: '' },
      );
    }
  } finally {
    await stack.close();
  }
  return rows;
}

async function runOnce(
  stack: BenchStack,
  clock: BenchClock,
  sizes: MassSizes,
  variant: Variant,
  block: number,
): Promise<MassResult> {
  const { ec2 } = stack;
  ec2.setRateLimit(undefined);
  ec2.setLatency(0);
  const startsAt = clock.pin();
  const expiresAt = new Date(startsAt.getTime() + GRANT_MS);
  const submitted = await pool(
    addresses(sizes.count, block).map((ip, i) => ({ ip, group: i % stack.groups })),
    CONCURRENCY,
    ({ ip, group }) => stack.submit(ip, GRANT_MS, { group }),
  );
  // What the opens sent is delivered first (no warning is due: see GRANT_MS): the expiry arrives alone.
  await stack.settle();

  const firstCall = ec2.calls.length;
  const firstRefused = ec2.throttledCount();
  ec2.setLatency(EC2_LATENCY_MS);
  // The bucket starts full when set: set just before the expiry, as after a quiet spell.
  ec2.setRateLimit({ perSecond: sizes.perSecond, burst: variant.burst, background: variant.background });
  clock.release(expiresAt, LEAD_MS);
  stack.wake();
  const expiryReal = clock.realTimeOf(expiresAt);

  const open = new Set(submitted.map((s) => s.requestId));
  const ended: number[] = [];
  const deadline = Date.now() + DEADLINE_MS;
  while (open.size > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    // Cheap first: while EC2 still holds rules, nothing is worth reading from the database.
    if (stack.ruleOwners().size > 0) continue;
    await stack.idle();
    for (const requestId of [...open]) {
      const grant = await stack.grantOf(requestId);
      if (grant?.state === 'closed' && grant.endedAt !== undefined) {
        ended.push(grant.endedAt.getTime() - grant.expiresAt.getTime());
        open.delete(requestId);
      }
    }
  }
  // At the deadline, whatever EC2 still holds: a grant the database has closed is not lost.
  for (const requestId of [...open]) {
    const grant = await stack.grantOf(requestId);
    if (grant?.state === 'closed') open.delete(requestId);
  }
  const lost = open.size;
  const throttled = ec2.throttledCount() - firstRefused;
  const calls = ec2.calls.slice(firstCall);
  // Let what is still running finish, without limits, so the next run starts clean.
  ec2.setRateLimit(undefined);
  ec2.setLatency(0);
  await stack.idle();

  const revokes = calls.filter((c) => c.action === 'RevokeSecurityGroupIngress');
  const accepted = revokes.filter((c) => c.throttled !== true);
  return {
    allClosedMs: lost > 0 || ended.length < submitted.length ? Number.NaN : Math.max(...ended),
    firstRevokeMs: Math.min(...accepted.map((c) => c.at.getTime() - expiryReal)),
    lastRevokeMs: Math.max(...accepted.map((c) => c.at.getTime() - expiryReal)),
    revokeCalls: revokes.length,
    revokesAccepted: accepted.length,
    throttled,
    maxPerSecond: maxInOneSecond(calls.map((c) => c.at.getTime())),
    lost,
  };
}

/** The most of `times` (milliseconds) that fall in any window of one second. */
function maxInOneSecond(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] ?? 0) - (sorted[start] ?? 0) >= 1000) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}
