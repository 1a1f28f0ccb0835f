import { ACTION } from '../../src/adapters/slack/ids';
import { APPROVER, CHANNEL, GROUP_ID, type Harness, REQUESTER, startHarness } from '../support/harness';
import {
  allText,
  approvalPosts,
  dmsTo,
  lastRequestId,
  privateReplies,
  threadPosts,
} from '../support/slack-queries';

const MINUTE = 60_000;

describe('the whole path: /access → approval → rule opened → closed on time', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('opens a tagged rule on approval and closes it exactly at expires_at, announcing each step', async () => {
    // Arrange / act: the requester asks.
    const asked = await h.command(REQUESTER, 'prod-db 30m from 203.0.113.7 debugging slow queries');
    expect(asked.status).toBe(200);
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);

    const [card] = approvalPosts(h.slack);
    expect(card?.args['channel']).toBe(CHANNEL);
    const cardText = allText(card);
    expect(cardText).toContain(`<@${REQUESTER}>`);
    expect(cardText).toContain('prod-db');
    expect(cardText).toContain('203.0.113.7/32');
    expect(cardText).toContain('tcp 5432');
    expect(cardText).toContain('debugging slow queries');
    expect(cardText).toContain('Approve');
    expect(cardText).toContain('Deny');
    await h.slack.waitFor(() => privateReplies(h.slack, REQUESTER).length === 1);
    const requestId = lastRequestId(h);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);

    // The clock starts at approval, not at the request.
    await h.advance(2 * MINUTE);
    const approvedAt = h.clock.now();
    await h.click(APPROVER, ACTION.approveRequest, requestId);
    await h.slack.waitFor(() => threadPosts(h.slack).some((c) => allText(c).includes('until')));

    const rules = h.ec2.rules(GROUP_ID);
    expect(rules).toHaveLength(1);
    const rule = rules[0];
    const grant = (await h.hallpass.useCases.cardOf(requestId))?.grant;
    expect(grant?.state).toBe('active');
    const expiresAt = new Date(approvedAt.getTime() + 30 * MINUTE);
    expect(grant?.expiresAt.toISOString()).toBe(expiresAt.toISOString());
    expect(rule).toMatchObject({ protocol: 'tcp', fromPort: 5432, toPort: 5432, cidr: '203.0.113.7/32' });
    expect(rule?.tags).toEqual({
      'managed-by': 'hallpass',
      'hallpass:deployment': 'default',
      'hallpass:grant-id': grant?.id,
      'hallpass:requester': REQUESTER,
      'hallpass:expires-at': expiresAt.toISOString(),
    });
    expect(rule?.description).toContain(grant?.id);

    // The approval message was updated in place: buttons gone, who approved.
    const updates = h.slack.callsTo('chat.update');
    const lastUpdate = updates[updates.length - 1];
    expect(lastUpdate?.args['ts']).toBe((await h.hallpass.useCases.cardOf(requestId))?.request.message?.ts);
    expect(JSON.stringify(lastUpdate?.args['blocks'])).not.toContain(ACTION.approveRequest);
    expect(allText(lastUpdate)).toContain(`<@${APPROVER}>`);
    // Start notice in the thread and to the requester, with the exact end time.
    expect(threadPosts(h.slack).some((c) => allText(c).includes(expiresAt.toISOString()))).toBe(true);
    await h.slack.waitFor(() =>
      dmsTo(h.slack, REQUESTER).some((c) => allText(c).includes(expiresAt.toISOString())),
    );

    // One millisecond early: still open.
    await h.advance(30 * MINUTE - 1);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    // At expires_at: closed, recorded, announced.
    await h.advance(1);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
    const ended = (await h.hallpass.useCases.cardOf(requestId))?.grant;
    expect(ended).toMatchObject({ state: 'closed', endReason: 'expired' });
    expect(ended?.endedAt?.getTime()).toBe(expiresAt.getTime());
    await h.slack.waitFor(() => threadPosts(h.slack).some((c) => /ended|closed/i.test(allText(c))));
    await h.slack.waitFor(() => dmsTo(h.slack, REQUESTER).some((c) => /ended|closed/i.test(allText(c))));
    expect(h.ec2.calls.filter((c) => c.action === 'RevokeSecurityGroupIngress')).toHaveLength(1);

    // Every transition is on the record, with actor and exact time.
    const trail = await h.hallpass.useCases.auditTrail(requestId);
    expect(trail.map((e) => [e.type, e.actor])).toEqual([
      ['request.submitted', REQUESTER],
      ['request.approval_recorded', APPROVER],
      ['request.approved', APPROVER],
      ['grant.opened', 'hallpass'],
      ['grant.closing', 'hallpass'],
      ['grant.closed', 'hallpass'],
    ]);
    expect(trail.find((e) => e.type === 'request.approved')?.at).toEqual(approvedAt);
    expect(trail.find((e) => e.type === 'grant.closed')?.at).toEqual(expiresAt);
    expect(trail.find((e) => e.type === 'grant.opened')?.details?.['ruleIds']).toEqual([rule?.id]);
  });
});

describe('auto-approved resources', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('opens an IPv6 rule without a vote, still announces it in the channel, and closes it on time', async () => {
    await h.command(REQUESTER, 'staging-db 15m from 2001:DB8::7 quick look at staging');
    await h.slack.waitFor(() => h.ec2.rules(GROUP_ID).length === 1 || undefined);
    const [rule] = h.ec2.rules(GROUP_ID);
    expect(rule).toMatchObject({ family: 6, cidr: '2001:db8::7/128', fromPort: 5432 });

    // Announced: the channel gets a message (without buttons) and a start notice in its thread.
    await h.slack.waitFor(() => threadPosts(h.slack).length > 0);
    const [card] = approvalPosts(h.slack);
    expect(JSON.stringify(card?.args['blocks'])).not.toContain(ACTION.approveRequest);
    const { active } = await h.hallpass.useCases.overview();
    expect(active).toHaveLength(1);
    const trail = await h.hallpass.useCases.auditTrail(active[0]?.request.id ?? '');
    expect(trail.find((e) => e.type === 'request.approved')).toMatchObject({
      actor: 'hallpass',
      details: { auto: true },
    });

    await h.advance(15 * MINUTE);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
    expect((await h.hallpass.useCases.overview()).active).toHaveLength(0);
  });
});
