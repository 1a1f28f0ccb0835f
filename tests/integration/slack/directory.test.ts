import { WebClient } from '@slack/web-api';
import { createSlackDirectory } from '../../../src/adapters/slack/directory';
import { FakeClock } from '../../support/fake-clock';
import { MemoryLogger } from '../../support/harness';
import {
  failUsersInfo,
  type SlackStandIn,
  STAND_IN_BOT,
  startSlackStandIn,
} from '../../support/slack-stand-in';

describe('the Slack directory (user-group membership)', () => {
  let slack: SlackStandIn;
  let clock: FakeClock;
  let logger: MemoryLogger;
  const directory = () =>
    createSlackDirectory({
      client: new WebClient('xoxb-test', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } }),
      clock,
      logger,
      ttlMs: 60_000,
    });

  beforeEach(async () => {
    slack = await startSlackStandIn();
    slack.setGroups([
      { id: 'S1', handle: 'SRE', users: ['U1', 'U2'] },
      { id: 'S2', handle: 'backend', users: ['U2'] },
    ]);
    clock = new FakeClock();
    logger = new MemoryLogger();
  });
  afterEach(async () => {
    await slack.close();
  });

  it('resolves a user to the lowercased handles of every group they are in', async () => {
    const dir = directory();
    expect([...(await dir.actor('U2')).groups].sort()).toEqual(['backend', 'sre']);
    expect([...(await dir.actor('U9')).groups]).toEqual([]);
  });

  it('asks Slack once per TTL, then again after it', async () => {
    const dir = directory();
    await dir.actor('U1');
    await dir.actor('U2');
    expect(slack.callsTo('usergroups.list')).toHaveLength(1);
    clock.advance(60_000);
    await dir.actor('U1');
    expect(slack.callsTo('usergroups.list')).toHaveLength(2);
  });

  it('shares one in-flight fetch between concurrent lookups', async () => {
    const dir = directory();
    await Promise.all([dir.actor('U1'), dir.actor('U2'), dir.actor('U3')]);
    expect(slack.callsTo('usergroups.list')).toHaveLength(1);
  });

  it('sees a membership change after the TTL', async () => {
    const dir = directory();
    expect((await dir.actor('U3')).groups.has('sre')).toBe(false);
    slack.setGroups([{ id: 'S1', handle: 'sre', users: ['U3'] }]);
    clock.advance(60_000);
    expect((await dir.actor('U3')).groups.has('sre')).toBe(true);
  });

  it('keeps using the cached groups when Slack fails after the TTL, and logs it', async () => {
    const dir = directory();
    await dir.actor('U1');
    clock.advance(60_000);
    slack.failNext('usergroups.list', 'internal_error');
    expect((await dir.actor('U1')).groups.has('sre')).toBe(true);
    expect(logger.lines.some((l) => l.level === 'warn')).toBe(true);
  });

  it('fails when Slack fails and nothing is cached (no one is silently treated as a non-member)', async () => {
    slack.failNext('usergroups.list', 'internal_error');
    await expect(directory().actor('U1')).rejects.toThrow();
  });
});

