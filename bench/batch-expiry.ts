import type { BenchClock } from './bench-clock';
import { addresses, type BenchStack, pool } from './stack';

/**
 * The grants' length: under twice the policy's `warnBefore` (5 minutes by default), so no warning is due.
 * Warnings go out minutes before an end and had settled before the shared expiry anyway: sending a
 * batch's worth of them only made the run longer, never changed a figure.
 * The clock is pinned while a batch opens, so nothing expires meanwhile whatever the length.
 */
export const GRANT_MS = 9 * 60_000;
/** Real time between letting the clock go and the shared expiry: the timer is armed, not already late. */
const LEAD_MS = 300;
/** Opens in flight at once; the security-group lock serializes the EC2 calls, Slack calls overlap. */
const CONCURRENCY = 16;

export type BatchResult = {
  readonly count: number;
  /** Security groups the batch is spread over. */
  readonly groups: number;
  /** Real time to open the batch. */
  readonly openMs: number;
  /** From the shared expiry instant to the first and the last revoke EC2 received. */
  readonly firstRevokeMs: number;
  readonly lastRevokeMs: number;
  /** The largest `ended_at − expires_at` in the batch. */
  readonly lastEndedMs: number;
  /** RevokeSecurityGroupIngress calls EC2 received for the batch (one call may revoke many rules). */
  readonly revokeCalls: number;
};

/**
 * Opens `count` grants that all carry the same `expires_at` (the clock is pinned while they open),
 * then lets time run so that instant arrives `LEAD_MS` later, and waits for every revoke.
 */
export async function runBatchExpiry(
  stack: BenchStack,
  clock: BenchClock,
  count: number,
  block: number,
): Promise<BatchResult> {
  const base = stack.revokes.seen.length;
  const baseRules = stack.revokes.rulesSeen();
  const startsAt = clock.pin();
  const expiresAt = new Date(startsAt.getTime() + GRANT_MS);
  const openedFrom = Date.now();
  // Spread over the stack's security groups (a few, as a deployment has): each is one batch.
  const submitted = await pool(
    addresses(count, block).map((ip, i) => ({ ip, group: i % stack.groups })),
    CONCURRENCY,
    ({ ip, group }) => stack.submit(ip, GRANT_MS, { group }),
  );
  const openMs = Date.now() - openedFrom;

  // What the opens sent (cards, notices) is delivered first: the expiry arrives alone, as it would.
  await stack.settle();
  clock.release(expiresAt, LEAD_MS);
  // Re-arm from the released clock (the timer armed while pinned was for GRANT_MS of real time).
  stack.wake();
  const expiryReal = clock.realTimeOf(expiresAt);
  await stack.revokes.waitFor(baseRules + count, 120_000);
  await stack.idle();

  const seen = stack.revokes.seen.slice(base).map((s) => s.at - expiryReal);
  let lastEndedMs = Number.NEGATIVE_INFINITY;
  for (const { requestId } of submitted) {
    const grant = await stack.grantOf(requestId);
    if (grant?.endedAt === undefined || grant.state !== 'closed') {
      throw new Error(`grant of ${requestId} is ${grant?.state ?? 'missing'}, not closed`);
    }
    if (grant.expiresAt.getTime() !== expiresAt.getTime()) throw new Error('grants do not share one expiry');
    lastEndedMs = Math.max(lastEndedMs, grant.endedAt.getTime() - grant.expiresAt.getTime());
  }
  return {
    count,
    groups: stack.groups,
    openMs,
    firstRevokeMs: Math.min(...seen),
    lastRevokeMs: Math.max(...seen),
    lastEndedMs,
    revokeCalls: seen.length,
  };
}
