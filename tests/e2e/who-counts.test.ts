import { ACTION, CALLBACK } from '../../src/adapters/slack/ids';
import { errorText } from '../../src/adapters/slack/views/errors';
import { err } from '../../src/domain/result';
import { APPROVER, CHANNEL, GROUP_ID, type Harness, REQUESTER, startHarness } from '../support/harness';
import {
  allText,
  approvalPosts,
  dmsTo,
  ec2Changes,
  lastRequestId,
  replyAfter,
} from '../support/slack-queries';
import { denyModalValues, requestModalValues } from '../support/slack-signing';
import { failUsersInfo, STAND_IN_BOT } from '../support/slack-stand-in';

/**
 * Who counts as "anyone". A resource without `requesters` is open to the full
 * members of the installed workspace — not to a command signed in another workspace or organisation,
 * a guest, or a Slack Connect user, unless the policy lets them in (`allowGuests`, `allowExternal`,
 * `trustedWorkspaces`). Every refusal says why and changes nothing; a user Slack cannot vouch for is
 * refused too (fail closed). The same holds for approving, denying, revoking, the form and Home.
 */

const A = '203.0.113.7';
const GUEST = 'UGUEST0001';
const SINGLE_GUEST = 'UGUEST0002';
const CONNECT_USER = 'UCONNECT01';
const OTHER_TEAM = 'T0ELSEWHERE';
const OTHER_ORG = 'E0OTHERORG';
const PARTNER_TEAM = 'T0PARTNER';
const ADMIN = 'UADMIN1';

/** Answers `/access <text>` as `user` (with payload team fields) and returns the private reply. */
async function command(
  h: Harness,
  user: string,
  text: string,
  extra: { teamId?: string; enterpriseId?: string; userTeam?: string } = {},
): Promise<string> {
  const since = h.slack.calls.length;
  await h.command(user, text, extra);
  return replyAfter(h.slack, user, since);
}

/** Clicks a button and returns the private reply. */
async function click(
  h: Harness,
  user: string,
  actionId: string,
  value: string,
  extra: { teamId?: string; userTeamId?: string; enterpriseId?: string } = {},
): Promise<string> {
  const since = h.slack.calls.length;
  await h.click(user, actionId, value, extra);
  return replyAfter(h.slack, user, since);
}

/** Nothing was asked for or opened: no approval message, no AWS change, no request of `user`. */
async function expectNothingHappened(h: Harness, user: string): Promise<void> {
  expect(approvalPosts(h.slack)).toEqual([]);
  expect(ec2Changes(h)).toEqual([]);
  expect(h.ec2.rules(GROUP_ID)).toEqual([]);
  expect(
    (await h.hallpass.useCases.dashboard({ userId: user, groups: new Set(), standing: 'member' }))
      .minePending,
  ).toEqual([]);
}

/** `staging-db` (auto-approved, no `requesters`), asked for by `user`. */
const askStaging = (reason = 'checking a migration') => `staging-db 30m from ${A} ${reason}`;

