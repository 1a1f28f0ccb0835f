import { ACTION } from '../../src/adapters/slack/ids';
import { startHallpass } from '../../src/compose';
import { loadEnv } from '../../src/config';
import {
  APPROVER,
  APPROVER_2,
  GROUP_ID,
  type Harness,
  MemoryLogger,
  REQUESTER,
  startHarness,
  testEngine,
} from '../support/harness';
import {
  allText,
  approvalPosts,
  buttonValue,
  dmsTo,
  lastRequestId,
  threadPosts,
} from '../support/slack-queries';

const MINUTE = 60_000;
const ADDRESS = '203.0.113.7';

async function askAndApprove(h: Harness, requester: string, text: string, approver: string): Promise<string> {
  const before = approvalPosts(h.slack).length;
  await h.command(requester, text);
  await h.slack.waitFor(() => approvalPosts(h.slack).length > before);
  const requestId = lastRequestId(h);
  await h.click(approver, ACTION.approveRequest, requestId);
  await h.slack.waitFor(
    async () => (await h.hallpass.useCases.cardOf(requestId))?.grant?.state === 'active' || undefined,
  );
  return requestId;
}

const revokes = (h: Harness) => h.ec2.calls.filter((c) => c.action === 'RevokeSecurityGroupIngress');
const authorizes = (h: Harness) => h.ec2.calls.filter((c) => c.action === 'AuthorizeSecurityGroupIngress');

describe('two grants for the same address and port share one EC2 rule', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('keeps the rule open until the later grant ends when the earlier one expires first', async () => {
    const first = await askAndApprove(h, REQUESTER, `prod-db 30m from ${ADDRESS} first`, APPROVER);
    await h.advance(10 * MINUTE);
    const second = await askAndApprove(h, APPROVER, `prod-db 1h from ${ADDRESS} second`, APPROVER_2);

    // One rule, one AWS call: the second grant took a reference on the first one's rule.
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    expect(authorizes(h)).toHaveLength(1);
    const secondGrant = (await h.hallpass.useCases.cardOf(second))?.grant;
    // The rule's expiry tag follows whichever holder ends last, so reconciliation never closes it early.
    expect(h.ec2.rules(GROUP_ID)[0]?.tags['hallpass:expires-at']).toBe(secondGrant?.expiresAt.toISOString());

    await h.advance(20 * MINUTE); // the first grant's expires_at
    expect((await h.hallpass.useCases.cardOf(first))?.grant?.state).toBe('closed');
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    expect(revokes(h)).toHaveLength(0);

    await h.advance(40 * MINUTE - 1); // just before the second grant's expiry
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    await h.advance(1);
    expect((await h.hallpass.useCases.cardOf(second))?.grant?.state).toBe('closed');
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
    expect(revokes(h)).toHaveLength(1);
  });

  it('keeps the rule open for the longer grant when a shorter one that started later ends first', async () => {
    const long = await askAndApprove(h, REQUESTER, `prod-db 1h from ${ADDRESS} long`, APPROVER);
    await h.advance(5 * MINUTE);
    const short = await askAndApprove(h, APPROVER, `prod-db 10m from ${ADDRESS} short`, APPROVER_2);
    const longGrant = (await h.hallpass.useCases.cardOf(long))?.grant;
    // The tag keeps the later (first) grant's expiry: a shorter holder never pulls it earlier.
    expect(h.ec2.rules(GROUP_ID)[0]?.tags['hallpass:expires-at']).toBe(longGrant?.expiresAt.toISOString());

    await h.advance(10 * MINUTE);
    expect((await h.hallpass.useCases.cardOf(short))?.grant?.state).toBe('closed');
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    await h.advance(45 * MINUTE);
    expect((await h.hallpass.useCases.cardOf(long))?.grant?.state).toBe('closed');
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
  });

  it('does not share between different addresses: each grant gets and loses its own rule', async () => {
    const a = await askAndApprove(h, REQUESTER, `prod-db 30m from ${ADDRESS} a`, APPROVER);
    const b = await askAndApprove(h, APPROVER, 'prod-db 45m from 198.51.100.20 b', APPROVER_2);
    expect(
      h.ec2
        .rules(GROUP_ID)
        .map((r) => r.cidr)
        .sort(),
    ).toEqual(['198.51.100.20/32', '203.0.113.7/32']);
    await h.advance(30 * MINUTE);
    expect((await h.hallpass.useCases.cardOf(a))?.grant?.state).toBe('closed');
    expect(h.ec2.rules(GROUP_ID).map((r) => r.cidr)).toEqual(['198.51.100.20/32']);
    await h.advance(15 * MINUTE);
    expect((await h.hallpass.useCases.cardOf(b))?.grant?.state).toBe('closed');
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
  });
});

