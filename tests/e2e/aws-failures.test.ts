import { DEFAULT_MAX_ATTEMPTS } from '../../src/adapters/aws/aws-clients';
import { ACTION } from '../../src/adapters/slack/ids';
import {
  APPROVER,
  APPROVER_2,
  DEFAULT_POLICY,
  GROUP_ID,
  type Harness,
  REQUESTER,
  startHarness,
} from '../support/harness';
import {
  allText,
  cardMessage,
  dmsTo,
  ec2Changes,
  lastRequestId,
  messageText,
  replyAfter,
  threadPosts,
} from '../support/slack-queries';

/**
 * AWS refusing or stumbling while a grant opens: the request fails in plain words, and nothing
 * hallpass opened is left behind; what AWS only answered slowly, or already had, is not a failure.
 */

const MINUTE = 60_000;
const ADDRESS = '203.0.113.7';
const AUTHORIZE = 'AuthorizeSecurityGroupIngress';
const REVOKE = 'RevokeSecurityGroupIngress';
/** What the requester and the channel read when hallpass lacks the EC2 permission. */
const NO_PERMISSION = 'hallpass is not allowed to change this security group';

async function ask(h: Harness, text: string): Promise<string> {
  const since = h.slack.calls.length;
  await h.command(REQUESTER, text);
  await replyAfter(h.slack, REQUESTER, since);
  return lastRequestId(h);
}

/** Waits until the request's grant has settled (active or failed) and the requester has been told. */
async function settled(h: Harness, requestId: string): Promise<void> {
  await h.slack.waitFor(async () => {
    const card = await h.hallpass.useCases.cardOf(requestId);
    const grant = card?.grant;
    if (grant === undefined) return false;
    const told = dmsTo(h.slack, REQUESTER).map(allText);
    if (grant.state === 'active') return told.some((t) => t.includes(grant.id) && t.includes('is open'));
    if (grant.state === 'failed') return told.some((t) => t.includes(requestId) && t.includes('failed'));
    return false;
  }, 10_000);
}

/**
 * Fails the `n`th call of `action` from now (1-based), letting the ones before it through. The fake's
 * `failNext` only aims at the very next call; this arms it the moment call `n` arrives, which the
 * fake records before it consults its fault queue.
 */
function failNthCall(h: Harness, action: string, n: number, code: string, status: number): void {
  const calls = h.ec2.calls;
  const seen = calls.filter((c) => c.action === action).length;
  const push = calls.push.bind(calls);
  calls.push = (...items) => {
    const length = push(...items);
    if (
      items.some((c) => c.action === action) &&
      calls.filter((c) => c.action === action).length === seen + n
    ) {
      h.ec2.failNext(action, code, status);
    }
    return length;
  };
}

