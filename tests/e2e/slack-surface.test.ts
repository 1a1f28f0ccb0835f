import { CALLBACK } from '../../src/adapters/slack/ids';
import {
  APPROVER,
  CHANNEL,
  GROUP_ID,
  type Harness,
  OUTSIDER,
  REQUESTER,
  SIGNING_SECRET,
  startHarness,
} from '../support/harness';
import { allText, approvalPosts, dmsTo, lastReply, privateReplies } from '../support/slack-queries';
import {
  postToApp,
  requestModalValues,
  signRequest,
  slashCommandBody,
  unixSeconds,
} from '../support/slack-signing';

describe('what a user sees of hallpass in Slack', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('answers GET /healthz with 200', async () => {
    const res = await fetch(h.url.replace('/slack/events', '/healthz'));
    expect(res.status).toBe(200);
  });

  it('explains every command on /access help', async () => {
    await h.command(REQUESTER, 'help');
    const text = await h.slack.waitFor(() => lastReply(h.slack, REQUESTER) || undefined);
    for (const form of ['/access list', '/access resources', '/access revoke', '/access extend', 'from']) {
      expect(text).toContain(form);
    }
  });

  it('lists on /access resources only what this user may request', async () => {
    await h.command(OUTSIDER, 'resources');
    const text = await h.slack.waitFor(() => lastReply(h.slack, OUTSIDER) || undefined);
    // prod-db is limited to @backend; prod-web and staging-db are open to anyone.
    expect(text).not.toContain('prod-db');
    expect(text).toContain('prod-web');
    expect(text).toContain('staging-db');
  });

  it('shows pending and active requests with their ids on /access list', async () => {
    await h.command(REQUESTER, 'prod-db 30m from 203.0.113.7 pending one');
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    await h.command(REQUESTER, 'staging-db 1h from 198.51.100.9 auto approved');
    await h.slack.waitFor(() => h.ec2.rules(GROUP_ID).length === 1 || undefined);
    const { pending, active } = await h.hallpass.useCases.overview();
    await h.command(REQUESTER, 'list');
    const text = await h.slack.waitFor(() => lastReply(h.slack, REQUESTER) || undefined);
    expect(text).toContain(pending[0]?.id);
    expect(text).toContain(active[0]?.grant.id);
  });

  it('opens the request form on bare /access, listing only what the user may request, and submits from it', async () => {
    await h.command(OUTSIDER, '');
    const update = await h.slack.waitFor(() => h.slack.callsTo('views.update')[0]);
    expect(h.slack.callsTo('views.open')).toHaveLength(1);
    const form = allText(update);
    expect(form).not.toContain('prod-db');
    expect(form).toContain('prod-web');

    const res = await h.submit(
      OUTSIDER,
      CALLBACK.requestModal,
      requestModalValues({
        resourceId: 'prod-web',
        duration: '45m',
        address: '198.51.100.0/28',
        reason: 'load test',
      }),
      CHANNEL,
    );
    expect(res.status).toBe(200);
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    expect(allText(approvalPosts(h.slack)[0])).toContain('198.51.100.0/28');
    await h.slack.waitFor(() => dmsTo(h.slack, OUTSIDER).length > 0);
  });

  it('shows a mistake beside the field in the still-open form and changes nothing', async () => {
    const res = await h.submit(
      OUTSIDER,
      CALLBACK.requestModal,
      requestModalValues({
        resourceId: 'prod-web',
        duration: '3h',
        address: '0.0.0.0/0',
        reason: 'too much',
      }),
      CHANNEL,
    );
    const body = JSON.parse(res.body) as { response_action: string; errors: Record<string, string> };
    expect(body.response_action).toBe('errors');
    expect(body.errors['request_duration']).toContain('2h');
    expect(approvalPosts(h.slack)).toHaveLength(0);
    expect((await h.hallpass.useCases.overview()).pending).toHaveLength(0);
  });

  it('publishes the Home tab with the user’s own pending request', async () => {
    await h.command(REQUESTER, 'prod-db 30m from 203.0.113.7 home check');
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    const [pending] = (await h.hallpass.useCases.overview()).pending;
    const event = JSON.stringify({
      token: 'x',
      team_id: 'T0HALLPASS',
      api_app_id: 'A0HALLPASS',
      type: 'event_callback',
      event_id: 'Ev1',
      event_time: unixSeconds(),
      event: { type: 'app_home_opened', user: REQUESTER, channel: 'D0HOME', tab: 'home', event_ts: '1.1' },
    });
    const res = await postToApp(h.url, event, { secret: SIGNING_SECRET, contentType: 'application/json' });
    expect(res.status).toBe(200);
    const published = await h.slack.waitFor(() => h.slack.callsTo('views.publish')[0]);
    expect(published.args['user_id']).toBe(REQUESTER);
    expect(allText(published)).toContain(pending?.id);
  });

  it('tells the requester what happens next when the request is sent', async () => {
    await h.command(REQUESTER, 'prod-db 30m from 203.0.113.7 next steps');
    const text = await h.slack.waitFor(() => lastReply(h.slack, REQUESTER) || undefined);
    expect(text).toContain(`<#${CHANNEL}>`);
    expect(privateReplies(h.slack, REQUESTER)).toHaveLength(1);
  });
});

