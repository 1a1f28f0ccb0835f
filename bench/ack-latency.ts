import { ACTION } from '../src/adapters/slack/ids';
import { blockActionsBody, buttonClick, slashCommandBody } from '../tests/support/slack-signing';
import { type HttpLoad, startHttpLoad } from './http-load';
import { type MinimalBolt, startMinimalBolt } from './minimal-bolt';
import {
  APPROVAL_RESOURCE_ID,
  APPROVER,
  addresses,
  type BenchStack,
  BOT_TOKEN,
  CHANNEL,
  SIGNING_SECRET,
  startBenchStack,
} from './stack';
import { num, percentile, type Row } from './stats';

/** Runs of the whole comparison; the figures are the median run's, the spread says how noisy they were. */
const RUNS = 3;
/** Each run's requests per app and kind are sent in this many rounds, the apps taking turns first. */
const ROUNDS = 8;
/** Requests in flight at once, as when a channel's worth of people act together. */
const IN_FLIGHT = 20;
/** Requests per app and kind sent before each run's figures (JIT, connections, the first directory reads). */
const WARMUP = 20;

type Kind = 'slash' | 'button';
type Target = 'minimal' | 'hallpass';
type Samples = Record<Target, Record<Kind, number[]>>;

/** The Approve button's value (the request id) in each of the channel's approval cards, by request id → card ts. */
function cardsIn(stack: BenchStack): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (v: unknown, ts: string): void => {
    if (v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (const item of v) walk(item, ts);
      return;
    }
    const o = v as Record<string, unknown>;
    const value = o['value'];
    if (o['action_id'] === ACTION.approveRequest && typeof value === 'string') out.set(value, ts);
    else for (const item of Object.values(o)) walk(item, ts);
  };
  for (const m of stack.slack.messages(CHANNEL)) walk(m.blocks, m.ts);
  return out;
}

/** One round's requests from `tag` on: each `/access` asks for the approval resource, by its own person. */
const slashBodies = (tag: string, ips: readonly string[], responseUrl: string): string[] =>
  ips.map((ip, i) =>
    slashCommandBody({
      user_id: `U${tag}${String(i).padStart(3, '0')}`,
      text: `${APPROVAL_RESOURCE_ID} 30m from ${ip} ack benchmark`,
      channel_id: CHANNEL,
      response_url: responseUrl,
    }),
  );

const clickBody = (requestId: string, messageTs: string, responseUrl: string): string =>
  blockActionsBody(
    buttonClick({
      userId: APPROVER,
      actionId: ACTION.approveRequest,
      value: requestId,
      channel: CHANNEL,
      messageTs,
      responseUrl,
    }),
  );

/** The clicks that approve every request asked since `before` (cards posted since), oldest first. */
function newCards(stack: BenchStack, before: ReadonlySet<string>): string[] {
  const cards = cardsIn(stack);
  return [...cards.entries()]
    .filter(([id]) => !before.has(id))
    .map(([id, ts]) => clickBody(id, ts, stack.slack.responseUrl()));
}

/**
 * One run: a fresh hallpass (SQLite, the EC2 and Slack stand-ins) and a fresh minimal Bolt app, in this
 * process; the requests come from a thread of their own (see `startHttpLoad`). Each of the `ROUNDS` rounds sends each app `count / ROUNDS` slash commands, then as many
 * Approve clicks, `IN_FLIGHT` at a time; the apps take turns going first. hallpass's commands ask for
 * access to a resource behind an approval (a request stored, its card posted behind the ack) and its
 * clicks approve those requests (a rule opened in EC2 behind the ack). Between batches everything behind
 * the acks is let finish, so neither app is timed while the other's work runs.
 */