describe('restarts', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('closes and announces at start-up a grant that came due while hallpass was down', async () => {
    const requestId = await askAndApprove(h, REQUESTER, `prod-db 30m from ${ADDRESS} overdue`, APPROVER);
    const expiresAt = (await h.hallpass.useCases.cardOf(requestId))?.grant?.expiresAt;
    await h.stopBot();

    // Down for 45 minutes: the grant came due 15 minutes ago and nothing closed it.
    h.clock.advance(45 * MINUTE);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);

    h = await h.restart();
    // Start-up catches up before serving.
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
    const grant = (await h.hallpass.useCases.cardOf(requestId))?.grant;
    expect(grant).toMatchObject({ state: 'closed', endReason: 'expired' });
    // Planned and actual end stay apart: ended_at is when AWS confirmed the close.
    expect(grant?.expiresAt).toEqual(expiresAt);
    expect(grant?.endedAt?.getTime()).toBe((expiresAt?.getTime() ?? 0) + 15 * MINUTE);
    await h.slack.waitFor(() => threadPosts(h.slack).some((c) => /closed|ended/i.test(allText(c))));
    await h.slack.waitFor(() => dmsTo(h.slack, REQUESTER).some((c) => /closed|ended/i.test(allText(c))));
  });

  it('refuses a second hallpass beside the running one before any AWS call (SQLite: its file; PostgreSQL: its port)', async () => {
    await askAndApprove(h, REQUESTER, `prod-db 30m from ${ADDRESS} running`, APPROVER);
    // A start that touched AWS first would reconcile the policy's group (DescribeSecurityGroupRules).
    const before = h.ec2.calls.length;
    const env = loadEnv({
      SLACK_BOT_TOKEN: 'xoxb-second',
      SLACK_SIGNING_SECRET: 'second-signing-secret',
      SLACK_API_URL: h.slack.apiUrl,
      PORT: String(h.hallpass.port),
      HALLPASS_DB: h.dbPath,
      HALLPASS_RECONCILE_INTERVAL: '60s',
    });
    if (!env.ok) throw new Error(env.section.problems.join('\n'));
    const second = startHallpass({
      env: env.value,
      policy: h.policy,
      logger: new MemoryLogger(),
      clock: h.clock,
      timers: h.clock,
    });
    // On PostgreSQL several replicas may share the database; the port is this one's all the same.
    await expect(second).rejects.toThrow(
      testEngine() === 'postgres'
        ? /^PORT: port \d+ is already in use/
        : /^HALLPASS_DB: another hallpass process holds/,
    );
    expect(h.ec2.calls.slice(before)).toEqual([]);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
  });

  it('re-arms the expiry timer from the database after a restart', async () => {
    const requestId = await askAndApprove(h, REQUESTER, `prod-db 30m from ${ADDRESS} still open`, APPROVER);
    const grant = (await h.hallpass.useCases.cardOf(requestId))?.grant;
    const expiresAt = grant?.expiresAt;
    await h.stopBot();
    h.clock.advance(10 * MINUTE);
    h = await h.restart();
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    const warnAt = new Date((expiresAt?.getTime() ?? 0) - 5 * MINUTE);
    const now = h.clock.now().getTime();
    if (h.db.engine === 'sqlite') {
      // Armed from the database: first the 5-minute warning, then the expiry itself. (The outbox's
      // 30-second look for deliveries another process queued is the only timer before it.)
      expect(h.clock.timersAt()).toContainEqual(warnAt);
      expect(h.clock.timersAt().filter((t) => t < warnAt)).toEqual([new Date(now + 30_000)]);
    } else {
      // On PostgreSQL the scheduler also reads the due times again every second (PG_POLL_MS), in case
      // another replica's change went unheard, so that look is armed before the warning's own time.
      expect(h.clock.timersAt().filter((t) => t < warnAt)).toEqual([
        new Date(now + 1_000),
        new Date(now + 30_000),
      ]);
    }
    // On both, the warning comes at its time and not before, and the grant closes at its end.
    const warnings = () =>
      dmsTo(h.slack, REQUESTER).filter(
        (c) => buttonValue(c, ACTION.doneGrant) === grant?.id && /ends/i.test(allText(c)),
      ).length;
    await h.advance(warnAt.getTime() - now - 1);
    expect(warnings()).toBe(0);
    await h.advance(1);
    await h.slack.waitFor(() => warnings() === 1 || undefined);
    await h.advance(5 * MINUTE);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.endedAt).toEqual(expiresAt);
  });

  it('times out at start-up a request whose approval deadline passed while hallpass was down', async () => {
    await h.command(REQUESTER, `prod-db 30m from ${ADDRESS} nobody around`);
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    const requestId = lastRequestId(h);
    await h.stopBot();
    h.clock.advance(31 * MINUTE);
    h = await h.restart();
    expect((await h.hallpass.useCases.cardOf(requestId))?.request.state).toBe('timed_out');
    // A late click cannot approve it.
    await h.click(APPROVER, ACTION.approveRequest, requestId);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
  });
});

