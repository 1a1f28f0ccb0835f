import { HOME_BURST } from '../../src/adapters/slack/home-refresher';
import { FIRST_RETRY_MS } from '../../src/app/deliver-outbox';
import { GROUP_ID, type Harness, REQUESTER, startHarness } from '../support/harness';
import { allText, approvalPosts, dmsTo, lastRequestId, threadPosts } from '../support/slack-queries';
import type { SlackCall } from '../support/slack-stand-in';

/**
 * Issue 8, part 2: Slack's slowness never holds back a close. The AWS side of due work never waits on
 * Slack; a grant closes at its `expires_at` whatever Slack does (429 with Retry-After, 5xx, a call never
 * answered, a cut connection), and so does everything due after it; every notice arrives once, in
 * order, after Slack recovers; Home refreshes never delay a notice.
 *
 * The clock is fake: a close that waited on Slack would still be stamped at `expires_at`, so these tests
 * check instead that the rule is gone from EC2 while Slack is still failing (for a hang: while its calls
 * are still held unanswered), each step bounded in real time so a close stuck behind Slack fails the test
 * rather than hanging it.
 */

const SECOND = 1_000;
const MINUTE = 60_000;
const A = '203.0.113.7';
const B = '198.51.100.20';

/** Resolves with the promise, or after `ms` of real time (a close stuck behind Slack must fail, not hang). */
async function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * Moves the fake clock and lets the scheduler run what came due — without waiting for Slack (unlike
 * `h.advance`, which also waits for deliveries, and so would wait on a Slack that never answers).
 */
async function tick(h: Harness, ms: number): Promise<void> {
  h.clock.advance(ms);
  for (let i = 0; i < 20; i++) {
    await bounded(h.hallpass.scheduler.idle(), 3_000);
    const next = h.clock.nextTimerAt();
    if (next === undefined || next > h.clock.now()) break;
    h.clock.advance(0);
  }
}

/** An auto-approved grant on staging-db (no vote needed), opened and announced. */
async function openGrant(h: Harness, address: string, why: string): Promise<string> {
  await h.command(REQUESTER, `staging-db 30m from ${address} ${why}`);
  const entry = (await h.hallpass.useCases.overview()).active.find(
    (e) => e.request.source?.cidr === `${address}/32` && e.grant.state === 'active',
  );
  if (entry === undefined) throw new Error(`no active grant for ${address}`);
  return entry.request.id;
}

const grantOf = async (h: Harness, requestId: string) => (await h.hallpass.useCases.cardOf(requestId))?.grant;
const ruleFor = (h: Harness, cidr: string) => h.ec2.rules(GROUP_ID).find((r) => r.cidr === cidr);

/** The ok messages about one grant, in the order Slack accepted them. */
function delivered(calls: readonly SlackCall[], grantId: string): string[] {
  return calls.filter((c) => c.ok && allText(c).includes(grantId)).map((c) => allText(c));
}

/** Every notice about a grant arrived once, and the start before the end: in its thread and by DM. */
async function expectOnceInOrder(h: Harness, requestId: string): Promise<void> {
  const grant = await grantOf(h, requestId);
  if (grant === undefined) throw new Error(`no grant for ${requestId}`);
  for (const calls of [threadPosts(h.slack), dmsTo(h.slack, REQUESTER)]) {
    const about = delivered(calls, grant.id);
    const started = about.filter((t) => /is open until/.test(t));
    const ended = about.filter((t) => /closed at/.test(t));
    expect(started).toHaveLength(1);
    expect(ended).toHaveLength(1);
    expect(about.indexOf(started[0] ?? '')).toBeLessThan(about.indexOf(ended[0] ?? ''));
  }
}

// Forty Home tabs and their refreshes take about 1.5 s alone; the whole suite on two busy cores can take
// several times that. A generous bound, not a timing assertion: the tests assert order and counts.
jest.setTimeout(30_000);

