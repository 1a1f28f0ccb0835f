import { ACTION, CALLBACK } from '../../src/adapters/slack/ids';
import { errorText } from '../../src/adapters/slack/views/errors';
import { err } from '../../src/domain/result';
import {
  APPROVER,
  APPROVER_2,
  CHANNEL,
  GROUP_ID,
  type Harness,
  OUTSIDER,
  REQUESTER,
  startHarness,
} from '../support/harness';
import {
  allText,
  approvalPosts,
  cardMessage,
  dmsTo,
  ec2Changes,
  lastRequestId,
  messageText,
  replyAfter,
  threadPosts,
} from '../support/slack-queries';
import { denyModalValues } from '../support/slack-signing';

/**
 * Who may decide, and when: every refused click or modal answers the clicker privately and
 * leaves the request, the approval message and AWS exactly as they were.
 */

const MINUTE = 60_000;
const ADDRESS = '203.0.113.7';

/** `/access <text>` as `user`; waits until the approval message is posted and the requester answered. */
async function ask(h: Harness, text: string, user = REQUESTER): Promise<string> {
  const since = h.slack.calls.length;
  await h.command(user, text);
  const reply = await replyAfter(h.slack, user, since);
  expect(reply).toContain('for approval');
  return lastRequestId(h);
}

/** Clicks Approve and returns the private answer (only for clicks that are refused). */
async function refusedApprove(h: Harness, user: string, requestId: string): Promise<string> {
  const since = h.slack.calls.length;
  await h.click(user, ACTION.approveRequest, requestId);
  return replyAfter(h.slack, user, since);
}

/** Approves and waits until the requester is told the access is open. */
async function approveAndWaitOpen(h: Harness, user: string, requestId: string): Promise<void> {
  await h.click(user, ACTION.approveRequest, requestId);
  await h.slack.waitFor(async () => {
    const grant = (await h.hallpass.useCases.cardOf(requestId))?.grant;
    return (
      grant?.state === 'active' &&
      dmsTo(h.slack, REQUESTER).some((c) => allText(c).includes(grant.id) && allText(c).includes('is open'))
    );
  });
}

/** What a refused action must leave alone, captured before it. */
async function snapshot(h: Harness, requestId: string) {
  const card = await h.hallpass.useCases.cardOf(requestId);
  return {
    request: card?.request,
    approvals: card?.approvals,
    grant: card?.grant,
    message: await cardMessage(h, requestId),
    approvalPosts: approvalPosts(h.slack).length,
    updates: h.slack.callsTo('chat.update').length,
    ec2Changes: ec2Changes(h).length,
    rules: h.ec2.rules(GROUP_ID),
  };
}

const expectUnchanged = async (
  h: Harness,
  requestId: string,
  before: Awaited<ReturnType<typeof snapshot>>,
): Promise<void> => {
  expect(await snapshot(h, requestId)).toEqual(before);
};

const buttonsOf = async (h: Harness, requestId: string): Promise<string> =>
  JSON.stringify((await cardMessage(h, requestId))?.blocks);

/** One security-group resource the requester may also approve. */
const selfApprovalPolicy = (allowSelfApproval: boolean): string => `
approvalTimeout: 30m
resources:
  - id: team-db
    kind: security-group
    region: us-east-1
    securityGroupId: ${GROUP_ID}
    ports: [5432]
    maxDuration: 1h
    channel: ${CHANNEL}
    approvers: ["@sre", "${REQUESTER}"]
    approvals: 1
    allowSelfApproval: ${allowSelfApproval}
`;

