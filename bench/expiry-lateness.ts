import { addresses, startBenchStack } from './stack';
import { type Row, summarize, summaryRows } from './stats';

/** Shortest and longest grant: long enough to open them all first, short enough to keep the run quick. */
const MIN_DURATION_MS = 1_000;
const MAX_DURATION_MS = 3_000;

/**
 * Figure 1: how late, in real milliseconds, expiry fires. The real stack on the system clock and
 * real timers; `count` auto-approved grants of 1–3 s, their expiries spread evenly over two seconds
 * so each close meets an idle scheduler (this measures the timer and one close, not a queue).
 * For each grant: `ended_at − expires_at` (recorded by hallpass once EC2 confirmed the revoke) and
 * the moment the fake EC2 received the revoke minus `expires_at`.
 */
export async function measureExpiryLateness(count: number): Promise<Row[]> {
  const stack = await startBenchStack();
  try {
    const ips = addresses(count, 1);
    const requests: string[] = [];
    const owners = new Map<string, string>();
    const openedFrom = Date.now();
    for (const [i, ip] of ips.entries()) {
      const spread = count > 1 ? ((MAX_DURATION_MS - MIN_DURATION_MS) * i) / (count - 1) : 0;
      const { requestId } = await stack.submit(ip, Math.round(MIN_DURATION_MS + spread));
      requests.push(requestId);
      // Read the rule ids now: the fake forgets a rule once it is revoked.
      for (const [ruleId, grantId] of stack.ruleOwners()) owners.set(ruleId, grantId);
    }
    const openedUntil = Date.now();

    await stack.revokes.waitFor(count, MAX_DURATION_MS + 30_000);
    await stack.hallpass.scheduler.idle();

    const revokedAt = new Map<string, number>();
    for (const [ruleId, at] of stack.revokes.byRule()) {
      const grantId = owners.get(ruleId);
      if (grantId !== undefined) revokedAt.set(grantId, at);
    }
    const ended: number[] = [];
    const revoked: number[] = [];
    let duringOpening = 0;
    for (const requestId of requests) {
      const grant = await stack.grantOf(requestId);
      if (grant?.endedAt === undefined || grant.state !== 'closed') {
        throw new Error(`grant of ${requestId} is ${grant?.state ?? 'missing'}, not closed`);
      }
      const expires = grant.expiresAt.getTime();
      if (expires < openedUntil) duringOpening += 1;
      ended.push(grant.endedAt.getTime() - expires);
      const at = revokedAt.get(grant.id);
      if (at === undefined) throw new Error(`no revoke seen for grant ${grant.id}`);
      revoked.push(at - expires);
    }
    return [
      { label: 'grants (distinct /32, 1–3 s each)', value: String(count), unit: 'grants' },
      { label: 'time to open them all (sequential)', value: String(openedUntil - openedFrom), unit: 'ms' },
      { label: 'of which expired while others were opening', value: String(duringOpening), unit: 'grants' },
      ...summaryRows('EC2 saw Revoke − expires_at', summarize(revoked), 'ms', 0),
      ...summaryRows('ended_at − expires_at', summarize(ended), 'ms', 0),
    ];
  } finally {
    await stack.close();
  }
}
