import { WebClient } from '@slack/web-api';
import { type SlackStandIn, STAND_IN_BOT, startSlackStandIn } from '../../support/slack-stand-in';

describe('Slack stand-in, driven by a real WebClient', () => {
  let standIn: SlackStandIn;
  let client: WebClient;

  beforeAll(async () => {
    standIn = await startSlackStandIn();
    client = new WebClient('xoxb-test-token', { slackApiUrl: standIn.apiUrl, retryConfig: { retries: 0 } });
  });
  afterEach(() => standIn.reset());
  afterAll(() => standIn.close());

  it('answers auth.test with the bot identity and records the call with its token', async () => {
    const res = await client.auth.test();
    expect(res.user_id).toBe(STAND_IN_BOT.userId);
    expect(standIn.callsTo('auth.test')).toEqual([
      expect.objectContaining({ method: 'auth.test', ok: true, token: 'xoxb-test-token' }),
    ]);
  });

  it('hands out unique, increasing message timestamps and decodes blocks', async () => {
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: 'hi' } }];
    const first = await client.chat.postMessage({ channel: 'C0123ABCD', text: 'hi', blocks });
    const second = await client.chat.postMessage({ channel: 'C0123ABCD', text: 'again' });
    expect(first.ts).toBe('1700000000.000100');
    expect(Number(second.ts)).toBeGreaterThan(Number(first.ts));
    expect(first.channel).toBe('C0123ABCD');
    expect(standIn.callsTo('chat.postMessage')[0]?.args).toMatchObject({ blocks });
  });

  it('answers a post to a user id with the DM channel', async () => {
    const res = await client.chat.postMessage({ channel: 'U0REQ', text: 'your access is open' });
    expect(res.channel).toBe('D0REQ');
  });

  it('updates a posted message in place and refuses an unknown one like Slack', async () => {
    const posted = await client.chat.postMessage({ channel: 'C1', text: 'pending' });
    await client.chat.update({ channel: 'C1', ts: posted.ts ?? '', text: 'approved', blocks: [] });
    expect(standIn.message('C1', posted.ts ?? '')?.text).toBe('approved');
    await expect(client.chat.update({ channel: 'C1', ts: '1.000001', text: 'x' })).rejects.toMatchObject({
      data: { error: 'message_not_found' },
    });
  });

  it('opens, updates and publishes views, decoding the view JSON', async () => {
    const view = {
      type: 'modal' as const,
      title: { type: 'plain_text' as const, text: 'Request access' },
      blocks: [],
    };
    const opened = await client.views.open({ trigger_id: '123.456', view });
    const viewId = opened.view?.id ?? '';
    expect(viewId).toMatch(/^V/);
    await client.views.update({ view_id: viewId, view: { ...view, callback_id: 'request_modal' } });
    expect(standIn.callsTo('views.update')[0]?.args).toMatchObject({
      view: { callback_id: 'request_modal' },
    });
    await expect(client.views.update({ view_id: 'V_NOPE', view })).rejects.toMatchObject({
      data: { error: 'not_found' },
    });
    await client.views.publish({ user_id: 'U0ME', view: { type: 'home', blocks: [] } });
    expect(standIn.homeOf('U0ME')).toMatchObject({ type: 'home' });
  });

  it('answers the directory calls from its configuration', async () => {
    standIn.setGroups([{ id: 'S0SRE', handle: 'sre', users: ['U0A', 'U0B'] }]);
    standIn.setEmail('U0A', 'a@example.com');
    const withUsers = await client.usergroups.list({ include_users: true });
    const without = await client.usergroups.list();
    expect(withUsers.usergroups?.[0]).toMatchObject({ id: 'S0SRE', handle: 'sre', users: ['U0A', 'U0B'] });
    expect(without.usergroups?.[0]?.users).toBeUndefined();
    expect((await client.usergroups.users.list({ usergroup: 'S0SRE' })).users).toEqual(['U0A', 'U0B']);
    expect((await client.users.info({ user: 'U0A' })).user?.profile?.email).toBe('a@example.com');
    expect((await client.users.info({ user: 'U0B' })).user?.profile?.email).toBeUndefined();
    expect((await client.conversations.open({ users: 'U0A' })).channel?.id).toBe('D0A');
    await client.chat.postEphemeral({ channel: 'C1', user: 'U0A', text: 'only you' });
  });

  it('answers users.info with a full member of its workspace unless told the user is a guest, of another team, …', async () => {
    const member = (await client.users.info({ user: 'U0A' })).user;
    expect(member).toMatchObject({ team_id: 'T0HALLPASS', is_restricted: false, is_ultra_restricted: false });
    standIn.setUser('U0G', { restricted: true });
    standIn.setUser('U0X', { teamId: 'T0OTHER', enterpriseId: 'E0OTHER', stranger: true });
    standIn.setUser('U0Q', { guestUnsaid: true });
    standIn.setUser('U0E', { error: 'user_not_found' });
    expect((await client.users.info({ user: 'U0G' })).user).toMatchObject({ is_restricted: true });
    expect((await client.users.info({ user: 'U0X' })).user).toMatchObject({
      team_id: 'T0OTHER',
      is_stranger: true,
      enterprise_user: { enterprise_id: 'E0OTHER', teams: ['T0OTHER'] },
    });
    expect((await client.users.info({ user: 'U0Q' })).user?.is_restricted).toBeUndefined();
    await expect(client.users.info({ user: 'U0E' })).rejects.toMatchObject({
      data: { error: 'user_not_found' },
    });
  });

  it('fails the next call as told, then answers normally', async () => {
    standIn.failNext('chat.postMessage', 'channel_not_found');
    standIn.failNext('chat.postMessage', { status: 500 });
    await expect(client.chat.postMessage({ channel: 'C1', text: 'x' })).rejects.toMatchObject({
      data: { error: 'channel_not_found' },
    });
    await expect(client.chat.postMessage({ channel: 'C1', text: 'x' })).rejects.toMatchObject({
      statusCode: 500,
    });
    await expect(client.chat.postMessage({ channel: 'C1', text: 'x' })).resolves.toMatchObject({ ok: true });
    expect(standIn.callsTo('chat.postMessage').map((c) => c.ok)).toEqual([false, false, true]);
  });

  it('can rate-limit a call with HTTP 429 and Retry-After', async () => {
    standIn.failNext('chat.update', { status: 429, retryAfter: 0 });
    const rejecting = new WebClient('xoxb-test-token', {
      slackApiUrl: standIn.apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
    });
    await expect(rejecting.chat.update({ channel: 'C1', ts: '1.0', text: 'x' })).rejects.toMatchObject({
      code: 'slack_webapi_rate_limited_error',
      retryAfter: 0,
    });
  });

  it('answers unknown methods with unknown_method', async () => {
    await expect(client.apiCall('no.such.method')).rejects.toMatchObject({
      data: { error: 'unknown_method' },
    });
  });

  it('records posts to a minted response_url', async () => {
    const url = standIn.responseUrl();
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'done', replace_original: false }),
    });
    expect(res.status).toBe(200);
    expect(standIn.callsTo('response_url')[0]?.args).toMatchObject({ text: 'done' });
  });

  it('waitFor resolves once a later call matches, with what the predicate returned', async () => {
    const waiting = standIn.waitFor((calls) => calls.find((c) => c.method === 'chat.postEphemeral'));
    await client.chat.postMessage({ channel: 'C1', text: 'first' });
    await client.chat.postEphemeral({ channel: 'C1', user: 'U0A', text: 'second' });
    await expect(waiting).resolves.toMatchObject({ method: 'chat.postEphemeral' });
  });

  it('waitFor rejects, naming the calls seen, when nothing matches in time', async () => {
    await client.auth.test();
    await expect(standIn.waitFor(() => false, 50)).rejects.toThrow(/auth\.test/);
  });
});
