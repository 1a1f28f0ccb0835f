import type { SlackFailure } from '../tests/support/slack-stand-in';
import { addresses, startBenchStack } from './stack';
import { num, type Row, summarize } from './stats';

/** What Slack does from just after the grants open until every one of them has closed. */
export type SlackFault = {
  readonly name: string;
  readonly failure?: SlackFailure | 'hang' | 'drop';
  /** Only these Web API methods misbehave (all when absent). */
  readonly methods?: readonly string[];
  /** App Home tabs open (and refreshed on every change) during the run. */
  readonly homeViewers?: number;
};

/** The faults, Slack's 429s asking to wait `retryAfterS` seconds. */
export const slackFaults = (retryAfterS: number): readonly SlackFault[] => [
  { name: 'Slack healthy' },
  {
    name: `429, Retry-After ${retryAfterS} s, every call`,
    failure: { status: 429, retryAfter: retryAfterS },
  },
  { name: '500 on every call', failure: { status: 500 } },
  { name: 'never answers (calls hang)', failure: 'hang' },
  { name: 'connection cut at once', failure: 'drop' },
  {
    name: '429 on views.publish, 40 Home tabs',
    failure: { status: 429, retryAfter: retryAfterS },
    methods: ['views.publish'],
    homeViewers: 40,
  },
];

const MIN_DURATION_MS = 1_000;
const MAX_DURATION_MS = 3_000;

/**
 * Figure 6: close lateness while Slack misbehaves. For each fault: the real stack on the system clock,
 * `count` auto-approved grants of 1–3 s (their ends spread over two seconds), Slack put into the fault
 * once they are open, and for each grant the real moment the fake EC2 received its revoke minus its
 * `expires_at`. Then Slack recovers and the time until every queued message is out is measured from
 * the recovery.
 */
export async function measureCloseLatenessUnderSlackFaults(
  count: number,
  retryAfterS: number,
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const fault of slackFaults(retryAfterS)) {
    const stack = await startBenchStack();
    try {
      for (let i = 0; i < (fault.homeViewers ?? 0); i++) await stack.hallpass.home.publish(`UVIEW${i}`);
      const owners = new Map<string, string>();
      const requests: string[] = [];
      for (const [i, ip] of addresses(count, 7).entries()) {
        const spread = count > 1 ? ((MAX_DURATION_MS - MIN_DURATION_MS) * i) / (count - 1) : 0;
        requests.push((await stack.submit(ip, Math.round(MIN_DURATION_MS + spread))).requestId);
        for (const [ruleId, grantId] of stack.ruleOwners()) owners.set(ruleId, grantId);
      }
      if (fault.failure !== undefined) stack.slack.outage(fault.failure, fault.methods);
      await stack.revokes.waitFor(count, MAX_DURATION_MS + 30_000);
      await stack.hallpass.scheduler.idle();
      const revokedAt = new Map<string, number>();
      for (const [ruleId, at] of stack.revokes.byRule()) {
        const grantId = owners.get(ruleId);
        if (grantId !== undefined) revokedAt.set(grantId, at);
      }
      const late = await Promise.all(
        requests.map(async (requestId) => {
          const grant = await stack.grantOf(requestId);
          const at = grant === undefined ? undefined : revokedAt.get(grant.id);
          if (grant === undefined || at === undefined) throw new Error(`no revoke seen for ${requestId}`);
          return at - grant.expiresAt.getTime();
        }),
      );
      const waiting = await stack.hallpass.useCases.outboxWaiting();
      const recovered = Date.now();
      stack.slack.restore();
      // Slack answers again: queued messages go out at their next attempt (backoff up to 2 minutes).
      await until(async () => (await stack.hallpass.useCases.outboxWaiting()) === 0, 180_000);
      const drained = Date.now() - recovered;
      const s = summarize(late);
      rows.push({
        label: fault.name,
        value: `${num(s.p50, 0)} / ${num(s.p95, 0)} / ${num(s.max, 0)}`,
        unit: `ms late (p50 / p95 / max, n=${s.n}); ${waiting} messages waiting at the last close, all out ${num(drained / 1000, 1)} s after Slack recovered`,
      });
    } finally {
      await stack.close();
    }
  }
  return rows;
}

async function until(done: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`not done within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