describe('who counts as anyone', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  describe('with the default policy (staging-db: no requesters, auto-approved)', () => {
    beforeEach(async () => {
      h = await startHarness();
      h.slack.setUser(GUEST, { restricted: true });
      h.slack.setUser(SINGLE_GUEST, { ultraRestricted: true });
      h.slack.setUser(CONNECT_USER, { teamId: OTHER_TEAM });
    });

    it('a full member of the installed workspace still opens an auto-approved resource at once', async () => {
      const reply = await command(h, 'UMEMBER001', askStaging());
      expect(reply).not.toContain('nothing was changed');
      await h.slack.waitFor(() => h.ec2.rules(GROUP_ID).length === 1 || undefined);
    });

    it('refuses a command signed in another workspace (team_id), opening nothing (EXTERNAL_NOT_ALLOWED)', async () => {
      const reply = await command(h, 'UMEMBER002', askStaging(), { teamId: OTHER_TEAM });
      expect(reply).toBe(errorText(err('EXTERNAL_NOT_ALLOWED', { resourceId: 'staging-db' })));
      expect(reply).toContain('outside this Slack workspace');
      await expectNothingHappened(h, 'UMEMBER002');
    });

    it('refuses a command signed in another Enterprise Grid organisation (enterprise_id)', async () => {
      const reply = await command(h, 'UMEMBER003', askStaging(), { enterpriseId: OTHER_ORG });
      expect(reply).toBe(errorText(err('EXTERNAL_NOT_ALLOWED', { resourceId: 'staging-db' })));
      await expectNothingHappened(h, 'UMEMBER003');
    });

    it.each([
      ['a multi-channel guest (is_restricted)', GUEST],
      ['a single-channel guest (is_ultra_restricted)', SINGLE_GUEST],
    ])('refuses %s: not "anyone" (GUEST_NOT_ALLOWED)', async (_what, user) => {
      const reply = await command(h, user, askStaging());
      expect(reply).toBe(errorText(err('GUEST_NOT_ALLOWED', { resourceId: 'staging-db' })));
      expect(reply).toContain('You are a guest');
      await expectNothingHappened(h, user);
    });

    it('refuses a Slack Connect user whose account belongs to another workspace, even in our channel', async () => {
      const reply = await command(h, CONNECT_USER, askStaging());
      expect(reply).toBe(errorText(err('EXTERNAL_NOT_ALLOWED', { resourceId: 'staging-db' })));
      await expectNothingHappened(h, CONNECT_USER);
    });

    it('refuses a user Slack calls a stranger (is_stranger)', async () => {
      h.slack.setUser('USTRANGER1', { stranger: true });
      const reply = await command(h, 'USTRANGER1', askStaging());
      expect(reply).toBe(errorText(err('EXTERNAL_NOT_ALLOWED', { resourceId: 'staging-db' })));
      await expectNothingHappened(h, 'USTRANGER1');
    });

    it('fails closed when Slack does not say whether the user is a guest, or does not answer (IDENTITY_UNVERIFIED)', async () => {
      h.slack.setUser('UUNSAID001', { guestUnsaid: true });
      expect(await command(h, 'UUNSAID001', askStaging())).toBe(errorText(err('IDENTITY_UNVERIFIED')));
      failUsersInfo(h.slack);
      const reply = await command(h, 'UMEMBER004', askStaging());
      expect(reply).toBe(errorText(err('IDENTITY_UNVERIFIED')));
      expect(reply).toContain('could not confirm with Slack');
      await expectNothingHappened(h, 'UUNSAID001');
      await expectNothingHappened(h, 'UMEMBER004');

      // Once Slack answers, the same member is served.
      expect(await command(h, 'UMEMBER004', askStaging('second try'))).not.toContain('could not confirm');
      await h.slack.waitFor(() => h.ec2.rules(GROUP_ID).length === 1 || undefined);
    });

    it('learns the installation once (auth.test) and keeps it', async () => {
      const before = h.slack.callsTo('auth.test').length;
      await command(h, 'UMEMBER005', askStaging('one'));
      await command(h, GUEST, askStaging('two'));
      await command(h, CONNECT_USER, askStaging('three'));
      // Bolt's own start-up call, plus the directory's single one.
      expect(h.slack.callsTo('auth.test').length - before).toBeLessThanOrEqual(1);
      expect(h.slack.callsTo('auth.test')).toHaveLength(2);
    });

    it('does not count a guest approver’s click: Approve and Deny are refused and change nothing', async () => {
      h.slack.setGroups([
        { id: 'S0SRE', handle: 'sre', users: [APPROVER, GUEST] },
        { id: 'S0BACKEND', handle: 'backend', users: [REQUESTER] },
      ]);
      await command(h, REQUESTER, `prod-readonly 30m reading the logs`);
      const requestId = lastRequestId(h);

      expect(await click(h, GUEST, ACTION.approveRequest, requestId)).toBe(
        errorText(err('GUEST_NOT_ALLOWED', { resourceId: 'prod-readonly' })),
      );
      const since = h.slack.calls.length;
      await h.submit(GUEST, CALLBACK.denyModal, denyModalValues('no'), requestId);
      expect(await replyAfter(h.slack, GUEST, since)).toBe(
        errorText(err('GUEST_NOT_ALLOWED', { resourceId: 'prod-readonly' })),
      );
      const card = await h.hallpass.useCases.cardOf(requestId);
      expect(card?.request.state).toBe('pending');
      expect(card?.approvals).toEqual([]);
      expect(h.sts.sessions).toEqual([]);
    });

    it('does not count an Approve clicked from another workspace, by an approver of ours', async () => {
      await command(h, REQUESTER, `prod-readonly 30m reading the logs`);
      const requestId = lastRequestId(h);
      expect(await click(h, APPROVER, ACTION.approveRequest, requestId, { userTeamId: OTHER_TEAM })).toBe(
        errorText(err('EXTERNAL_NOT_ALLOWED', { resourceId: 'prod-readonly' })),
      );
      expect((await h.hallpass.useCases.cardOf(requestId))?.approvals).toEqual([]);
      // From home, the same approver counts.
      await h.click(APPROVER, ACTION.approveRequest, requestId);
      await h.slack.waitFor(
        async () => (await h.hallpass.useCases.cardOf(requestId))?.request.state === 'approved',
      );
    });

    it('a guest in the approvers’ group may not revoke someone else’s grant, and a guest admin may not export', async () => {
      h.slack.setGroups([
        { id: 'S0SRE', handle: 'sre', users: [APPROVER, GUEST] },
        { id: 'S0SECURITY', handle: 'security', users: [ADMIN, GUEST] },
      ]);
      await command(h, 'UMEMBER006', askStaging());
      const grant = await h.slack.waitFor(
        async () => (await h.hallpass.useCases.overview()).active[0]?.grant,
      );

      expect(await command(h, GUEST, `revoke ${grant.id}`)).toBe(
        errorText(err('GUEST_NOT_ALLOWED', { grantId: grant.id, resourceId: 'staging-db' })),
      );
      expect((await h.hallpass.useCases.grantOf(grant.id))?.state).toBe('active');
      expect(await command(h, GUEST, 'audit 7')).toBe(errorText(err('GUEST_NOT_ALLOWED', { admin: true })));
      expect(h.slack.uploads()).toEqual([]);
    });

    it('tells a guest why the form and `/access resources` offer nothing', async () => {
      expect(await command(h, GUEST, 'resources')).toBe(errorText(err('GUEST_NOT_ALLOWED')));

      await h.command(GUEST, '');
      const update = await h.slack.waitFor((calls) => calls.find((c) => c.method === 'views.update'));
      expect(allText(update)).toContain('You are a guest');
      expect(allText(update)).not.toContain('staging-db');
    });

    it('refuses a guest submitting the request form, beside the resource field', async () => {
      const res = await h.submit(
        GUEST,
        CALLBACK.requestModal,
        requestModalValues({
          resourceId: 'staging-db',
          duration: '30m',
          address: A,
          reason: 'from the form',
        }),
      );
      expect(res.status).toBe(200);
      expect(res.body).toContain('response_action');
      expect(res.body).toContain('You are a guest');
      await expectNothingHappened(h, GUEST);
    });

    it('shows a guest in the approvers’ group no request to approve on Home', async () => {
      h.slack.setGroups([{ id: 'S0SRE', handle: 'sre', users: [APPROVER, GUEST] }]);
      await command(h, REQUESTER, `prod-readonly 30m reading the logs`);
      const requestId = lastRequestId(h);
      await h.openHome(GUEST);
      await h.openHome(APPROVER);
      await h.slack.waitFor(() => (h.slack.homeOf(GUEST) && h.slack.homeOf(APPROVER)) || undefined);
      expect(JSON.stringify(h.slack.homeOf(APPROVER))).toContain(requestId);
      expect(JSON.stringify(h.slack.homeOf(GUEST))).not.toContain(ACTION.approveRequest);
    });
  });

  describe('with a policy that lets guests, external users or a partner workspace in', () => {
    beforeEach(async () => {
      h = await startHarness({
        policy: `
trustedWorkspaces: ["${PARTNER_TEAM}"]
resources:
  - id: staging-db
    kind: security-group
    region: us-east-1
    securityGroupId: ${GROUP_ID}
    ports: [5432]
    maxDuration: 4h
    channel: ${CHANNEL}
    autoApprove: true
  - id: guest-db
    kind: security-group
    region: us-east-1
    securityGroupId: ${GROUP_ID}
    ports: [5433]
    maxDuration: 4h
    channel: ${CHANNEL}
    autoApprove: true
    allowGuests: true
  - id: shared-db
    kind: security-group
    region: us-east-1
    securityGroupId: ${GROUP_ID}
    ports: [5434]
    maxDuration: 4h
    channel: ${CHANNEL}
    autoApprove: true
    allowExternal: true
`,
      });
      h.slack.setUser(GUEST, { restricted: true });
      h.slack.setUser(CONNECT_USER, { teamId: OTHER_TEAM });
      h.slack.setUser('UPARTNER01', { teamId: PARTNER_TEAM });
      h.slack.setUser('UPARTNERG1', { teamId: PARTNER_TEAM, restricted: true });
    });

    it('lets a guest into the resource with allowGuests: true, and nowhere else', async () => {
      expect(await command(h, GUEST, `staging-db 30m from ${A} x`)).toBe(
        errorText(err('GUEST_NOT_ALLOWED', { resourceId: 'staging-db' })),
      );
      await command(h, GUEST, `guest-db 30m from ${A} guest work`);
      await h.slack.waitFor(() => h.ec2.rules(GROUP_ID).some((r) => r.fromPort === 5433) || undefined);
      expect(h.ec2.rules(GROUP_ID).map((r) => r.fromPort)).toEqual([5433]);
    });

    it('lets a Slack Connect user into the resource with allowExternal: true, and nowhere else', async () => {
      expect(await command(h, CONNECT_USER, `guest-db 30m from ${A} x`, { teamId: OTHER_TEAM })).toBe(
        errorText(err('EXTERNAL_NOT_ALLOWED', { resourceId: 'guest-db' })),
      );
      await command(h, CONNECT_USER, `shared-db 30m from ${A} partner work`, { teamId: OTHER_TEAM });
      await h.slack.waitFor(() => h.ec2.rules(GROUP_ID).some((r) => r.fromPort === 5434) || undefined);
      expect(h.ec2.rules(GROUP_ID).map((r) => r.fromPort)).toEqual([5434]);
    });

    it('counts a full member of a trusted workspace as anyone; that workspace’s guests stay guests', async () => {
      await command(h, 'UPARTNER01', `staging-db 30m from ${A} partner member`, { teamId: PARTNER_TEAM });
      await h.slack.waitFor(() => h.ec2.rules(GROUP_ID).length === 1 || undefined);
      expect(
        await command(h, 'UPARTNERG1', `staging-db 30m from 203.0.113.8 partner guest`, {
          teamId: PARTNER_TEAM,
        }),
      ).toBe(errorText(err('GUEST_NOT_ALLOWED', { resourceId: 'staging-db' })));
      expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
      expect(dmsTo(h.slack, 'UPARTNERG1')).toEqual([]);
    });
  });

  it('stand-in sanity: users are full members of the stand-in workspace unless told otherwise', async () => {
    h = await startHarness();
    expect(STAND_IN_BOT.teamId).toBe('T0HALLPASS');
    const actor = await h.hallpass.useCases.directory.actor(REQUESTER);
    expect(actor.standing).toBe('member');
  });
});
