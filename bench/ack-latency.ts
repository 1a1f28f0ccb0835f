import { performance } from 'node:perf_hooks';
import { postToApp, slashCommandBody } from '../tests/support/slack-signing';
import { addresses, type BenchStack, CHANNEL, RESOURCE_ID, SIGNING_SECRET, startBenchStack } from './stack';
import { type Row, summarize, summaryRows } from './stats';

const WARMUP = 10;

type Variant = {
  readonly label: string;
  /** The text after `/access` for the `i`-th request. */
  readonly text: (i: number) => string;
  /** Wait for the work behind each ack (the private reply, the queued Slack messages) before sending the next. */
  readonly settle: boolean;
};

/**
 * Posts `WARMUP + count` signed slash commands one at a time and times each from the client's side,
 * from sending to Bolt's HTTP answer (the ack). The first `WARMUP` are not counted (JIT, connection
 * set-up, the first user-group fetch). The stand-ins run in this process, so work behind an ack
 * (Slack posts, EC2 calls, and the stand-ins answering them) shares the event loop with the next request.
 */
async function sample(stack: BenchStack, v: Variant, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + count; i++) {
    const replies = stack.slack.callsTo('response_url').length;
    const body = slashCommandBody({
      user_id: `UBENCH${String(i).padStart(4, '0')}`,
      text: v.text(i),
      channel_id: CHANNEL,
      response_url: stack.slack.responseUrl(),
    });
    const started = performance.now();
    const res = await postToApp(stack.url, body, { secret: SIGNING_SECRET });
    const elapsed = performance.now() - started;
    if (res.status !== 200) throw new Error(`/access answered ${res.status}: ${res.body}`);
    if (i >= WARMUP) samples.push(elapsed);
    if (v.settle) {
      await stack.slack.waitFor((calls) => calls.filter((c) => c.method === 'response_url').length > replies);
      // And the Slack messages queued behind it (the approval card, the notices), sent by the outbox.
      await stack.hallpass.settled();
    }
  }
  // Whatever is still running behind the last acks finishes before the next variant or the stop.
  await stack.slack.waitFor(
    (calls) => calls.filter((c) => c.method === 'response_url').length >= WARMUP + count,
    30_000,
  );
  return samples;
}

/**
 * Figure 3: signed `/access` POST → ack. The main figure is a request that opens a grant, sent to an
 * idle bot; the same request sent back to back (while the previous one is still being opened), and
 * `/access help` (nothing behind the ack) show where the time goes.
 */
export async function measureAckLatency(count: number): Promise<Row[]> {
  const stack = await startBenchStack();
  try {
    const idleIps = addresses(WARMUP + count, 2);
    const busyIps = addresses(WARMUP + count, 3);
    const variants: Variant[] = [
      {
        label: '/access <request> → ack, idle bot',
        text: (i) => `${RESOURCE_ID} 30m from ${idleIps[i] ?? ''} ack benchmark`,
        settle: true,
      },
      {
        label: '/access <request> → ack, back to back',
        text: (i) => `${RESOURCE_ID} 30m from ${busyIps[i] ?? ''} ack benchmark`,
        settle: false,
      },
      { label: '/access help → ack', text: () => 'help', settle: false },
    ];
    const rows: Row[] = [];
    for (const v of variants)
      rows.push(...summaryRows(v.label, summarize(await sample(stack, v, count)), 'ms', 2));
    return rows;
  } finally {
    await stack.close();
  }
}