describe('AWS failures while opening a grant', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('fails the request in plain words when AWS refuses the authorize, leaving no rule', async () => {
    const requestId = await ask(h, `prod-db 30m from ${ADDRESS} debugging`);
    h.ec2.failNext(AUTHORIZE, 'UnauthorizedOperation', 403);

    await h.click(APPROVER, ACTION.approveRequest, requestId);
    await settled(h, requestId);

    const card = await h.hallpass.useCases.cardOf(requestId);
    expect(card?.request.state).toBe('failed');
    expect(card?.grant).toMatchObject({ state: 'failed', endReason: 'failed' });
    expect(card?.request.note).toContain(NO_PERMISSION);
    const dm = dmsTo(h.slack, REQUESTER).find((c) => allText(c).includes('failed'));
    expect(allText(dm)).toContain(NO_PERMISSION);
    await h.slack.waitFor(() => threadPosts(h.slack).some((c) => allText(c).includes(NO_PERMISSION)));
    const shown = messageText(await cardMessage(h, requestId));
    expect(shown).toContain('Failed');
    expect(shown).toContain('nothing is open for this request');
    expect(JSON.stringify((await cardMessage(h, requestId))?.blocks)).not.toContain(ACTION.approveRequest);
    // No raw AWS error code or message: people read this.
    expect(allText(dm)).not.toContain('Injected fault');
    expect(h.ec2.rules(GROUP_ID)).toEqual([]);
    expect(ec2Changes(h, AUTHORIZE)).toHaveLength(1);
    expect(ec2Changes(h, REVOKE)).toEqual([]);
    expect((await h.hallpass.useCases.overview()).active).toEqual([]);
  });

  it('revokes the first port again when the second port of a two-port resource is refused', async () => {
    const requestId = await ask(h, `prod-web 30m from ${ADDRESS} deploying`);
    await h.click(APPROVER, ACTION.approveRequest, requestId);
    await h.slack.waitFor(async () => (await h.hallpass.useCases.cardOf(requestId))?.approvals.length === 1);
    failNthCall(h, AUTHORIZE, 2, 'UnauthorizedOperation', 403);

    await h.click(APPROVER_2, ACTION.approveRequest, requestId);
    await settled(h, requestId);

    const authorizes = ec2Changes(h, AUTHORIZE);
    expect(authorizes.map((c) => c.params['IpPermissions.1.FromPort'])).toEqual(['443', '8000']);
    const revokes = ec2Changes(h, REVOKE);
    expect(revokes).toHaveLength(1);
    expect(h.ec2.rules(GROUP_ID)).toEqual([]);
    const card = await h.hallpass.useCases.cardOf(requestId);
    expect(card?.request.state).toBe('failed');
    expect(card?.grant?.state).toBe('failed');
    expect(card?.request.note).toContain(NO_PERMISSION);
    expect((await h.hallpass.useCases.overview()).active).toEqual([]);
    // Nothing is left for the expiry sweep either.
    await h.advance(30 * MINUTE);
    expect(ec2Changes(h, REVOKE)).toHaveLength(1);
  });

  it('adopts a hand-made rule that already exists (InvalidPermission.Duplicate) and leaves it in place at expiry', async () => {
    const handMade = h.ec2.addRule({
      groupId: GROUP_ID,
      protocol: 'tcp',
      fromPort: 5432,
      cidr: `${ADDRESS}/32`,
    });
    const requestId = await ask(h, `prod-db 30m from ${ADDRESS} debugging`);

    await h.click(APPROVER, ACTION.approveRequest, requestId);
    await settled(h, requestId);

    const grant = (await h.hallpass.useCases.cardOf(requestId))?.grant;
    expect(grant?.state).toBe('active');
    expect(ec2Changes(h, AUTHORIZE)).toHaveLength(1);
    // Not ours: neither retagged as hallpass's nor revoked.
    expect(ec2Changes(h, 'CreateTags')).toEqual([]);
    expect(h.ec2.rules(GROUP_ID)).toEqual([handMade]);

    await h.advance(30 * MINUTE);

    expect((await h.hallpass.useCases.cardOf(requestId))?.grant).toMatchObject({
      state: 'closed',
      endReason: 'expired',
    });
    expect(ec2Changes(h, REVOKE)).toEqual([]);
    expect(h.ec2.rules(GROUP_ID)).toEqual([handMade]);
  });

  it('ends active when the first authorize is throttled once (the SDK retries it)', async () => {
    const requestId = await ask(h, `prod-db 30m from ${ADDRESS} debugging`);
    h.ec2.failNext(AUTHORIZE, 'RequestLimitExceeded', 503);

    await h.click(APPROVER, ACTION.approveRequest, requestId);
    await settled(h, requestId);

    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.state).toBe('active');
    expect(ec2Changes(h, AUTHORIZE)).toHaveLength(2);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    expect(h.ec2.rules(GROUP_ID)[0]?.tags['hallpass:grant-id']).toBe(
      (await h.hallpass.useCases.cardOf(requestId))?.grant?.id,
    );
  });

  it('revokes the first port too when its answer was lost and the retry found it as a duplicate', async () => {
    // Port 443 is created but the answer is a 500; the SDK retries, meets InvalidPermission.Duplicate
    // and finds the rule, tagged with this very grant. Then port 8000-8080 is refused.
    const requestId = await ask(h, `prod-web 30m from ${ADDRESS} deploying`);
    await h.click(APPROVER, ACTION.approveRequest, requestId);
    await h.slack.waitFor(async () => (await h.hallpass.useCases.cardOf(requestId))?.approvals.length === 1);
    h.ec2.failNext(AUTHORIZE, 'InternalError', 500, 1, { afterApply: true });
    failNthCall(h, AUTHORIZE, 3, 'UnauthorizedOperation', 403);

    await h.click(APPROVER_2, ACTION.approveRequest, requestId);
    await settled(h, requestId);

    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.state).toBe('failed');
    expect(ec2Changes(h, AUTHORIZE).map((c) => c.params['IpPermissions.1.FromPort'])).toEqual([
      '443',
      '443',
      '8000',
    ]);
    expect(h.ec2.rules(GROUP_ID)).toEqual([]);
  });
});

describe('AWS stalling while closing a grant', () => {
  const OTHER_GROUP = 'sg-0fedcba9876543210';
  let h: Harness;
  beforeEach(async () => {
    // staging-db (approved by itself) on a group of its own, so its close is another batch.
    const policy = DEFAULT_POLICY.replace(
      /(- id: staging-db\n(?:.*\n)*?\s+securityGroupId: )\S+/,
      `$1${OTHER_GROUP}`,
    );
    expect(policy).toContain(OTHER_GROUP);
    h = await startHarness({ policy, env: { HALLPASS_AWS_TIMEOUT: '1s' } });
    h.ec2.addGroup(OTHER_GROUP);
  });
  afterEach(async () => {
    await h.close();
  });

  it('fails a revoke EC2 never answers after the timeout, closes the grants behind it, and retries it', async () => {
    const dbRequest = await ask(h, `prod-db 30m from ${ADDRESS} debugging`);
    await h.click(APPROVER, ACTION.approveRequest, dbRequest);
    await settled(h, dbRequest);
    await h.command(REQUESTER, `staging-db 31m from ${ADDRESS} comparing`);
    const staging = await h.slack.waitFor(async () =>
      (await h.hallpass.useCases.overview()).active.find((e) => e.request.resourceId === 'staging-db'),
    );
    const stagingRequest = staging.request.id;
    const grantOf = async (requestId: string) => (await h.hallpass.useCases.cardOf(requestId))?.grant;
    expect((await grantOf(stagingRequest))?.state).toBe('active');
    // Every attempt the SDK makes at prod-db's revoke is accepted and never answered.
    h.ec2.stallNext(REVOKE, DEFAULT_MAX_ATTEMPTS);

    // prod-db's end: without a bound on each attempt this never returns (the pass waits on the call).
    await h.advance(30 * MINUTE);

    expect(h.ec2.stalledCount()).toBe(DEFAULT_MAX_ATTEMPTS);
    expect((await grantOf(dbRequest))?.state).toBe('closing');
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);

    // staging-db's end, and the retry of prod-db's close (due a second or two after it failed).
    await h.advance(MINUTE);

    expect((await grantOf(stagingRequest))?.state).toBe('closed');
    expect(await grantOf(dbRequest)).toMatchObject({ state: 'closed', endReason: 'expired' });
    expect(h.ec2.rules(GROUP_ID)).toEqual([]);
    expect(h.ec2.rules(OTHER_GROUP)).toEqual([]);
    expect(h.ec2.stalledCount()).toBe(DEFAULT_MAX_ATTEMPTS);
  }, 60_000);
});