describe('the Slack directory: standing', () => {
  let slack: SlackStandIn;
  let clock: FakeClock;
  let logger: MemoryLogger;
  let trusted: string[];
  const directory = (opts: { maxUsers?: number } = {}) =>
    createSlackDirectory({
      // As hallpass builds its clients: one attempt each, a 429 answered at once.
      client: new WebClient('xoxb-test', {
        slackApiUrl: slack.apiUrl,
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
      }),
      clock,
      logger,
      ttlMs: 60_000,
      trustedWorkspaces: () => trusted,
      ...opts,
    });
  const HOME = [{ teamId: STAND_IN_BOT.teamId }];

  beforeEach(async () => {
    slack = await startSlackStandIn();
    slack.setGroups([{ id: 'S1', handle: 'sre', users: ['U1', 'UGUEST'] }]);
    clock = new FakeClock();
    logger = new MemoryLogger();
    trusted = [];
  });
  afterEach(async () => {
    await slack.close();
  });

  it('places members, guests, other workspaces, strangers and deactivated accounts from users.info', async () => {
    slack.setUser('UGUEST', { restricted: true });
    slack.setUser('USINGLE', { ultraRestricted: true });
    slack.setUser('UCONNECT', { teamId: 'T0ELSEWHERE' });
    slack.setUser('USTRANGER', { stranger: true });
    slack.setUser('UGONE', { deleted: true });
    const dir = directory();
    const standing = async (user: string) => (await dir.actor(user, HOME)).standing;
    expect(await standing('U1')).toBe('member');
    expect(await standing('UGUEST')).toBe('guest');
    expect(await standing('USINGLE')).toBe('guest');
    expect(await standing('UCONNECT')).toBe('external');
    expect(await standing('USTRANGER')).toBe('external');
    expect(await standing('UGONE')).toBe('deactivated');
    // A guest keeps their groups (they are shown), but counts only where a resource admits guests.
    expect([...(await dir.actor('UGUEST')).groups]).toEqual(['sre']);
  });

  it('places an action signed in another workspace or organisation outside, whatever the account says', async () => {
    const dir = directory();
    expect((await dir.actor('U1', [{ teamId: 'T0ELSEWHERE' }])).standing).toBe('external');
    expect((await dir.actor('U1', [{ teamId: STAND_IN_BOT.teamId, enterpriseId: 'E0OTHER' }])).standing).toBe(
      'external',
    );
    trusted = ['T0ELSEWHERE'];
    expect((await dir.actor('U1', [{ teamId: 'T0ELSEWHERE' }])).standing).toBe('member');
  });

  it('fails closed: users.info failing, or not saying whether the user is a guest, gives `unknown`, logged', async () => {
    slack.setUser('UUNSAID', { guestUnsaid: true });
    const dir = directory();
    expect((await dir.actor('UUNSAID', HOME)).standing).toBe('unknown');
    failUsersInfo(slack);
    expect((await dir.actor('U1', HOME)).standing).toBe('unknown');
    expect(slack.callsTo('users.info').filter((c) => c.ok === false)).toHaveLength(3);
    expect(logger.lines.filter((l) => l.level === 'warn' && l.msg === 'users.info failed')).toHaveLength(1);
    // Nothing wrong was cached: the next look-up asks again and places them.
    expect((await dir.actor('U1', HOME)).standing).toBe('member');
  });

  it('asks users.info again after a failure that may pass, so a blip refuses no one', async () => {
    const dir = directory();
    slack.failNext('users.info', { status: 500 });
    slack.failNext('users.info', 'internal_error');
    expect((await dir.actor('U1', HOME)).standing).toBe('member');
    expect(slack.callsTo('users.info').map((c) => c.ok)).toEqual([false, false, true]);
    expect(logger.lines.filter((l) => l.msg === 'users.info failed')).toEqual([]);
  });

  it('does not ask again when the answer will not change, or when Slack says to slow down', async () => {
    const dir = directory();
    slack.failNext('users.info', 'user_not_found');
    expect((await dir.actor('U1', HOME)).standing).toBe('unknown');
    slack.failNext('users.info', { status: 429, retryAfter: 30 });
    expect((await dir.actor('U2', HOME)).standing).toBe('unknown');
    expect(slack.callsTo('users.info').map((c) => c.ok)).toEqual([false, false]);
  });

  it('asks users.info again after a dropped connection', async () => {
    const dir = directory();
    slack.outage('drop', ['users.info']);
    const look = dir.actor('U1', HOME);
    setTimeout(() => slack.restore(), 150);
    expect((await look).standing).toBe('member');
  });

  it('asks auth.test once and keeps the answer; until it answers, nobody is placed', async () => {
    slack.failNext('auth.test', { status: 503 });
    const dir = directory();
    expect((await dir.actor('U1', HOME)).standing).toBe('unknown');
    expect((await dir.actor('U1', HOME)).standing).toBe('member');
    await dir.actor('U1', HOME);
    clock.advance(10 * 60_000);
    await dir.actor('U1', HOME);
    expect(slack.callsTo('auth.test').map((c) => c.ok)).toEqual([false, true]);
  });

  it('emailOf gives no email, rather than failing, when users.info fails (the user id stands in)', async () => {
    failUsersInfo(slack);
    expect(await directory().emailOf('U1')).toBeUndefined();
  });

  it('reads users.info once per user per TTL, shared with emailOf', async () => {
    slack.setEmail('U1', 'one@example.com');
    const dir = directory();
    await Promise.all([dir.actor('U1'), dir.actor('U1'), dir.emailOf('U1')]);
    expect(await dir.emailOf('U1')).toBe('one@example.com');
    expect(slack.callsTo('users.info')).toHaveLength(1);
    clock.advance(60_000);
    await dir.actor('U1');
    expect(slack.callsTo('users.info')).toHaveLength(2);
  });

  it('keeps at most maxUsers people, forgetting the least recently asked about first', async () => {
    const dir = directory({ maxUsers: 2 });
    const asked = () => slack.callsTo('users.info').map((c) => c.args['user']);
    await dir.actor('U1');
    await dir.actor('U2');
    await dir.actor('U1'); // cached, and now more recent than U2
    await dir.actor('U3'); // a third: U2, the least recent, is forgotten
    expect(asked()).toEqual(['U1', 'U2', 'U3']);
    await dir.actor('U1');
    await dir.actor('U3');
    expect(asked()).toEqual(['U1', 'U2', 'U3']);
    await dir.actor('U2');
    expect(asked()).toEqual(['U1', 'U2', 'U3', 'U2']);
  });
});

