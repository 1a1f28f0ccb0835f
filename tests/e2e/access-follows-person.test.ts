import { ACTION } from '../../src/adapters/slack/ids';
import {
  APPROVER,
  APPROVER_2,
  GROUP_ID,
  type Harness,
  OUTSIDER,
  REQUESTER,
  startHarness,
} from '../support/harness';
import { allText, approvalPosts, ec2Changes, lastRequestId, threadPosts } from '../support/slack-queries';
import { failUsersInfo, type SlackGroup } from '../support/slack-stand-in';

/**
 * Access follows the person: when Slack says a user was deactivated (`user_change` with `deleted`) or
 * left a user group (`subteam_members_changed`), what they may no longer have ends — their grants
 * (the rule gone from EC2), their pending requests, their pending votes — and the channel is told.
 */

const A = '203.0.113.7';

function groups(changes: Record<string, readonly string[]> = {}): SlackGroup[] {
  const base: Record<string, { id: string; users: readonly string[] }> = {
    sre: { id: 'S0SRE', users: [APPROVER, APPROVER_2] },
    backend: { id: 'S0BACKEND', users: [REQUESTER] },
    security: { id: 'S0SECURITY', users: ['UADMIN1'] },
  };
  return Object.entries(base).map(([handle, g]) => ({ id: g.id, handle, users: changes[handle] ?? g.users }));
}

const membersChanged = (subteamId: string, removed: readonly string[]) => ({
  type: 'subteam_members_changed',
  subteam_id: subteamId,
  team_id: 'T0HALLPASS',
  date_previous_update: 1_700_000_000,
  date_update: 1_700_000_100,
  added_users: [],
  added_users_count: '0',
  removed_users: [...removed],
  removed_users_count: String(removed.length),
});

/** Slack's `user_change` for a user, as the Events API sends it (the user object, abridged). */
const userChange = (id: string, deleted: boolean) => ({
  type: 'user_change',
  user: { id, team_id: 'T0HALLPASS', name: id.toLowerCase(), deleted, is_restricted: false },
  cache_ts: 1_700_000_200,
});

async function ask(h: Harness, text: string, user = REQUESTER): Promise<string> {
  const before = approvalPosts(h.slack).length;
  await h.command(user, text);
  await h.slack.waitFor(() => approvalPosts(h.slack).length > before || undefined);
  return lastRequestId(h);
}

/** A request asked and approved, its rule open in EC2; returns the request id. */
async function granted(h: Harness, text: string): Promise<string> {
  const requestId = await ask(h, text);
  for (const approver of [APPROVER, APPROVER_2]) {
    if ((await stateOf(h, requestId)) === 'pending')
      await h.click(approver, ACTION.approveRequest, requestId);
  }
  await h.slack.waitFor(
    async () => (await h.hallpass.useCases.cardOf(requestId))?.grant?.state === 'active' || undefined,
  );
  return requestId;
}

const stateOf = async (h: Harness, requestId: string) =>
  (await h.hallpass.useCases.cardOf(requestId))?.request.state;
const grantOf = async (h: Harness, requestId: string) => (await h.hallpass.useCases.cardOf(requestId))?.grant;
const said = (h: Harness, phrase: string) =>
  h.slack.waitFor(() => threadPosts(h.slack).some((c) => allText(c).includes(phrase)) || undefined);

