import { openDatabase } from '../../../src/adapters/db/open-db';
import { createSqliteStores, type SqliteStores } from '../../../src/adapters/db/stores';
import {
  deliverOutbox,
  FIRST_RETRY_MS,
  GIVE_UP_AFTER_MS,
  KEEP_SENT_MS,
  PRUNE_BATCH,
  PRUNE_EVERY_MS,
} from '../../../src/app/deliver-outbox';
import { InfraError } from '../../../src/app/infra-error';
import type { ChannelNotice } from '../../../src/app/notices';
import { createNotices } from '../../../src/app/notify';
import type { Notifier } from '../../../src/app/ports';
import type { Policy } from '../../../src/domain/policy';
import { buildNewRequest, buildSgResource } from '../../support/builders';
import { FakeClock } from '../../support/fake-clock';
import { MemoryLogger } from '../../support/harness';

/**
 * The outbox dispatcher over a real SQLite outbox and a scripted notifier: one attempt per delivery per
 * run, Slack's Retry-After honoured, a lane never overtaken, a hopeless delivery given up without
 * blocking its lane, a slow lane never holding up the others.
 */

const report = (n: number): ChannelNotice =>
  ({ type: 'reconcile-report', orphans: [], drift: [], n }) as never;

type Sent = { kind: string; to: string; what: string };

function setup() {
  const handle = openDatabase(':memory:');
  const stores: SqliteStores = createSqliteStores(handle);
  const clock = new FakeClock();
  const logger = new MemoryLogger();
  const sent: Sent[] = [];
  /** Scripted answers, by target: each call takes the next; absent: success. */
  const script = new Map<string, (() => Promise<void>)[]>();
  const attempt = async (kind: string, to: string, what: string) => {
    const next = script.get(to)?.shift();
    if (next !== undefined) await next();
    sent.push({ kind, to, what });
  };
  const notifier: Notifier = {
    postApprovalCard: async (card) => {
      await attempt('card-post', card.resource.channel, card.request.id);
      return { channel: card.resource.channel, ts: '1.000100' };
    },
    updateApprovalCard: async (ref, card) => attempt('card-update', ref.channel, card.request.id),
    notifyThread: async (ref, notice) => attempt('thread', ref.channel, notice.type),
    notifyUser: async (userId, notice) => attempt('dm', userId, notice.type),
    sendCredentials: async () => {},
    notifyChannel: async (channel, notice) => attempt('channel', channel, JSON.stringify(notice)),
  };
  const policy: Policy = {
    admins: [],
    approvalTimeout: 1_800_000,
    warnBefore: 0,
    resources: [buildSgResource()],
  };
  const deps = { ...stores, clock, logger, notifier, policy: () => policy, deliveries: { wake: () => {} } };
  const once = deliverOutbox(deps);
  const { deliver } = createNotices(deps);
  /** Runs the dispatcher until a run finds nothing ready (the loop does the same), adding up what it did. */
  const run = async () => {
    const total = { sent: 0, retrying: 0, abandoned: 0 };
    for (;;) {
      const r = await once();
      total.sent += r.sent;
      total.retrying += r.retrying;
      total.abandoned += r.abandoned;
      if (r.sent + r.retrying + r.abandoned === 0) return total;
    }
  };
  return { handle, stores, clock, logger, sent, script, deps, run, once, deliver };
}

const failWith = (error: InfraError) => async () => {
  throw error;
};