describe('Slack never holds back a close', () => {
  let h: Harness;
  afterEach(async () => {
    h.slack.restore();
    await h.close();
  });

  it('closes on time, and everything due after it, while every Slack call hangs unanswered; the notices follow once Slack answers', async () => {
    // A long Slack timeout, so a call stuck behind a hung Slack stays stuck for the whole test.
    h = await startHarness({ slackTimeoutMs: 120_000 });
    // A pending request whose deadline is the first grant's end: its time-out is announced in the same run.
    await h.command(REQUESTER, `prod-db 30m from ${A} nobody will approve this`);
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1 || undefined);
    const pending = lastRequestId(h);
    const first = await openGrant(h, A, 'first');
    await h.advance(SECOND);
    const second = await openGrant(h, B, 'second, one second later');
    const [g1, g2] = [await grantOf(h, first), await grantOf(h, second)];

    h.slack.outage('hang');
    await tick(h, 30 * MINUTE - SECOND);
    expect((await h.hallpass.useCases.cardOf(pending))?.request.state).toBe('timed_out');
    expect(ruleFor(h, `${A}/32`)).toBeUndefined();
    expect((await grantOf(h, first))?.endedAt).toEqual(g1?.expiresAt);
    // Slack hangs on the notices of the first close (sent once the closes are done)…
    await h.slack.waitFor(() => h.slack.hanging() > 0 || undefined);
    // …and the next grant still closes on its second.
    expect(ruleFor(h, `${B}/32`)).toBeDefined();
    await tick(h, SECOND);
    expect(ruleFor(h, `${B}/32`)).toBeUndefined();
    expect((await grantOf(h, second))?.endedAt).toEqual(g2?.expiresAt);
    expect(h.slack.hanging()).toBeGreaterThan(0);

    h.slack.restore();
    await h.advance(10 * MINUTE);
    await expectOnceInOrder(h, first);
    await expectOnceInOrder(h, second);
    expect(delivered(dmsTo(h.slack, REQUESTER), pending).filter((t) => /timed out/.test(t))).toHaveLength(1);
  });

  it('honours a 429 Retry-After without holding back a close: one attempt, a wait, then each notice once', async () => {
    h = await startHarness();
    const first = await openGrant(h, A, 'first');
    await h.advance(SECOND);
    const second = await openGrant(h, B, 'second');
    h.slack.outage({ status: 429, retryAfter: 20 });
    const callsBefore = h.slack.calls.length;

    await h.advance(30 * MINUTE - SECOND);
    expect(ruleFor(h, `${A}/32`)).toBeUndefined();
    await h.advance(SECOND);
    expect(ruleFor(h, `${B}/32`)).toBeUndefined();
    expect((await grantOf(h, first))?.endedAt).toEqual((await grantOf(h, first))?.expiresAt);
    expect((await grantOf(h, second))?.endedAt).toEqual((await grantOf(h, second))?.expiresAt);
    // Each request's lane tried its first message once, and waits the 20 s Slack asked for: no storm.
    const chatRefused = () =>
      h.slack.calls.slice(callsBefore).filter((c) => !c.ok && c.method.startsWith('chat.'));
    const refused = chatRefused();
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBeLessThanOrEqual(2);
    await h.advance(10 * SECOND);
    expect(chatRefused()).toHaveLength(refused.length);

    h.slack.restore();
    await h.advance(20 * SECOND);
    await expectOnceInOrder(h, first);
    await expectOnceInOrder(h, second);
  });

  it('backs off on 500s and a cut connection without holding back a close, then delivers each notice once', async () => {
    h = await startHarness();
    const first = await openGrant(h, A, 'first');
    await h.advance(SECOND);
    const second = await openGrant(h, B, 'second');
    for (let i = 0; i < 3; i++) h.slack.failNext('chat.postMessage', { status: 500 });
    for (let i = 0; i < 3; i++) h.slack.failNext('chat.update', { status: 500 });

    await h.advance(30 * MINUTE - SECOND);
    expect(ruleFor(h, `${A}/32`)).toBeUndefined();
    h.slack.outage('drop');
    await h.advance(SECOND);
    expect(ruleFor(h, `${B}/32`)).toBeUndefined();
    expect((await grantOf(h, second))?.endedAt).toEqual((await grantOf(h, second))?.expiresAt);

    h.slack.restore();
    for (let i = 0; i < 6; i++) await h.advance(FIRST_RETRY_MS * 2 ** i);
    await expectOnceInOrder(h, first);
    await expectOnceInOrder(h, second);
  });

  it('refreshes forty Home tabs paced and once each per change, on their own client: a 429 on views.publish delays no notice', async () => {
    h = await startHarness();
    const viewers = Array.from({ length: 40 }, (_, i) => `UVIEWER${String(i).padStart(2, '0')}`);
    for (const viewer of viewers) await h.openHome(viewer);
    await h.advance(MINUTE);
    const grant = await openGrant(h, A, 'watched by forty');
    await h.advance(MINUTE);
    h.slack.outage({ status: 429, retryAfter: 30 }, ['views.publish']);
    const publishesBefore = h.slack.callsTo('views.publish').length;

    await h.advance(29 * MINUTE);
    expect(ruleFor(h, `${A}/32`)).toBeUndefined();
    // The end was announced at once, though Home is rate limited.
    expect(
      delivered(threadPosts(h.slack), (await grantOf(h, grant))?.id ?? '?').some((t) => /closed at/.test(t)),
    ).toBe(true);
    // One refused publish paused the refresher: it did not hammer Slack.
    expect(h.slack.callsTo('views.publish').length - publishesBefore).toBe(1);

    h.slack.restore();
    const afterOutage = h.slack.callsTo('views.publish').length;
    await h.advance(30 * SECOND);
    // Paced: no more than a burst at once, however many tabs wait…
    expect(h.slack.callsTo('views.publish').length - afterOutage).toBeLessThanOrEqual(HOME_BURST);
    await h.advance(2 * MINUTE);
    // …and then every tab once, with the change in it (the close), not once per change.
    const republished = h.slack.callsTo('views.publish').slice(afterOutage);
    expect(new Set(republished.map((c) => c.args['user_id'])).size).toBe(viewers.length);
    expect(republished.length).toBe(viewers.length);
    await expectOnceInOrder(h, grant);
  });
});
