import { performance } from 'node:perf_hooks';
import { ACTION } from '../src/adapters/slack/ids';
import type { FakeEc2Call } from '../tests/support/fake-ec2';
import { blockActionsBody, buttonClick, postToApp, slashCommandBody } from '../tests/support/slack-signing';
import {
  APPROVAL_RESOURCE_ID,
  APPROVER,
  addresses,
  type BenchStack,
  CHANNEL,
  SIGNING_SECRET,
  startBenchStack,
} from './stack';
import { num, percentile, type Row } from './stats';

/** What the EC2 stand-in takes over each call: about what EC2 itself takes from inside its region. */
export const EC2_LATENCY_MS = 50;
const WARMUP = 5;

/** Resolves with the `performance.now()` at which the next AuthorizeSecurityGroupIngress is acted on. */
function nextAuthorize(stack: BenchStack): { at: Promise<number>; calls: () => string[] } {
  const calls = stack.ec2.calls;
  const push = calls.push;
  const seen: string[] = [];
  let resolveAt: (at: number) => void = () => {};
  const at = new Promise<number>((resolve) => {
    resolveAt = resolve;
  });
  // The stand-in records a call just before acting on it (after its latency): the rule is open then.
  calls.push = (...items: FakeEc2Call[]): number => {
    const now = performance.now();
    for (const call of items) {
      seen.push(call.action);
      if (call.action === 'AuthorizeSecurityGroupIngress') {
        calls.push = push;
        resolveAt(now);
      }
    }
    return push.apply(calls, items);
  };
  return { at, calls: () => seen };
}

/** The request id and message ts of the newest approval card in the channel. */
function newestCard(stack: BenchStack): { requestId: string; ts: string } {
  const messages = stack.slack.messages(CHANNEL);
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    const requestId =
      m === undefined ? undefined : /"value":"(req_[^"]+)"/.exec(JSON.stringify(m.blocks))?.[1];
    if (m !== undefined && requestId !== undefined) return { requestId, ts: m.ts };
  }
  throw new Error('no approval card was posted');
}

/**
 * Issue 15 part A, figure 2: a signed Approve click → the rule open in EC2, with the EC2 stand-in taking
 * `EC2_LATENCY_MS` over each call. One request at a time on an idle bot (SQLite): each is asked with a
 * signed `/access`, its card posted and everything settled before the click is sent and timed.
 */
export async function measureApproveToOpen(count: number): Promise<Row[]> {
  const stack = await startBenchStack({ approval: true, ec2LatencyMs: EC2_LATENCY_MS });
  try {
    const ips = addresses(WARMUP + count, 40);
    const samples: number[] = [];
    const callsPerApproval: number[] = [];
    for (let i = 0; i < WARMUP + count; i++) {
      // Asked through Slack, as people do: the directory has just read the requester, whose rights the
      // click re-checks (a requester unseen for the directory's five minutes costs a users.info more).
      const asked = await postToApp(
        stack.url,
        slashCommandBody({
          user_id: `UOPEN${String(i).padStart(4, '0')}`,
          text: `${APPROVAL_RESOURCE_ID} 30m from ${ips[i] ?? ''} approve benchmark`,
          channel_id: CHANNEL,
          response_url: stack.slack.responseUrl(),
        }),
        { secret: SIGNING_SECRET },
      );
      if (asked.status !== 200) throw new Error(`/access answered ${asked.status}: ${asked.body}`);
      await stack.settle();
      const card = newestCard(stack);
      const body = blockActionsBody(
        buttonClick({
          userId: APPROVER,
          actionId: ACTION.approveRequest,
          value: card.requestId,
          channel: CHANNEL,
          messageTs: card.ts,
          responseUrl: stack.slack.responseUrl(),
        }),
      );
      const open = nextAuthorize(stack);
      const started = performance.now();
      const res = await postToApp(stack.url, body, { secret: SIGNING_SECRET });
      if (res.status !== 200) throw new Error(`the click answered ${res.status}: ${res.body}`);
      const openedAt = await open.at;
      await stack.settle();
      if (i >= WARMUP) {
        samples.push(openedAt - started);
        callsPerApproval.push(open.calls().length);
      }
    }
    const p50 = percentile(samples, 50);
    const p90 = percentile(samples, 90);
    return [
      { label: `EC2 stand-in latency per call`, value: num(EC2_LATENCY_MS, 0), unit: 'ms' },
      {
        label: `EC2 calls up to the open (median, n=${count})`,
        value: num(percentile(callsPerApproval, 50), 0),
        unit: '',
      },
      { label: `Approve click → rule open p50 (n=${count})`, value: num(p50, 1), unit: 'ms' },
      { label: `Approve click → rule open p90`, value: num(p90, 1), unit: 'ms' },
      {
        label: `  beyond EC2's latency p50 / p90`,
        value: `${num(p50 - EC2_LATENCY_MS, 1)} / ${num(p90 - EC2_LATENCY_MS, 1)}`,
        unit: 'ms  (target ≤ 20)',
      },
    ];
  } finally {
    await stack.close();
  }
}