describe('the outbox dispatcher', () => {
  it('tries a rate-limited delivery once, waits Retry-After, and keeps the rest of its lane behind it', async () => {
    const t = setup();
    t.script.set('C1', [
      failWith(
        new InfraError('throttled', true, '429', {
          providerCode: 'slack_rate_limited',
          retryAfterMs: 20_000,
        }),
      ),
    ]);
    for (const n of [1, 2, 3]) await t.deliver({ kind: 'channel', channel: 'C1', notice: report(n) });
    await t.deliver({ kind: 'channel', channel: 'C2', notice: report(9) });

    expect(await t.run()).toEqual({ sent: 1, retrying: 1, abandoned: 0 });
    expect(t.sent.map((s) => s.to)).toEqual(['C2']);
    t.clock.advance(19_999);
    expect((await t.run()).sent).toBe(0);
    t.clock.advance(1);
    expect((await t.run()).sent).toBe(3);
    expect(t.sent.filter((s) => s.to === 'C1').map((s) => JSON.parse(s.what).n)).toEqual([1, 2, 3]);
    t.handle.close();
  });

  it('backs off a failure that may pass, doubling from FIRST_RETRY_MS', async () => {
    const t = setup();
    const down = failWith(new InfraError('unavailable', true, '503', { providerCode: 'slack_http_503' }));
    t.script.set('C1', [down, down]);
    await t.deliver({ kind: 'channel', channel: 'C1', notice: report(1) });
    await t.run();
    expect(await t.stores.outbox.nextAttempt()).toEqual(new Date(t.clock.now().getTime() + FIRST_RETRY_MS));
    t.clock.advance(FIRST_RETRY_MS);
    await t.run();
    expect(await t.stores.outbox.nextAttempt()).toEqual(
      new Date(t.clock.now().getTime() + 2 * FIRST_RETRY_MS),
    );
    t.clock.advance(2 * FIRST_RETRY_MS);
    expect((await t.run()).sent).toBe(1);
    t.handle.close();
  });

  it('gives up at once on what can never succeed, and the lane goes on', async () => {
    const t = setup();
    t.script.set('C1', [
      failWith(new InfraError('unknown', false, 'gone', { providerCode: 'channel_not_found' })),
    ]);
    await t.deliver({ kind: 'channel', channel: 'C1', notice: report(1) });
    await t.deliver({ kind: 'channel', channel: 'C1', notice: report(2) });
    expect(await t.run()).toEqual({ sent: 1, retrying: 0, abandoned: 1 });
    expect(t.logger.lines.some((l) => l.msg === 'gave up a slack delivery')).toBe(true);
    t.handle.close();
  });

  it('sends at most a batch per run, so the loop can yield to due work in between', async () => {
    const t = setup();
    for (let n = 0; n < 25; n++) await t.deliver({ kind: 'channel', channel: `C${n}`, notice: report(n) });
    expect((await t.once()).sent).toBe(20);
    expect((await t.once()).sent).toBe(5);
    t.handle.close();
  });

  it('gives up a delivery Slack has refused for a day', async () => {
    const t = setup();
    const down = failWith(new InfraError('unavailable', true, '500', { providerCode: 'slack_http_500' }));
    t.script.set(
      'C1',
      Array.from({ length: 100 }, () => down),
    );
    await t.deliver({ kind: 'channel', channel: 'C1', notice: report(1) });
    await t.run();
    t.clock.advance(GIVE_UP_AFTER_MS);
    expect(await t.run()).toEqual({ sent: 0, retrying: 0, abandoned: 1 });
    expect(await t.stores.outbox.waiting()).toBe(0);
    t.handle.close();
  });

  it('delivers the card of a request, its thread notice and its DM in that order', async () => {
    const t = setup();
    const request = await t.stores.requests.insert(
      buildNewRequest({ resourceId: 'prod-db', requesterId: 'U1' }),
    );
    const card = { request, resource: buildSgResource(), approvals: [] };
    await t.deliver({ kind: 'card-post', requestId: request.id });
    await t.deliver({ kind: 'thread', requestId: request.id, notice: { type: 'request-timed-out', card } });
    await t.deliver({
      kind: 'dm',
      requestId: request.id,
      userId: 'U1',
      notice: { type: 'request-timed-out', card },
    });
    await t.run();
    expect(t.sent.map((s) => s.kind)).toEqual(['card-post', 'thread', 'dm']);
    expect((await t.stores.requests.get(request.id))?.message).toEqual({
      channel: 'C0123ABCD',
      ts: '1.000100',
    });
    t.handle.close();
  });

  it('does not let one slow lane hold up the others', async () => {
    const t = setup();
    let release: () => void = () => {};
    const slow = new Promise<void>((resolve) => {
      release = resolve;
    });
    t.script.set('C1', [() => slow]);
    await t.deliver({ kind: 'channel', channel: 'C1', notice: report(1) });
    for (const c of ['C2', 'C3', 'C4', 'C5', 'C6'])
      await t.deliver({ kind: 'channel', channel: c, notice: report(2) });
    const running = t.once();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(t.sent.map((s) => s.to).sort()).toEqual(['C2', 'C3', 'C4', 'C5', 'C6']);
    release();
    await running;
    expect(t.sent.map((s) => s.to)).toContain('C1');
    t.handle.close();
  });

  it('deletes sent deliveries a week after they went, a batch a minute at most, keeping abandoned ones', async () => {
    const t = setup();
    const rows = () =>
      (
        t.handle.sqlite.prepare('SELECT done_at, abandoned FROM outbox').all() as {
          done_at: number | null;
          abandoned: number;
        }[]
      ).map((r) => (r.done_at === null ? 'waiting' : r.abandoned === 1 ? 'abandoned' : 'sent'));
    for (let i = 0; i < PRUNE_BATCH + 2; i++)
      await t.deliver({ kind: 'channel', channel: 'C1', notice: report(i) });
    t.script.set('C2', [failWith(new InfraError('denied', false, 'channel_not_found'))]);
    await t.deliver({ kind: 'channel', channel: 'C2', notice: report(-1) });
    await t.run();
    expect(rows().filter((r) => r === 'sent')).toHaveLength(PRUNE_BATCH + 2);
    expect(rows()).toContain('abandoned');

    // Within the week nothing goes.
    t.clock.advance(KEEP_SENT_MS - PRUNE_EVERY_MS);
    await t.once();
    expect(rows()).toHaveLength(PRUNE_BATCH + 3);
    // A week on, one batch; then nothing more until a minute has passed.
    t.clock.advance(PRUNE_EVERY_MS + 1);
    await t.once();
    expect(rows()).toHaveLength(3);
    await t.once();
    expect(rows()).toHaveLength(3);
    t.clock.advance(PRUNE_EVERY_MS);
    await t.once();
    expect(rows().sort()).toEqual(['abandoned']);
    // And what is queued after that is sent as ever.
    await t.deliver({ kind: 'channel', channel: 'C1', notice: report(1_000) });
    await t.run();
    expect(t.sent.at(-1)).toMatchObject({ kind: 'channel', to: 'C1' });
    t.handle.close();
  });
});
