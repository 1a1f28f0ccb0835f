import { WebClient } from '@slack/web-api';
import { createSlackDirectory } from '../../../src/adapters/slack/directory';
import { FakeClock } from '../../support/fake-clock';
import { MemoryLogger } from '../../support/harness';
import { type SlackStandIn, startSlackStandIn } from '../../support/slack-stand-in';

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