describe('Slack trouble never holds up a close', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('revokes every due rule on time even when every Slack call fails', async () => {
    const a = await askAndApprove(h, REQUESTER, `prod-db 30m from ${ADDRESS} a`, APPROVER);
    const b = await askAndApprove(h, APPROVER, 'prod-db 30m from 198.51.100.20 b', APPROVER_2);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(2);
    for (let i = 0; i < 20; i++) {
      h.slack.failNext('chat.postMessage', { status: 500 });
      h.slack.failNext('chat.update', { status: 500 });
    }
    await h.advance(30 * MINUTE);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
    expect((await h.hallpass.useCases.cardOf(a))?.grant?.state).toBe('closed');
    expect((await h.hallpass.useCases.cardOf(b))?.grant?.state).toBe('closed');
    expect(h.logger.lines.some((l) => l.msg === 'slack delivery failed; will retry')).toBe(true);
  });
});

describe('a close that keeps failing', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('is retried with backoff, raised loudly in the channel after three attempts, and never forgotten across a restart', async () => {
    const requestId = await askAndApprove(
      h,
      REQUESTER,
      `prod-db 30m from ${ADDRESS} stubborn rule`,
      APPROVER,
    );
    h.ec2.failNext('RevokeSecurityGroupIngress', 'UnauthorizedOperation', 403, 100);
    const failing = () => threadPosts(h.slack).filter((c) => allText(c).includes('could not close'));

    await h.advance(30 * MINUTE);
    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.state).toBe('closing');
    for (let i = 0; i < 2; i++) await h.advance(70_000);
    await h.slack.waitFor(() => failing().length === 1 || undefined);
    // Said in words: the AWS code stays in the log (no AWS error name reaches Slack).
    expect(allText(failing()[0])).toContain(
      'not allowed (hallpass is missing an AWS permission): RevokeSecurityGroupIngress failed (HTTP 403)',
    );
    expect(allText(failing()[0])).not.toContain('UnauthorizedOperation');
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);

    // Restarted while still failing: the grant is still closing and still retried.
    h = await h.restart();
    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.state).toBe('closing');
    h.ec2.clearFaults();
    await h.advance(70_000);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.state).toBe('closed');
  });
});

describe('Slack down', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('keeps notices that could not be posted and delivers them when Slack answers again', async () => {
    for (let i = 0; i < 2; i++) h.slack.failNext('chat.postMessage', { status: 500 });
    await h.command(REQUESTER, `prod-db 30m from ${ADDRESS} slack is down`);
    // The approval message could not be posted: nothing in the channel yet, the request is pending and kept.
    expect(approvalPosts(h.slack).filter((c) => c.ok)).toHaveLength(0);
    const [pending] = (await h.hallpass.useCases.overview()).pending;
    expect(pending?.message).toBeUndefined();

    // Still down at the first retry (15 s later), back at the second (30 s after that).
    await h.advance(20_000);
    expect(approvalPosts(h.slack).filter((c) => c.ok)).toHaveLength(0);
    await h.advance(40_000);
    await h.slack.waitFor(() => approvalPosts(h.slack).some((c) => c.ok) || undefined);
    const requestId = lastRequestId(h);
    expect(requestId).toBe(pending?.id);
    await h.click(APPROVER, ACTION.approveRequest, requestId);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
  });

  it('delivers the end notice later when Slack was down at expiry, without holding up the close', async () => {
    const requestId = await askAndApprove(
      h,
      REQUESTER,
      `prod-db 30m from ${ADDRESS} ends during an outage`,
      APPROVER,
    );
    h.slack.outage({ status: 503 }, ['chat.postMessage']);
    await h.advance(30 * MINUTE);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
    const endNotices = () => threadPosts(h.slack).filter((c) => c.ok && /closed/.test(allText(c)));
    for (let i = 0; i < 5; i++) await h.advance(60_000);
    expect(endNotices()).toHaveLength(0);
    h.slack.restore();
    for (let i = 0; i < 3; i++) await h.advance(60_000);
    await h.slack.waitFor(() => endNotices().length === 1 || undefined);
    await h.slack.waitFor(
      () => dmsTo(h.slack, REQUESTER).some((c) => c.ok && /closed/.test(allText(c))) || undefined,
    );
    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.state).toBe('closed');
  });
});