describe('the Slack directory: group changes Slack announces', () => {
  let slack: SlackStandIn;
  let clock: FakeClock;
  const directory = () =>
    createSlackDirectory({
      client: new WebClient('xoxb-test', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } }),
      clock,
      logger: new MemoryLogger(),
      ttlMs: 5 * 60_000,
    });

  beforeEach(async () => {
    slack = await startSlackStandIn();
    slack.setGroups([{ id: 'S1', handle: 'sre', users: ['U1', 'U2'] }]);
    clock = new FakeClock();
  });
  afterEach(async () => {
    await slack.close();
  });

  it('reads the groups again at the next look-up after a change, well within the TTL', async () => {
    const dir = directory();
    await dir.actor('U1');
    slack.setGroups([{ id: 'S1', handle: 'sre', users: ['U2', 'U3'] }]);
    dir.groupsChanged({ subteamId: 'S1', removedUsers: ['U1'], disabled: false });
    expect((await dir.actor('U1')).groups.has('sre')).toBe(false);
    expect((await dir.actor('U3')).groups.has('sre')).toBe(true);
    expect(slack.callsTo('usergroups.list')).toHaveLength(2);
  });

  it('never gives back a removed member from an answer that crossed the change', async () => {
    const dir = directory();
    // A fetch starts, Slack announces U1's removal before it answers; the answer still lists U1.
    const first = dir.actor('U2');
    dir.groupsChanged({ subteamId: 'S1', removedUsers: ['U1'], disabled: false });
    await first;
    slack.failNext('usergroups.list', 'internal_error');
    expect((await dir.actor('U1')).groups.has('sre')).toBe(false);
    expect((await dir.actor('U2')).groups.has('sre')).toBe(true);
  });

  it('empties a disabled group at once, even if Slack cannot be asked again', async () => {
    const dir = directory();
    await dir.actor('U1');
    slack.outage('internal_error', ['usergroups.list']);
    dir.groupsChanged({ subteamId: 'S1', removedUsers: [], disabled: true });
    expect((await dir.actor('U1')).groups.size).toBe(0);
    expect((await dir.actor('U2')).groups.size).toBe(0);
    slack.restore();
  });
});
