import { ACTION, CALLBACK } from '../../src/adapters/slack/ids';
import { CLOSE_FAILING_UNHEALTHY_ATTEMPTS } from '../../src/app/health';
import { OUTCOME_LOG } from '../../src/app/outcomes';
import {
  APPROVER,
  CHANNEL,
  DEFAULT_POLICY,
  GROUP_ID,
  type Harness,
  REQUESTER,
  startHarness,
} from '../support/harness';
import { allText, approvalPosts, lastRequestId } from '../support/slack-queries';
import { denyModalValues } from '../support/slack-signing';

/**
 * Watching hallpass: `/healthz` tells the truth (503 only when it cannot close access), `/metrics`
 * counts a real flow, and alerts about a grant reach the top level of its channel and the policy's
 * `alertsChannel`, once per episode.
 */

const MINUTE = 60_000;
const ADDRESS = '203.0.113.7';
const ALERTS = 'C0ALERTS01';
const POLICY_WITH_ALERTS = DEFAULT_POLICY.replace(
  'approvalTimeout: 30m',
  `approvalTimeout: 30m\nalertsChannel: ${ALERTS}`,
);

async function askAndApprove(h: Harness, text: string): Promise<string> {
  const before = approvalPosts(h.slack).length;
  await h.command(REQUESTER, text);
  await h.slack.waitFor(() => approvalPosts(h.slack).length > before || undefined);
  const requestId = lastRequestId(h);
  await h.click(APPROVER, ACTION.approveRequest, requestId);
  await h.slack.waitFor(
    async () => (await h.hallpass.useCases.cardOf(requestId))?.grant?.state === 'active' || undefined,
  );
  return requestId;
}