async function run(runNo: number, count: number, load: HttpLoad): Promise<Samples> {
  const stack = await startBenchStack({ approval: true });
  const minimal: MinimalBolt = await startMinimalBolt({
    signingSecret: SIGNING_SECRET,
    botToken: BOT_TOKEN,
    apiUrl: stack.slack.apiUrl,
  });
  const ips = addresses(WARMUP + count, 20 + runNo);
  const samples: Samples = { minimal: { slash: [], button: [] }, hallpass: { slash: [], button: [] } };
  const settle = async () => {
    await stack.settle();
    await minimal.settled();
  };
  const batch = async (target: Target, kind: Kind, bodies: readonly string[], keep: boolean) => {
    const url = target === 'minimal' ? minimal.url : stack.url;
    const times = await load.post(url, bodies, SIGNING_SECRET, IN_FLIGHT);
    if (keep) samples[target][kind].push(...times);
    await settle();
  };
  /** Both kinds for one app: the commands, then the clicks on the cards they made (hallpass's). */
  const both = async (target: Target, tag: string, slice: readonly string[], keep: boolean) => {
    const seen = new Set(cardsIn(stack).keys());
    // Private answers go to the stand-in's response_url, as Slack's would (not to a closed port).
    await batch(target, 'slash', slashBodies(tag, slice, stack.slack.responseUrl()), keep);
    const clicks =
      target === 'hallpass'
        ? newCards(stack, seen)
        : slice.map((_, i) =>
            clickBody(`req_minimal${tag}${i}`, '1700000000.000100', stack.slack.responseUrl()),
          );
    if (clicks.length !== slice.length)
      throw new Error(`${clicks.length} cards for ${slice.length} requests`);
    await batch(target, 'button', clicks, keep);
  };
  try {
    await both('minimal', `W${runNo}`, ips.slice(0, WARMUP), false);
    await both('hallpass', `W${runNo}`, ips.slice(0, WARMUP), false);
    const perRound = Math.ceil(count / ROUNDS);
    for (let round = 0; round < ROUNDS; round++) {
      const slice = ips.slice(WARMUP + round * perRound, WARMUP + Math.min(count, (round + 1) * perRound));
      const order: Target[] = round % 2 === 0 ? ['minimal', 'hallpass'] : ['hallpass', 'minimal'];
      for (const target of order) await both(target, `${runNo}R${round}`, slice, true);
    }
    return samples;
  } finally {
    await minimal.close();
    await stack.close();
  }
}

const median = (values: readonly number[]): number => percentile(values, 50);

/**
 * Figure 3, issue 15 part A: slash command and Approve click → ack, hallpass against a minimal Bolt app
 * in the same runs (`RUNS` runs of `count` requests per app and kind, `ROUNDS` interleaved rounds,
 * `IN_FLIGHT` in flight). Per kind: each app's p50 / p90 (the median of the runs' figures), their ratio
 * (the median of the runs' ratios) and the spread of that ratio across runs (min–max).
 */
export async function measureAckAgainstMinimal(count: number): Promise<Row[]> {
  const runs: Samples[] = [];
  const load = startHttpLoad();
  try {
    for (let r = 0; r < RUNS; r++) runs.push(await run(r, count, load));
  } finally {
    await load.close();
  }
  const rows: Row[] = [];
  for (const kind of ['slash', 'button'] as const) {
    const name = kind === 'slash' ? '/access <request>' : 'Approve click';
    for (const p of [50, 90]) {
      const of = (t: Target) => runs.map((s) => percentile(s[t][kind], p));
      const ratios = runs.map((s) => percentile(s.hallpass[kind], p) / percentile(s.minimal[kind], p));
      rows.push(
        {
          label: `${name} → ack p${p}, minimal Bolt app (n=${count}×${RUNS})`,
          value: num(median(of('minimal')), 1),
          unit: `ms  (runs ${of('minimal')
            .map((v) => num(v, 1))
            .join(', ')})`,
        },
        {
          label: `${name} → ack p${p}, hallpass`,
          value: num(median(of('hallpass')), 1),
          unit: `ms  (runs ${of('hallpass')
            .map((v) => num(v, 1))
            .join(', ')})`,
        },
        {
          label: `${name} → ack p${p}, hallpass ÷ minimal`,
          value: num(median(ratios), 2),
          unit: `×  (spread across runs ${num(Math.min(...ratios), 2)}–${num(Math.max(...ratios), 2)}; target ≤ 1.25)`,
        },
      );
    }
  }
  return rows;
}
