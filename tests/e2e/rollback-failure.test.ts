import { CHANNEL, GROUP_ID, type Harness, REQUESTER, startHarness } from '../support/harness';
import { allText, dmsTo, threadPosts } from '../support/slack-queries';

/**
 * Issue 8, part 4: a failed rollback never leaves a rule open in silence. When opening fails on a
 * later port and the rollback revoke fails too, the grant is recorded (`grant.failed`, rollback
 * failed) and moved to `closing` in one transaction, the requester and the channel are told that
 * something is still being closed, a timer is armed for it at once (a `closing` grant is due now), and
 * the scheduler revokes the rule and says so.
 */

const SECOND = 1_000;
const ADDRESS = '203.0.113.7';
const POLICY = `
admins: ["UADMIN1"]
resources:
  - id: web
    kind: security-group
    region: us-east-1
    securityGroupId: ${GROUP_ID}
    ports: [443, "8000-8080"]
    maxDuration: 1h
    channel: ${CHANNEL}
    autoApprove: true
`;

describe('a rollback that fails too', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ policy: POLICY });
  });
  afterEach(async () => {
    await h.close();
  });

  it('is recorded and announced, keeps a timer, and the rule is closed by the scheduler', async () => {
    h.ec2.failNext('AuthorizeSecurityGroupIngress', 'RulesPerSecurityGroupLimitExceeded', 400, 1, {
      skip: 1,
    });
    h.ec2.failNext('RevokeSecurityGroupIngress', 'UnauthorizedOperation', 403, 1);
    await h.command(REQUESTER, `web 30m from ${ADDRESS} deploying`);

    // Port 443 opened, 8000-8080 refused, and the rollback of 443 refused too.
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    const [entry] = (await h.hallpass.useCases.overview()).active;
    expect(entry?.grant.state).toBe('closing');
    expect(entry?.request.state).toBe('failed');
    const requestId = entry?.request.id ?? '';
    const grantId = entry?.grant.id ?? '';
    expect(entry?.request.note).toContain('keeps closing it');

    // Recorded with its audit event, in the same step…
    const failed = (await h.hallpass.useCases.auditTrail(requestId)).filter((e) => e.type === 'grant.failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.details).toMatchObject({
      rollback: 'failed',
      stillOpenRuleIds: [h.ec2.rules()[0]?.id],
    });
    // …told to the requester and the channel, without pretending nothing happened…
    const told = (calls: ReturnType<typeof threadPosts>) =>
      calls.filter((c) => c.ok && /failed/.test(allText(c)) && /keeps closing it/.test(allText(c)));
    expect(told(threadPosts(h.slack))).toHaveLength(1);
    expect(told(dmsTo(h.slack, REQUESTER))).toHaveLength(1);
    // …and due at once: a timer is armed for it, not for its planned end half an hour away.
    const next = h.clock.nextTimerAt();
    expect(next).toBeDefined();
    expect((next?.getTime() ?? Number.POSITIVE_INFINITY) - h.clock.now().getTime()).toBeLessThanOrEqual(
      SECOND,
    );

    await h.advance(SECOND);
    expect(h.ec2.rules(GROUP_ID)).toEqual([]);
    const grant = await h.hallpass.useCases.grantOf(grantId);
    expect(grant).toMatchObject({ state: 'failed', endReason: 'failed' });
    expect(grant?.endedAt).toEqual(h.clock.now());
    const closedEvents = (await h.hallpass.useCases.auditTrail(requestId)).filter(
      (e) => e.type === 'grant.closed',
    );
    expect(closedEvents).toHaveLength(1);
    expect(closedEvents[0]?.details?.['revokedRuleIds']).toEqual(failed[0]?.details?.['stillOpenRuleIds']);
    expect(
      threadPosts(h.slack).filter((c) => c.ok && allText(c).includes(`What failed request ${requestId}`)),
    ).toHaveLength(1);
  });
});
