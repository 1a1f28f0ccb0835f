import { ACTION } from '../../src/adapters/slack/ids';
import { errorText } from '../../src/adapters/slack/views/errors';
import { parsePolicy } from '../../src/config/policy';
import { err } from '../../src/domain/result';
import {
  APPROVER,
  APPROVER_2,
  CHANNEL,
  DEFAULT_POLICY,
  GROUP_ID,
  type Harness,
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
import { failUsersInfo, type SlackGroup } from '../support/slack-stand-in';

/**
 * Rights re-checked at every step. The requester's right to ask is read again when
 * their request is approved and at every extension (asked and approved); a vote counts only if its
 * voter is still an approver when the quorum is decided. Group membership follows Slack's
 * `subteam_members_changed` / `subteam_updated` at once, not five minutes later.
 */

const MINUTE = 60_000;
const A = '203.0.113.7';
const APPROVER_3 = 'UAPPROVER3';

/** The default groups, with `changes` replacing whole groups by handle. */
function groups(changes: Record<string, readonly string[]> = {}): SlackGroup[] {
  const base: Record<string, { id: string; users: readonly string[] }> = {
    sre: { id: 'S0SRE', users: [APPROVER, APPROVER_2] },
    backend: { id: 'S0BACKEND', users: [REQUESTER] },
    security: { id: 'S0SECURITY', users: ['UADMIN1'] },
  };
  return Object.entries(base).map(([handle, g]) => ({ id: g.id, handle, users: changes[handle] ?? g.users }));
}

/** Slack's event for a group whose members changed. */
const membersChanged = (subteamId: string, removed: readonly string[], added: readonly string[] = []) => ({
  type: 'subteam_members_changed',
  subteam_id: subteamId,
  team_id: 'T0HALLPASS',
  date_previous_update: 1_700_000_000,
  date_update: 1_700_000_100,
  added_users: [...added],
  added_users_count: String(added.length),
  removed_users: [...removed],
  removed_users_count: String(removed.length),
});

/**
 * Someone leaves a group in Slack, and hallpass learns it only from the groups it reads again (Slack's
 * `subteam_members_changed` was lost, or not yet here: the event itself ends what the group gave at once,
 * see access-follows-person.test.ts): the cached membership expires after five minutes.
 */
async function leave(h: Harness, handle: string, _subteamId: string, _user: string, remaining: string[]) {
  h.slack.setGroups(groups({ [handle]: remaining }));
  await h.advance(5 * MINUTE);
}

async function ask(h: Harness, text: string, user = REQUESTER): Promise<string> {
  const before = approvalPosts(h.slack).length;
  await h.command(user, text);
  await h.slack.waitFor(() => approvalPosts(h.slack).length > before || undefined);
  return lastRequestId(h);
}

async function clickReply(h: Harness, user: string, requestId: string): Promise<string> {
  const since = h.slack.calls.length;
  await h.click(user, ACTION.approveRequest, requestId);
  return replyAfter(h.slack, user, since);
}

async function commandReply(h: Harness, user: string, text: string): Promise<string> {
  const since = h.slack.calls.length;
  await h.command(user, text);
  return replyAfter(h.slack, user, since);
}

/** The policy text with prod-db's requesters replaced (the harness's DEFAULT_POLICY names @backend and APPROVER). */
const withRequesters = (policy: string, requesters: string): string =>
  policy.replace(/requesters: \["@backend", "UAPPROVER1"\]/, `requesters: ${requesters}`);

describe('rights re-checked at every step', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  describe('the requester, at approval', () => {
    beforeEach(async () => {
      h = await startHarness();
    });

    it('does not approve a request whose requester left the requesters’ group: it fails, and everyone is told why', async () => {
      const requestId = await ask(h, `prod-db 30m from ${A} debugging slow queries`);
      await leave(h, 'backend', 'S0BACKEND', REQUESTER, []);

      const reply = await clickReply(h, APPROVER, requestId);

      expect(reply).toBe(
        errorText(
          err('REQUESTER_NO_LONGER_ALLOWED', {
            resourceId: 'prod-db',
            requesterId: REQUESTER,
            why: 'NOT_REQUESTER',
          }),
        ),
      );
      expect(reply).toContain('may no longer ask for `prod-db`');
      const card = await h.hallpass.useCases.cardOf(requestId);
      expect(card?.request.state).toBe('failed');
      expect(card?.grant).toBeUndefined();
      expect(ec2Changes(h)).toEqual([]);
      expect(h.ec2.rules(GROUP_ID)).toEqual([]);
      const why = 'the requester may no longer ask for prod-db (no longer among its requesters)';
      await h.slack.waitFor(
        () => dmsTo(h.slack, REQUESTER).some((c) => allText(c).includes(why)) || undefined,
      );
      await h.slack.waitFor(() => threadPosts(h.slack).some((c) => allText(c).includes(why)) || undefined);
      expect(messageText(await cardMessage(h, requestId))).toContain(why);
      const trail = await h.hallpass.useCases.auditTrail(requestId);
      expect(trail.map((e) => e.type)).toEqual(['request.submitted', 'request.failed']);
      expect(trail[1]?.details).toMatchObject({ requesterId: REQUESTER, why: 'NOT_REQUESTER' });
    });

    it('does not approve a request whose requester the policy no longer names (reloaded)', async () => {
      h.slack.setGroups(groups({ backend: [REQUESTER, 'UREQUESTER2'] }));
      const requestId = await ask(h, `prod-db 30m from ${A} debugging`, 'UREQUESTER2');
      const policy = withRequesters(DEFAULT_POLICY, `["${APPROVER}"]`);
      h.hallpass.reloadPolicy(parsePolicy(policy));

      expect(await clickReply(h, APPROVER_2, requestId)).toBe(
        errorText(
          err('REQUESTER_NO_LONGER_ALLOWED', {
            resourceId: 'prod-db',
            requesterId: 'UREQUESTER2',
            why: 'NOT_REQUESTER',
          }),
        ),
      );
      expect((await h.hallpass.useCases.cardOf(requestId))?.request.state).toBe('failed');
      expect(h.ec2.rules(GROUP_ID)).toEqual([]);
    });

    it('does not approve a request whose requester became a guest since asking', async () => {
      const requestId = await ask(h, `prod-web 30m from ${A} deploying`);
      h.slack.setUser(REQUESTER, { restricted: true });
      // users.info is cached for five minutes: the next look-up after that sees the guest.
      await h.advance(5 * MINUTE);
      expect(await clickReply(h, APPROVER, requestId)).toBe(
        errorText(
          err('REQUESTER_NO_LONGER_ALLOWED', {
            resourceId: 'prod-web',
            requesterId: REQUESTER,
            why: 'GUEST_NOT_ALLOWED',
          }),
        ),
      );
      expect((await h.hallpass.useCases.cardOf(requestId))?.request.state).toBe('failed');
    });

    it('records nothing when Slack cannot say whether the requester may still ask; a later click decides', async () => {
      const requestId = await ask(h, `prod-db 30m from ${A} debugging`);
      await h.advance(5 * MINUTE);
      // The approver's own look-up (fresh again) answers; the requester's, read next, fails.
      await h.hallpass.useCases.directory.actor(APPROVER);
      failUsersInfo(h.slack);
      expect(await clickReply(h, APPROVER, requestId)).toBe(
        errorText(err('RIGHTS_UNVERIFIED', { resourceId: 'prod-db', who: 'requester' })),
      );
      expect((await h.hallpass.useCases.cardOf(requestId))?.approvals).toEqual([]);
      expect((await h.hallpass.useCases.cardOf(requestId))?.request.state).toBe('pending');

      await h.click(APPROVER, ACTION.approveRequest, requestId);
      await h.slack.waitFor(
        async () => (await h.hallpass.useCases.cardOf(requestId))?.grant?.state === 'active' || undefined,
      );
    });
  });

  describe('the requester, at every extension', () => {
    const AUTO = `
resources:
  - id: team-db
    kind: security-group
    region: us-east-1
    securityGroupId: ${GROUP_ID}
    ports: [5432]
    maxDuration: 4h
    channel: ${CHANNEL}
    requesters: ["@backend"]
    autoApprove: true
`;

    it('refuses more time on an auto-approved grant once the requester left requesters (no extending to the maximum)', async () => {
      h = await startHarness({ policy: AUTO });
      await h.command(REQUESTER, `team-db 30m from ${A} migration`);
      const grant = await h.slack.waitFor(
        async () => (await h.hallpass.useCases.overview()).active[0]?.grant,
      );
      await leave(h, 'backend', 'S0BACKEND', REQUESTER, []);

      const reply = await commandReply(h, REQUESTER, `extend ${grant.id} 3h30m`);

      expect(reply).toBe(errorText(err('NOT_REQUESTER', { resourceId: 'team-db' })));
      expect((await h.hallpass.useCases.grantOf(grant.id))?.expiresAt).toEqual(grant.expiresAt);
      expect(approvalPosts(h.slack)).toHaveLength(1);
      expect(h.ec2.rules(GROUP_ID)[0]?.tags['hallpass:expires-at']).toBe(grant.expiresAt.toISOString());
      // Ending it early is still theirs to do.
      expect(await commandReply(h, REQUESTER, `revoke ${grant.id}`)).toContain('is closed');
    });

    it('does not approve an extension asked before the requester left requesters', async () => {
      h = await startHarness();
      const requestId = await ask(h, `prod-db 30m from ${A} long migration`);
      await h.click(APPROVER, ACTION.approveRequest, requestId);
      const grant = await h.slack.waitFor(async () => {
        const g = (await h.hallpass.useCases.cardOf(requestId))?.grant;
        return g?.state === 'active' ? g : undefined;
      });
      const extensionId = await ask(h, `extend ${grant.id} 20m`);
      await leave(h, 'backend', 'S0BACKEND', REQUESTER, []);

      expect(await clickReply(h, APPROVER, extensionId)).toBe(
        errorText(
          err('REQUESTER_NO_LONGER_ALLOWED', {
            resourceId: 'prod-db',
            requesterId: REQUESTER,
            why: 'NOT_REQUESTER',
          }),
        ),
      );
      expect((await h.hallpass.useCases.cardOf(extensionId))?.request.state).toBe('failed');
      expect((await h.hallpass.useCases.grantOf(grant.id))?.expiresAt).toEqual(grant.expiresAt);
      await h.slack.waitFor(
        () =>
          dmsTo(h.slack, REQUESTER).some((c) => allText(c).includes('may no longer ask for prod-db')) ||
          undefined,
      );
    });
  });

  describe('the voters, at the quorum', () => {
    beforeEach(async () => {
      h = await startHarness();
    });

    it('withdraws the earlier vote of an approver who left the group: the request waits for another approver', async () => {
      // prod-web needs two approvals.
      const requestId = await ask(h, `prod-web 30m from ${A} deploying`);
      await h.click(APPROVER, ACTION.approveRequest, requestId);
      await h.slack.waitFor(
        async () => (await h.hallpass.useCases.cardOf(requestId))?.approvals.length === 1 || undefined,
      );
      await leave(h, 'sre', 'S0SRE', APPROVER, [APPROVER_2, APPROVER_3]);

      const reply = await clickReply(h, APPROVER_2, requestId);

      expect(reply).toBe(
        errorText(err('VOTES_WITHDRAWN', { resourceId: 'prod-web', count: 1, have: 1, need: 2 })),
      );
      let card = await h.hallpass.useCases.cardOf(requestId);
      expect(card?.request.state).toBe('pending');
      expect(card?.approvals.map((a) => a.approverId)).toEqual([APPROVER_2]);
      expect(h.ec2.rules(GROUP_ID)).toEqual([]);
      const trail = await h.hallpass.useCases.auditTrail(requestId);
      expect(trail.find((e) => e.type === 'request.approval_withdrawn')?.details).toEqual({
        approverId: APPROVER,
        why: 'NOT_APPROVER',
      });
      // The removed approver's own click is refused too.
      expect(await clickReply(h, APPROVER, requestId)).toBe(
        errorText(err('NOT_APPROVER', { resourceId: 'prod-web' })),
      );

      // Another approver completes the quorum with the votes that count.
      await h.click(APPROVER_3, ACTION.approveRequest, requestId);
      await h.slack.waitFor(
        async () => (await h.hallpass.useCases.cardOf(requestId))?.grant?.state === 'active' || undefined,
      );
      card = await h.hallpass.useCases.cardOf(requestId);
      expect(card?.approvals.map((a) => a.approverId).sort()).toEqual([APPROVER_2, APPROVER_3].sort());
      const approved = (await h.hallpass.useCases.auditTrail(requestId)).find(
        (e) => e.type === 'request.approved',
      );
      expect(approved?.details?.['approvers']).toEqual([APPROVER_2, APPROVER_3]);
    });

    it('lets an approver whose vote was withdrawn vote again once back in the group', async () => {
      const requestId = await ask(h, `prod-web 30m from ${A} deploying`);
      await h.click(APPROVER, ACTION.approveRequest, requestId);
      await leave(h, 'sre', 'S0SRE', APPROVER, [APPROVER_2]);
      await h.click(APPROVER_2, ACTION.approveRequest, requestId);
      expect((await h.hallpass.useCases.cardOf(requestId))?.request.state).toBe('pending');

      h.slack.setGroups(groups({ sre: [APPROVER, APPROVER_2] }));
      await h.event(membersChanged('S0SRE', [], [APPROVER]));
      await h.click(APPROVER, ACTION.approveRequest, requestId);
      await h.slack.waitFor(
        async () => (await h.hallpass.useCases.cardOf(requestId))?.grant?.state === 'active' || undefined,
      );
    });
  });

  describe('membership freshness: Slack’s group events', () => {
    beforeEach(async () => {
      h = await startHarness();
    });

    it('sees someone leave a group at the next re-check after subteam_members_changed, not five minutes later', async () => {
      const requestId = await ask(h, `prod-db 30m from ${A} debugging`);
      // The directory has read the groups; Slack now drops APPROVER from @sre.
      h.slack.setGroups(groups({ sre: [APPROVER_2] }));
      // Without the event the cached membership (five minutes) would still count APPROVER.
      expect((await h.hallpass.useCases.directory.actor(APPROVER)).groups.has('sre')).toBe(true);
      const listsBefore = h.slack.callsTo('usergroups.list').length;

      await h.event(membersChanged('S0SRE', [APPROVER]));

      expect((await h.hallpass.useCases.directory.actor(APPROVER)).groups.has('sre')).toBe(false);
      expect(h.slack.callsTo('usergroups.list').length).toBe(listsBefore + 1);
      expect(await clickReply(h, APPROVER, requestId)).toBe(
        errorText(err('NOT_APPROVER', { resourceId: 'prod-db' })),
      );
      expect((await h.hallpass.useCases.cardOf(requestId))?.request.state).toBe('pending');
    });

    it('drops a removed member at once even when Slack then fails to list the groups', async () => {
      await h.hallpass.useCases.directory.actor(APPROVER);
      h.slack.failNext('usergroups.list', { status: 500 });
      await h.event(membersChanged('S0SRE', [APPROVER]));
      expect((await h.hallpass.useCases.directory.actor(APPROVER)).groups.has('sre')).toBe(false);
      expect((await h.hallpass.useCases.directory.actor(APPROVER_2)).groups.has('sre')).toBe(true);
    });

    it('treats a disabled group (subteam_updated with date_delete) as granting nothing', async () => {
      const requestId = await ask(h, `prod-db 30m from ${A} debugging`);
      h.slack.setGroups(groups().filter((g) => g.handle !== 'sre'));
      await h.event({
        type: 'subteam_updated',
        subteam: {
          id: 'S0SRE',
          team_id: 'T0HALLPASS',
          is_usergroup: true,
          name: 'sre',
          handle: 'sre',
          date_delete: 1_700_000_200,
          users: [APPROVER, APPROVER_2],
          user_count: 2,
        },
      });
      expect(await clickReply(h, APPROVER, requestId)).toBe(
        errorText(err('NOT_APPROVER', { resourceId: 'prod-db' })),
      );
    });
  });
});