describe('access follows the person', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  describe('a deactivated user', () => {
    it('loses their active grant: the rule leaves EC2, the channel is told why, the audit says so', async () => {
      const requestId = await granted(h, `prod-db 30m from ${A} debugging`);
      expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);

      h.slack.setUser(REQUESTER, { deleted: true });
      await h.event(userChange(REQUESTER, true));

      await h.slack.waitFor(async () => (await grantOf(h, requestId))?.state === 'closed' || undefined);
      const grant = await grantOf(h, requestId);
      expect(grant).toMatchObject({ endReason: 'revoked', endedBy: 'hallpass' });
      expect(h.ec2.rules(GROUP_ID)).toEqual([]);
      await said(h, `<@${REQUESTER}>'s Slack account was deactivated, so they may no longer ask for prod-db`);
      const trail = await h.hallpass.useCases.auditTrail(requestId);
      expect(trail.find((e) => e.type === 'identity.changed')?.details).toEqual({
        userId: REQUESTER,
        effect: 'grant-ended',
        cause: 'deactivated',
      });
      expect(trail.find((e) => e.type === 'grant.closing')?.actor).toBe('hallpass');
    });

    it('has their pending request cancelled, and nothing opened', async () => {
      const requestId = await ask(h, `prod-db 30m from ${A} debugging`);

      h.slack.setUser(REQUESTER, { deleted: true });
      await h.event(userChange(REQUESTER, true));

      await h.slack.waitFor(async () => (await stateOf(h, requestId)) === 'cancelled' || undefined);
      await said(h, `request ${requestId} was cancelled; nothing was opened`);
      expect(ec2Changes(h)).toEqual([]);
      const cancelled = (await h.hallpass.useCases.auditTrail(requestId)).find(
        (e) => e.type === 'request.cancelled',
      );
      expect(cancelled).toMatchObject({
        actor: 'hallpass',
        details: { userId: REQUESTER, cause: 'deactivated' },
      });
      // The approver's late click decides nothing.
      await h.click(APPROVER, ACTION.approveRequest, requestId);
      expect(await stateOf(h, requestId)).toBe('cancelled');
      expect(h.ec2.rules(GROUP_ID)).toEqual([]);
    });

    it('has their pending vote withdrawn: a request that needed two needs another', async () => {
      // prod-web needs two approvals.
      const requestId = await ask(h, `prod-web 30m from ${A} deploying`);
      await h.click(APPROVER, ACTION.approveRequest, requestId);
      await h.slack.waitFor(async () =>
        (await h.hallpass.useCases.cardOf(requestId))?.approvals.length === 1 ? true : undefined,
      );

      h.slack.setUser(APPROVER, { deleted: true });
      await h.event(userChange(APPROVER, true));

      await h.slack.waitFor(async () =>
        (await h.hallpass.useCases.cardOf(requestId))?.approvals.length === 0 ? true : undefined,
      );
      await said(
        h,
        `their vote on request ${requestId} no longer counts; the request waits for another approver (0 of 2)`,
      );
      // The second approver's vote is the first that counts: still pending, nothing opened.
      await h.click(APPROVER_2, ACTION.approveRequest, requestId);
      const card = await h.hallpass.useCases.cardOf(requestId);
      expect(card?.request.state).toBe('pending');
      expect(card?.approvals.map((a) => a.approverId)).toEqual([APPROVER_2]);
      expect(ec2Changes(h)).toEqual([]);
      const withdrawn = (await h.hallpass.useCases.auditTrail(requestId)).find(
        (e) => e.type === 'request.approval_withdrawn',
      );
      expect(withdrawn?.details).toMatchObject({ approverId: APPROVER, cause: 'deactivated' });
    });

    it('changes nothing more when the event is redelivered, or sent again under a new id', async () => {
      const requestId = await granted(h, `prod-db 30m from ${A} debugging`);
      h.slack.setUser(REQUESTER, { deleted: true });
      await h.event(userChange(REQUESTER, true), { eventId: 'Ev0DEACTIVATE' });
      await h.slack.waitFor(async () => (await grantOf(h, requestId))?.state === 'closed' || undefined);
      await said(h, 'Slack account was deactivated');
      const audit = (await h.hallpass.useCases.auditTrail(requestId)).length;
      const revokes = ec2Changes(h, 'RevokeSecurityGroupIngress').length;
      const posts = threadPosts(h.slack).length;

      await h.event(userChange(REQUESTER, true), { eventId: 'Ev0DEACTIVATE', retryNum: 1 });
      await h.event(userChange(REQUESTER, true));
      await h.hallpass.settled();

      expect((await h.hallpass.useCases.auditTrail(requestId)).length).toBe(audit);
      expect(ec2Changes(h, 'RevokeSecurityGroupIngress')).toHaveLength(revokes);
      expect(threadPosts(h.slack)).toHaveLength(posts);
    });

    it('changes nothing for someone with nothing live (not even a Slack look-up)', async () => {
      const requestId = await granted(h, `prod-db 30m from ${A} debugging`);
      const since = h.slack.calls.length;
      const audit = (await h.hallpass.useCases.auditTrail(requestId)).length;

      h.slack.setUser(OUTSIDER, { deleted: true });
      await h.event(userChange(OUTSIDER, true));
      await h.hallpass.settled();

      expect(h.slack.calls.slice(since).filter((c) => c.method === 'users.info')).toEqual([]);
      expect((await grantOf(h, requestId))?.state).toBe('active');
      expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
      expect((await h.hallpass.useCases.auditTrail(requestId)).length).toBe(audit);
    });

    it('keeps access when Slack only says the profile changed and the account still admits them', async () => {
      const requestId = await granted(h, `prod-db 30m from ${A} debugging`);
      await h.event(userChange(REQUESTER, false));
      await h.hallpass.settled();
      expect((await grantOf(h, requestId))?.state).toBe('active');
      expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    });

    it('keeps access when Slack cannot say who they are now, unless the event itself says deactivated', async () => {
      const requestId = await granted(h, `prod-db 30m from ${A} debugging`);
      h.slack.setUser(REQUESTER, { restricted: true });
      failUsersInfo(h.slack);
      await h.event(userChange(REQUESTER, false));
      await h.hallpass.settled();
      expect((await grantOf(h, requestId))?.state).toBe('active');
      expect(h.logger.lines.some((l) => l.msg.includes('their access is left as it is'))).toBe(true);

      failUsersInfo(h.slack);
      await h.event(userChange(REQUESTER, true));
      await h.slack.waitFor(async () => (await grantOf(h, requestId))?.state === 'closed' || undefined);
      expect(h.ec2.rules(GROUP_ID)).toEqual([]);
    });

    it('loses a grant on a resource that does not admit guests when the account becomes a guest', async () => {
      const requestId = await granted(h, `prod-db 30m from ${A} debugging`);
      h.slack.setUser(REQUESTER, { restricted: true });
      await h.event({ ...userChange(REQUESTER, false), user: { id: REQUESTER, is_restricted: true } });
      await h.slack.waitFor(async () => (await grantOf(h, requestId))?.state === 'closed' || undefined);
      await said(h, 'Slack account changed');
      expect(h.ec2.rules(GROUP_ID)).toEqual([]);
    });
  });

  describe('a user removed from a group', () => {
    it('loses only what that group gave: prod-db (requesters @backend) ends, prod-web (anyone) stays', async () => {
      const db = await granted(h, `prod-db 30m from ${A} debugging`);
      const web = await granted(h, `prod-web 30m from ${A} deploying`);
      // prod-db: tcp 5432; prod-web: tcp 443 and 8000-8080.
      expect(h.ec2.rules(GROUP_ID)).toHaveLength(3);

      h.slack.setGroups(groups({ backend: [] }));
      await h.event(membersChanged('S0BACKEND', [REQUESTER]));

      await h.slack.waitFor(async () => (await grantOf(h, db))?.state === 'closed' || undefined);
      await said(h, `<@${REQUESTER}> left the user group @backend, so they may no longer ask for prod-db`);
      expect((await grantOf(h, web))?.state).toBe('active');
      expect(h.ec2.rules(GROUP_ID)).toHaveLength(2);
      const trail = await h.hallpass.useCases.auditTrail(db);
      expect(trail.find((e) => e.type === 'identity.changed')?.details).toEqual({
        userId: REQUESTER,
        effect: 'grant-ended',
        cause: 'left-group',
        group: 'backend',
      });
      expect((await h.hallpass.useCases.auditTrail(web)).map((e) => e.type)).not.toContain(
        'identity.changed',
      );
    });

    it('cancels their pending request where the group made them a requester', async () => {
      const requestId = await ask(h, `prod-db 30m from ${A} debugging`);
      h.slack.setGroups(groups({ backend: [] }));
      await h.event(membersChanged('S0BACKEND', [REQUESTER]));
      await h.slack.waitFor(async () => (await stateOf(h, requestId)) === 'cancelled' || undefined);
      await said(h, 'left the user group @backend');
    });

    it('withdraws the vote of an approver who left the approvers’ group', async () => {
      const requestId = await ask(h, `prod-web 30m from ${A} deploying`);
      await h.click(APPROVER, ACTION.approveRequest, requestId);
      await h.slack.waitFor(async () =>
        (await h.hallpass.useCases.cardOf(requestId))?.approvals.length === 1 ? true : undefined,
      );
      h.slack.setGroups(groups({ sre: [APPROVER_2] }));
      await h.event(membersChanged('S0SRE', [APPROVER]));
      await h.slack.waitFor(async () =>
        (await h.hallpass.useCases.cardOf(requestId))?.approvals.length === 0 ? true : undefined,
      );
      await said(h, `<@${APPROVER}> left the user group @sre, so they no longer approve prod-web`);
    });

    it('ends what a disabled group gave its members (subteam_updated with date_delete)', async () => {
      const requestId = await granted(h, `prod-db 30m from ${A} debugging`);
      h.slack.setGroups(groups().filter((g) => g.handle !== 'backend'));
      await h.event({
        type: 'subteam_updated',
        subteam: {
          id: 'S0BACKEND',
          team_id: 'T0HALLPASS',
          is_usergroup: true,
          name: 'backend',
          handle: 'backend',
          date_delete: 1_700_000_200,
          users: [REQUESTER],
          user_count: 1,
        },
      });
      await h.slack.waitFor(async () => (await grantOf(h, requestId))?.state === 'closed' || undefined);
      await said(h, 'left the user group @backend');
      expect(h.ec2.rules(GROUP_ID)).toEqual([]);
    });

    it('keeps a grant the policy gives the user by name, whatever group they leave', async () => {
      // prod-db names APPROVER directly among its requesters; leaving @sre takes nothing from that.
      const requestId = await ask(h, `prod-db 30m from ${A} debugging`, APPROVER);
      await h.click(APPROVER_2, ACTION.approveRequest, requestId);
      await h.slack.waitFor(async () => (await grantOf(h, requestId))?.state === 'active' || undefined);
      h.slack.setGroups(groups({ sre: [APPROVER_2] }));
      await h.event(membersChanged('S0SRE', [APPROVER]));
      await h.hallpass.settled();
      expect((await grantOf(h, requestId))?.state).toBe('active');
      expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    });
  });
});