const base = (h: Harness) => h.url.replace('/slack/events', '');
async function healthz(h: Harness): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base(h)}/healthz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The samples of a Prometheus text page: `name{labels}` → value. */
async function scrape(h: Harness): Promise<Map<string, number>> {
  const res = await fetch(`${base(h)}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

/** Top-level posts (not in a thread) in `channel` whose text contains `words`. */
const topLevel = (h: Harness, channel: string, words: string) =>
  h.slack
    .callsTo('chat.postMessage')
    .filter((c) => c.ok && c.args['channel'] === channel && c.args['thread_ts'] === undefined)
    .filter((c) => allText(c).includes(words));

describe('/metrics', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('counts a real flow: requests by outcome, the grant active then closed, its lateness, the AWS calls', async () => {
    h = await startHarness();
    const before = await scrape(h);
    expect(before.get('hallpass_grants_active{resource="prod-db"}')).toBe(0);
    expect(before.get('hallpass_requests_total{outcome="approved"}')).toBeUndefined();

    const requestId = await askAndApprove(h, `prod-db 30m from ${ADDRESS} metrics`);
    const open = await scrape(h);
    expect(open.get('hallpass_grants_active{resource="prod-db"}')).toBe(1);
    expect(open.get('hallpass_requests_total{outcome="submitted"}')).toBe(1);
    expect(open.get('hallpass_requests_total{outcome="approved"}')).toBe(1);
    expect(open.get('hallpass_requests_total{outcome="opened"}')).toBe(1);
    expect(open.get('hallpass_aws_call_duration_seconds_count{operation="network.authorize"}')).toBe(1);
    expect(open.get('hallpass_outbox_depth')).toBeGreaterThanOrEqual(0);
    expect(open.get('hallpass_closes_failing')).toBe(0);
    expect(open.has('hallpass_process_resident_memory_bytes')).toBe(true);

    await h.advance(30 * MINUTE);
    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.state).toBe('closed');
    const closed = await scrape(h);
    expect(closed.get('hallpass_grants_active{resource="prod-db"}')).toBe(0);
    expect(closed.get('hallpass_expiry_lateness_seconds_count')).toBe(1);
    expect(closed.get('hallpass_expiry_lateness_seconds_bucket{le="+Inf"}')).toBe(1);
    expect(closed.get('hallpass_aws_call_duration_seconds_count{operation="network.revoke"}')).toBe(1);
    // Each step is logged at info with its ids, not only closes.
    for (const step of ['submitted', 'vote', 'approved', 'opened'] as const) {
      expect(h.logger.lines).toContainEqual(
        expect.objectContaining({
          level: 'info',
          msg: OUTCOME_LOG[step],
          fields: expect.objectContaining({ requestId }),
        }),
      );
    }
  });

  it('counts a denial, and is not served with HALLPASS_METRICS=off', async () => {
    h = await startHarness();
    await h.command(REQUESTER, `prod-db 30m from ${ADDRESS} to deny`);
    await h.slack.waitFor(() => approvalPosts(h.slack).length > 0 || undefined);
    const requestId = lastRequestId(h);
    await h.submit(APPROVER, CALLBACK.denyModal, denyModalValues('not today'), requestId);
    await h.slack.waitFor(
      async () => (await h.hallpass.useCases.cardOf(requestId))?.request.state === 'denied' || undefined,
    );
    expect((await scrape(h)).get('hallpass_requests_total{outcome="denied"}')).toBe(1);
    expect(h.logger.lines).toContainEqual(
      expect.objectContaining({
        msg: OUTCOME_LOG.denied,
        fields: expect.objectContaining({ requestId, actor: APPROVER }),
      }),
    );

    h = await h.restart({ env: { HALLPASS_METRICS: 'off' } });
    expect((await fetch(`${base(h)}/metrics`)).status).toBe(404);
    expect((await healthz(h)).status).toBe(200);
  });
});

describe('/healthz and alerts', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('answers 503 naming the grant once its close has failed past the threshold, alerts the channel and the alerts channel once, and is ok again once it closes', async () => {
    h = await startHarness({ policy: POLICY_WITH_ALERTS });
    const requestId = await askAndApprove(h, `prod-db 30m from ${ADDRESS} stubborn`);
    const grantId = (await h.hallpass.useCases.cardOf(requestId))?.grant?.id;
    h.ec2.failNext('RevokeSecurityGroupIngress', 'UnauthorizedOperation', 403, 100);

    await h.advance(30 * MINUTE);
    // One failed attempt: degraded (an AWS error, a close retried), not yet unhealthy.
    const first = await healthz(h);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ ok: true, status: 'degraded' });
    expect((first.body['problems'] as { what: string }[]).map((p) => p.what)).toEqual(
      expect.arrayContaining(['close-failing', 'aws-errors']),
    );

    for (let i = 1; i < CLOSE_FAILING_UNHEALTHY_ATTEMPTS; i++) await h.advance(70_000);
    const failing = await healthz(h);
    expect(failing.status).toBe(503);
    expect(failing.body).toMatchObject({
      ok: false,
      status: 'unhealthy',
      database: 'ok',
      problems: expect.arrayContaining([
        expect.objectContaining({ what: 'close-failing', detail: expect.stringContaining(String(grantId)) }),
      ]),
    });
    expect((await scrape(h)).get('hallpass_closes_failing')).toBe(1);
    expect(
      (await scrape(h)).get(
        'hallpass_aws_call_errors_total{operation="network.revoke",code="UnauthorizedOperation"}',
      ),
    ).toBeGreaterThanOrEqual(CLOSE_FAILING_UNHEALTHY_ATTEMPTS);

    await h.slack.waitFor(() => topLevel(h, ALERTS, 'could not close').length === 1 || undefined);
    await h.slack.waitFor(() => topLevel(h, CHANNEL, 'could not close').length === 1 || undefined);
    expect(allText(topLevel(h, CHANNEL, 'could not close')[0])).toContain(String(grantId));

    // More failed attempts (up to the tenth, which raises it in the thread again): no new top-level alert.
    for (let i = 0; i < 8; i++) await h.advance(70_000);
    await h.hallpass.settled();
    expect(topLevel(h, CHANNEL, 'could not close')).toHaveLength(1);
    expect(topLevel(h, ALERTS, 'could not close')).toHaveLength(1);

    h.ec2.clearFaults();
    await h.advance(70_000);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
    expect(await healthz(h)).toMatchObject({ status: 200 });
    expect((await healthz(h)).body['problems']).not.toContainEqual(
      expect.objectContaining({ what: 'close-failing' }),
    );
  });

  it('stays 200 while Slack is down: degraded, naming the Slack errors, and grants still close', async () => {
    h = await startHarness();
    const requestId = await askAndApprove(h, `prod-db 30m from ${ADDRESS} slack down`);
    h.slack.outage({ status: 503 });
    await h.advance(30 * MINUTE);
    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.state).toBe('closed');
    const down = await healthz(h);
    expect(down.status).toBe(200);
    expect(down.body).toMatchObject({
      ok: true,
      status: 'degraded',
      database: 'ok',
      problems: expect.arrayContaining([expect.objectContaining({ what: 'slack-errors' })]),
    });
    const samples = await scrape(h);
    expect(
      [...samples].filter(
        ([k, v]) =>
          k.startsWith('hallpass_slack_api_errors_total{') && k.includes('error="slack_http_503"') && v > 0,
      ),
    ).not.toEqual([]);
    expect(samples.get('hallpass_outbox_depth')).toBeGreaterThan(0);
  });

  it('reports a reconciliation finding in the alerts channel too, and counts it', async () => {
    h = await startHarness({ policy: POLICY_WITH_ALERTS, reconcileInterval: '60s' });
    const orphan = h.ec2.addRule({
      groupId: GROUP_ID,
      fromPort: 5432,
      cidr: '198.51.100.9/32',
      tags: {
        'managed-by': 'hallpass',
        'hallpass:deployment': 'default',
        'hallpass:grant-id': 'grt_unknown00000001',
        'hallpass:requester': REQUESTER,
        'hallpass:expires-at': new Date(h.clock.now().getTime() + 30 * MINUTE).toISOString(),
      },
    });
    await h.advance(MINUTE);
    await h.slack.waitFor(() => topLevel(h, ALERTS, 'hallpass reconciliation').length === 1 || undefined);
    await h.slack.waitFor(() => topLevel(h, CHANNEL, 'hallpass reconciliation').length === 1 || undefined);
    expect(allText(topLevel(h, ALERTS, 'hallpass reconciliation')[0])).toContain(orphan.id);
    expect((await scrape(h)).get('hallpass_reconcile_findings_total{kind="orphan"}')).toBe(1);
  });

  it('posts a published audit head whose tables disagree with the chain in the alerts channel too', async () => {
    const audit = 'C0AUDIT01';
    h = await startHarness({
      policy: POLICY_WITH_ALERTS.replace(
        'admins: ["@security"]',
        `admins: ["@security"]\nauditChannel: ${audit}`,
      ),
    });
    const requestedAt = h.clock.now();
    await h.command(REQUESTER, `prod-db 30m from ${ADDRESS} debugging`);
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1 || undefined);
    expect(topLevel(h, ALERTS, 'hallpass audit head')).toEqual([]);
    await h.db.tamper([
      "UPDATE requests SET reason = 'nothing to see' WHERE created_at = ?",
      [requestedAt.getTime()],
    ]);
    await h.advance(24 * 60 * MINUTE);
    await h.slack.waitFor(() => topLevel(h, ALERTS, 'disagree with the chain').length === 1 || undefined);
    expect(topLevel(h, audit, 'disagree with the chain')).toHaveLength(1);
  });

  it('posts a stranded grant at the top level of its channel and in the alerts channel, once', async () => {
    h = await startHarness({ policy: POLICY_WITH_ALERTS });
    await askAndApprove(h, `prod-db 30m from ${ADDRESS} stranded`);
    const edited = POLICY_WITH_ALERTS.replace(
      '    ports: [5432]\n    maxDuration: 1h',
      '    ports: [6432]\n    maxDuration: 1h',
    );
    expect(edited).not.toBe(POLICY_WITH_ALERTS);
    h = await h.restart({ policy: edited });
    await h.slack.waitFor(() => topLevel(h, ALERTS, 'no longer describes').length === 1 || undefined);
    await h.slack.waitFor(() => topLevel(h, CHANNEL, 'no longer describes').length === 1 || undefined);
    // Started again with the same policy: nothing new to say.
    h = await h.restart({ policy: edited });
    await h.hallpass.settled();
    expect(topLevel(h, ALERTS, 'no longer describes')).toHaveLength(1);
    expect(topLevel(h, CHANNEL, 'no longer describes')).toHaveLength(1);
  });
});