describe('requests hallpass must refuse before anything happens', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  const body = () => slashCommandBody({ user_id: APPROVER, text: 'staging-db 1h from 203.0.113.7 forged' });

  it.each([
    ['a forged signature', { signature: `v0=${'0'.repeat(64)}` }],
    ['a signature made with another secret', { secret: 'not-the-secret' }],
    ['a timestamp more than five minutes old', { timestamp: unixSeconds() - 6 * 60 }],
    ['a timestamp more than five minutes in the future', { timestamp: unixSeconds() + 6 * 60 }],
  ])('answers 401 to %s and changes nothing', async (_name, opts) => {
    const res = await postToApp(h.url, body(), { secret: SIGNING_SECRET, ...opts });
    expect(res.status).toBe(401);
    expect(h.slack.calls.filter((c) => c.method !== 'auth.test')).toHaveLength(0);
    expect(h.ec2.calls).toHaveLength(0);
    expect((await h.hallpass.useCases.overview()).active).toHaveLength(0);
  });

  it('answers 401 to a request without signature headers', async () => {
    const res = await fetch(h.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: body(),
    });
    expect(res.status).toBe(401);
    expect(h.ec2.calls).toHaveLength(0);
  });

  it('refuses an oversized body', async () => {
    const huge = slashCommandBody({
      user_id: APPROVER,
      text: `staging-db 1h from 203.0.113.7 ${'x'.repeat(400_000)}`,
    });
    const ts = unixSeconds();
    const res = await fetch(h.url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        ...signRequest(SIGNING_SECRET, huge, ts),
      },
      body: huge,
    });
    expect(res.status).toBe(413);
    expect(h.ec2.calls).toHaveLength(0);
  });
});

describe('a user flooding /access', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('is slowed down with a clear answer after ten commands a minute, and the refused request changes nothing', async () => {
    for (let i = 0; i < 10; i++) await h.command(OUTSIDER, 'help');
    await h.command(OUTSIDER, 'prod-web 30m from 198.51.100.7 eleventh command');
    expect(lastReply(h.slack, OUTSIDER)).toContain('faster than hallpass accepts');
    expect(approvalPosts(h.slack)).toHaveLength(0);
    expect((await h.hallpass.useCases.overview()).pending).toHaveLength(0);
    // Others are not affected, and a minute later the user may ask again.
    await h.command(REQUESTER, 'help');
    expect(lastReply(h.slack, REQUESTER)).not.toContain('faster than hallpass accepts');
    await h.advance(60_000);
    await h.command(OUTSIDER, 'prod-web 30m from 198.51.100.7 after a minute');
    expect(approvalPosts(h.slack)).toHaveLength(1);
  });
});