describe('approving and denying: only approvers, only once, only while pending', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  describe('with the default policy', () => {
    beforeEach(async () => {
      h = await startHarness();
    });

    it('refuses Approve from someone who is not an approver (NOT_APPROVER)', async () => {
      const requestId = await ask(h, `prod-db 30m from ${ADDRESS} debugging`);
      const before = await snapshot(h, requestId);

      const reply = await refusedApprove(h, OUTSIDER, requestId);

      expect(reply).toBe(errorText(err('NOT_APPROVER', { resourceId: 'prod-db' })));
      expect(reply).toContain('not an approver of `prod-db`');
      await expectUnchanged(h, requestId, before);
      expect(before.request?.state).toBe('pending');
      expect(await buttonsOf(h, requestId)).toContain(ACTION.approveRequest);
    });

    it.each([
      {
        what: 'denied',
        state: 'denied' as const,
        says: 'it was denied',
        decide: async (h: Harness, requestId: string) => {
          await h.submit(APPROVER, CALLBACK.denyModal, denyModalValues('not today'), requestId);
          await h.slack.waitFor(() =>
            dmsTo(h.slack, REQUESTER).some((c) => allText(c).includes('was denied')),
          );
        },
      },
      {
        what: 'already approved',
        state: 'approved' as const,
        says: 'it was already approved',
        decide: (h: Harness, requestId: string) => approveAndWaitOpen(h, APPROVER, requestId),
      },
      {
        what: 'timed out',
        state: 'timed_out' as const,
        says: 'it timed out',
        decide: async (h: Harness) => {
          await h.advance(30 * MINUTE);
          await h.slack.waitFor(() =>
            dmsTo(h.slack, REQUESTER).some((c) => allText(c).includes('timed out')),
          );
        },
      },
    ])('refuses Approve on a request that is $what (NOT_PENDING)', async ({ state, says, decide }) => {
      const requestId = await ask(h, `prod-db 30m from ${ADDRESS} debugging`);
      await decide(h, requestId);
      const before = await snapshot(h, requestId);
      expect(before.request?.state).toBe(state);

      const reply = await refusedApprove(h, APPROVER_2, requestId);

      expect(reply).toBe(errorText(err('NOT_PENDING', { requestId, state })));
      expect(reply).toContain(`no longer waiting for a decision: ${says}`);
      await expectUnchanged(h, requestId, before);
      // At most the one rule of the first approval, opened by exactly one Authorize.
      const authorizes = ec2Changes(h, 'AuthorizeSecurityGroupIngress');
      expect(authorizes).toHaveLength(state === 'approved' ? 1 : 0);
      expect(h.ec2.rules(GROUP_ID)).toHaveLength(state === 'approved' ? 1 : 0);
    });

    it('lets exactly one of two simultaneous approvers win; the other is told NOT_PENDING', async () => {
      const requestId = await ask(h, `prod-db 30m from ${ADDRESS} debugging`);
      const since = h.slack.calls.length;

      await Promise.all([
        h.click(APPROVER, ACTION.approveRequest, requestId),
        h.click(APPROVER_2, ACTION.approveRequest, requestId),
      ]);
      await h.slack.waitFor(
        async () => (await h.hallpass.useCases.cardOf(requestId))?.grant?.state === 'active',
      );
      await h.slack.waitFor(() => dmsTo(h.slack, REQUESTER).some((c) => allText(c).includes('is open')));
      const card = await h.hallpass.useCases.cardOf(requestId);
      expect(card?.approvals).toHaveLength(1);
      const winner = card?.approvals[0]?.approverId;
      expect([APPROVER, APPROVER_2]).toContain(winner);
      const loser = winner === APPROVER ? APPROVER_2 : APPROVER;
      const loserReply = await replyAfter(h.slack, loser, since);

      expect(loserReply).toBe(errorText(err('NOT_PENDING', { requestId, state: 'approved' })));
      expect(card?.request.decidedBy).toBe(winner);
      expect(ec2Changes(h, 'AuthorizeSecurityGroupIngress')).toHaveLength(1);
      expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
      expect((await h.hallpass.useCases.overview()).active).toHaveLength(1);
      // Exactly one private answer: the loser's.
      expect(h.slack.calls.slice(since).filter((c) => c.method === 'response_url')).toHaveLength(1);
    });

    it('refuses a second Approve by the same approver (ALREADY_APPROVED), then opens both ports on the second approver', async () => {
      const requestId = await ask(h, `prod-web 30m from ${ADDRESS} deploying`);
      const first = h.slack.calls.length;
      await h.click(APPROVER, ACTION.approveRequest, requestId);
      await h.slack.waitFor((calls) =>
        calls.slice(first).some((c) => /approved \(1 of 2\)/.test(allText(c))),
      );
      expect(messageText(await cardMessage(h, requestId))).toContain('1 of 2 approvals');
      const before = await snapshot(h, requestId);

      const reply = await refusedApprove(h, APPROVER, requestId);

      expect(reply).toBe(errorText(err('ALREADY_APPROVED')));
      await expectUnchanged(h, requestId, before);
      expect(before.request?.state).toBe('pending');
      expect(ec2Changes(h)).toEqual([]);

      const approvedAt = h.clock.now();
      await approveAndWaitOpen(h, APPROVER_2, requestId);

      const grant = (await h.hallpass.useCases.cardOf(requestId))?.grant;
      const expiresAt = new Date(approvedAt.getTime() + 30 * MINUTE).toISOString();
      const tags = {
        'managed-by': 'hallpass',
        'hallpass:deployment': 'default',
        'hallpass:grant-id': grant?.id,
        'hallpass:requester': REQUESTER,
        'hallpass:expires-at': expiresAt,
      };
      const rules = h.ec2.rules(GROUP_ID);
      expect(rules).toHaveLength(2);
      expect(rules).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            protocol: 'tcp',
            fromPort: 443,
            toPort: 443,
            cidr: `${ADDRESS}/32`,
            tags,
          }),
          expect.objectContaining({
            protocol: 'tcp',
            fromPort: 8000,
            toPort: 8080,
            cidr: `${ADDRESS}/32`,
            tags,
          }),
        ]),
      );
      expect(ec2Changes(h, 'AuthorizeSecurityGroupIngress')).toHaveLength(2);
      const card = await h.hallpass.useCases.cardOf(requestId);
      expect(card?.approvals.map((a) => a.approverId)).toEqual([APPROVER, APPROVER_2]);
      expect(messageText(await cardMessage(h, requestId))).toContain(
        `Approved by <@${APPROVER}> and <@${APPROVER_2}>`,
      );
    });

    it('times a pending request out at approvalTimeout: the card loses its buttons and the requester is told', async () => {
      const requestId = await ask(h, `prod-db 30m from ${ADDRESS} debugging`);

      await h.advance(30 * MINUTE - 1);
      expect((await h.hallpass.useCases.cardOf(requestId))?.request.state).toBe('pending');
      await h.advance(1);

      await h.slack.waitFor(() => dmsTo(h.slack, REQUESTER).some((c) => allText(c).includes('timed out')));
      expect((await h.hallpass.useCases.cardOf(requestId))?.request.state).toBe('timed_out');
      const card = messageText(await cardMessage(h, requestId));
      expect(card).toContain('Timed out at');
      expect(await buttonsOf(h, requestId)).not.toContain(ACTION.approveRequest);
      expect(await buttonsOf(h, requestId)).not.toContain(ACTION.denyRequest);
      expect(threadPosts(h.slack).some((c) => allText(c).includes('timed out'))).toBe(true);
      expect((await h.hallpass.useCases.overview()).pending).toEqual([]);
      expect(ec2Changes(h)).toEqual([]);
    });

    it('opens the deny modal for the request on Deny, and changes nothing until it is submitted', async () => {
      const requestId = await ask(h, `prod-db 30m from ${ADDRESS} debugging`);
      const before = await snapshot(h, requestId);

      await h.click(APPROVER, ACTION.denyRequest, requestId);
      const opened = await h.slack.waitFor((calls) => calls.find((c) => c.method === 'views.open'));

      const view = opened.args['view'] as Record<string, unknown>;
      expect(view['callback_id']).toBe(CALLBACK.denyModal);
      expect(view['private_metadata']).toBe(requestId);
      await expectUnchanged(h, requestId, before);
    });

    it('denies on the modal with a reason: card updated without buttons, requester and thread told', async () => {
      const requestId = await ask(h, `prod-db 30m from ${ADDRESS} debugging`);

      await h.submit(APPROVER, CALLBACK.denyModal, denyModalValues('not during the freeze'), requestId);
      await h.slack.waitFor(() => dmsTo(h.slack, REQUESTER).some((c) => allText(c).includes('was denied')));

      const card = await h.hallpass.useCases.cardOf(requestId);
      expect(card?.request).toMatchObject({
        state: 'denied',
        decidedBy: APPROVER,
        note: 'not during the freeze',
      });
      const shown = messageText(await cardMessage(h, requestId));
      expect(shown).toContain(`Denied by <@${APPROVER}>`);
      expect(shown).toContain('not during the freeze');
      expect(await buttonsOf(h, requestId)).not.toContain(ACTION.approveRequest);
      const dm = dmsTo(h.slack, REQUESTER).find((c) => allText(c).includes('was denied'));
      expect(allText(dm)).toContain('Reason: “not during the freeze”');
      expect(threadPosts(h.slack).some((c) => allText(c).includes('denied request'))).toBe(true);
      expect(ec2Changes(h)).toEqual([]);
    });

    it('refuses the deny modal from someone who is not an approver', async () => {
      const requestId = await ask(h, `prod-db 30m from ${ADDRESS} debugging`);
      const before = await snapshot(h, requestId);
      const since = h.slack.calls.length;

      await h.submit(OUTSIDER, CALLBACK.denyModal, denyModalValues('I say no'), requestId);
      const reply = await replyAfter(h.slack, OUTSIDER, since);

      expect(reply).toBe(errorText(err('NOT_APPROVER', { resourceId: 'prod-db' })));
      await expectUnchanged(h, requestId, before);
      expect(before.request?.state).toBe('pending');
      expect(dmsTo(h.slack, REQUESTER)).toEqual([]);
    });
  });

  it('refuses an approver approving their own request when allowSelfApproval is false (SELF_APPROVAL)', async () => {
    h = await startHarness({ policy: selfApprovalPolicy(false) });
    const requestId = await ask(h, `team-db 30m from ${ADDRESS} debugging`);
    const before = await snapshot(h, requestId);

    const reply = await refusedApprove(h, REQUESTER, requestId);

    expect(reply).toBe(errorText(err('SELF_APPROVAL')));
    await expectUnchanged(h, requestId, before);
    expect(before.request?.state).toBe('pending');
    expect(ec2Changes(h)).toEqual([]);
  });

  it('lets an approver approve their own request when allowSelfApproval is true', async () => {
    h = await startHarness({ policy: selfApprovalPolicy(true) });
    const requestId = await ask(h, `team-db 30m from ${ADDRESS} debugging`);

    await approveAndWaitOpen(h, REQUESTER, requestId);

    expect((await h.hallpass.useCases.cardOf(requestId))?.request).toMatchObject({
      state: 'approved',
      decidedBy: REQUESTER,
    });
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
  });

  it('uses a resource’s own approvalTimeout over the top-level one', async () => {
    h = await startHarness({
      policy: `
approvalTimeout: 30m
resources:
  - id: quick-db
    kind: security-group
    region: us-east-1
    securityGroupId: ${GROUP_ID}
    ports: [5432]
    maxDuration: 1h
    channel: ${CHANNEL}
    approvers: ["@sre"]
    approvalTimeout: 10m
  - id: slow-db
    kind: security-group
    region: us-east-1
    securityGroupId: ${GROUP_ID}
    ports: [5433]
    maxDuration: 1h
    channel: ${CHANNEL}
    approvers: ["@sre"]
`,
    });
    const quick = await ask(h, `quick-db 30m from ${ADDRESS} debugging`);
    const slow = await ask(h, `slow-db 30m from ${ADDRESS} debugging`);

    await h.advance(10 * MINUTE - 1);
    expect((await h.hallpass.useCases.cardOf(quick))?.request.state).toBe('pending');
    await h.advance(1);
    await h.slack.waitFor(() => dmsTo(h.slack, REQUESTER).some((c) => allText(c).includes('timed out')));

    expect((await h.hallpass.useCases.cardOf(quick))?.request.state).toBe('timed_out');
    expect((await h.hallpass.useCases.cardOf(slow))?.request.state).toBe('pending');
    expect(await buttonsOf(h, quick)).not.toContain(ACTION.approveRequest);
    expect(await buttonsOf(h, slow)).toContain(ACTION.approveRequest);

    await h.advance(20 * MINUTE);
    expect((await h.hallpass.useCases.cardOf(slow))?.request.state).toBe('timed_out');
  });
});
