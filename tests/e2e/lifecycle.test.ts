import { ACTION, BLOCK, BREAK_GLASS_OPTION, CALLBACK } from '../../src/adapters/slack/ids';
import {
  APPROVER,
  APPROVER_2,
  GROUP_ID,
  type Harness,
  OUTSIDER,
  REQUESTER,
  SIGNING_SECRET,
  startHarness,
} from '../support/harness';
import {
  allText,
  approvalPosts,
  buttonValue,
  dmsTo,
  lastReply,
  lastRequestId,
  replyAfter,
  threadPosts,
} from '../support/slack-queries';
import {
  blockActionsBody,
  buttonClick,
  postToApp,
  requestModalValues,
  unixSeconds,
} from '../support/slack-signing';

const MINUTE = 60_000;
const CHANNEL_ID = 'C0123ABCD';

async function activeGrant(
  h: Harness,
  text: string,
  requester = REQUESTER,
): Promise<{ requestId: string; grantId: string }> {
  const before = approvalPosts(h.slack).length;
  await h.command(requester, text);
  await h.slack.waitFor(() => approvalPosts(h.slack).length > before);
  const requestId = lastRequestId(h);
  await h.click(requester === APPROVER ? APPROVER_2 : APPROVER, ACTION.approveRequest, requestId);
  const grant = await h.slack.waitFor(async () => {
    const g = (await h.hallpass.useCases.cardOf(requestId))?.grant;
    return g?.state === 'active' ? g : undefined;
  });
  return { requestId, grantId: grant.id };
}

const grantOf = (h: Harness, id: string) => h.hallpass.useCases.grantOf(id);

describe('extending a grant', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('goes through approval, moves expires_at and the AWS tag, and closes at the new end', async () => {
    const { grantId } = await activeGrant(h, 'prod-db 30m from 203.0.113.7 long migration');
    const start = (await grantOf(h, grantId))?.startsAt.getTime() ?? 0;
    await h.advance(10 * MINUTE);
    await h.command(REQUESTER, `extend ${grantId} 20m`);
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 2 || undefined);
    const extensionId = lastRequestId(h);
    expect(allText(approvalPosts(h.slack)[1])).toContain(grantId);
    expect((await grantOf(h, grantId))?.expiresAt.getTime()).toBe(start + 30 * MINUTE);

    await h.click(APPROVER, ACTION.approveRequest, extensionId);
    const newEnd = new Date(start + 50 * MINUTE);
    await h.slack.waitFor(
      async () => (await grantOf(h, grantId))?.expiresAt.getTime() === newEnd.getTime() || undefined,
    );
    await h.slack.waitFor(
      () => h.ec2.rules(GROUP_ID)[0]?.tags['hallpass:expires-at'] === newEnd.toISOString() || undefined,
    );
    await h.slack.waitFor(() => threadPosts(h.slack).some((c) => allText(c).includes(newEnd.toISOString())));
    expect((await h.hallpass.useCases.auditTrail(extensionId)).map((e) => e.type)).toContain(
      'grant.extended',
    );

    await h.advance(40 * MINUTE - 1); // the old end has long passed
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    await h.advance(1);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
    expect((await grantOf(h, grantId))?.endedAt).toEqual(newEnd);
  });

  it('refuses more time than maxDuration allows from the original start, changing nothing', async () => {
    const { grantId } = await activeGrant(h, 'prod-db 50m from 203.0.113.7 almost the max');
    const end = (await grantOf(h, grantId))?.expiresAt;
    const since = h.slack.calls.length;
    await h.command(REQUESTER, `extend ${grantId} 20m`);
    expect(await replyAfter(h.slack, REQUESTER, since)).toContain(
      '`prod-db` allows at most 1h in all from the original start; this grant has used 50m, so at most 10m more',
    );
    expect((await grantOf(h, grantId))?.expiresAt).toEqual(end);
    expect(approvalPosts(h.slack)).toHaveLength(1);
    expect((await h.hallpass.useCases.overview()).pending).toHaveLength(0);
  });

  it.each([
    ['someone else’s grant', OUTSIDER, 'OWN'],
    ['an unknown grant', REQUESTER, 'grt_nosuchgrant'],
  ])('refuses to extend %s', async (_name, who, id) => {
    const { grantId } = await activeGrant(h, 'prod-db 30m from 203.0.113.7 not yours');
    const before = (await grantOf(h, grantId))?.expiresAt;
    await h.command(who, `extend ${id === 'OWN' ? grantId : id} 10m`);
    await h.slack.waitFor(() => lastReply(h.slack, who) || undefined);
    expect((await grantOf(h, grantId))?.expiresAt).toEqual(before);
    expect(approvalPosts(h.slack)).toHaveLength(1);
  });

  it('extends an auto-approved grant at once', async () => {
    await h.command(REQUESTER, 'staging-db 1h from 198.51.100.3 staging work');
    const active = await h.slack.waitFor(async () =>
      (await h.hallpass.useCases.overview()).active.find((e) => e.grant.state === 'active'),
    );
    const before = active.grant.expiresAt.getTime();
    await h.command(REQUESTER, `extend ${active.grant.id} 30m`);
    await h.slack.waitFor(
      async () =>
        (await grantOf(h, active.grant.id))?.expiresAt.getTime() === before + 30 * MINUTE || undefined,
    );
  });

  it('opens the extend form from the Extend button and asks from its submit', async () => {
    const { grantId } = await activeGrant(h, 'prod-db 30m from 203.0.113.7 via the button');
    await h.click(REQUESTER, ACTION.extendGrant, grantId);
    const opened = await h.slack.waitFor(() => h.slack.callsTo('views.open')[0]);
    expect(JSON.stringify(opened.args['view'])).toContain(CALLBACK.extendModal);
    const res = await h.submit(
      REQUESTER,
      CALLBACK.extendModal,
      { extend_duration: { extend_duration_input: { type: 'plain_text_input', value: '15m' } } },
      grantId,
    );
    expect(res.status).toBe(200);
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 2 || undefined);
  });
});

describe('warnings, done, cancel', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('warns the requester five minutes before the end, with Extend and Done buttons, once', async () => {
    const { grantId } = await activeGrant(h, 'prod-db 30m from 203.0.113.7 warn me');
    const dmCount = () =>
      dmsTo(h.slack, REQUESTER).filter(
        (c) => buttonValue(c, ACTION.doneGrant) === grantId && /ends/i.test(allText(c)),
      ).length;
    await h.advance(25 * MINUTE - 1);
    expect(dmCount()).toBe(0);
    await h.advance(1);
    await h.slack.waitFor(() => dmCount() === 1 || undefined);
    const warning = dmsTo(h.slack, REQUESTER)
      .filter((c) => buttonValue(c, ACTION.doneGrant) === grantId)
      .at(-1);
    expect(buttonValue(warning, ACTION.extendGrant)).toBe(grantId);
    await h.advance(MINUTE);
    expect(dmCount()).toBe(1);
  });

  it('never warns a grant shorter than twice the warning time', async () => {
    await activeGrant(h, 'prod-db 9m from 203.0.113.7 short one');
    await h.advance(9 * MINUTE);
    expect(dmsTo(h.slack, REQUESTER).some((c) => /ends at/i.test(allText(c)))).toBe(false);
  });

  it('ends a grant at once from the Done button, closing the rule', async () => {
    const { grantId } = await activeGrant(h, 'prod-db 30m from 203.0.113.7 finished early');
    await h.advance(3 * MINUTE);
    await h.click(REQUESTER, ACTION.doneGrant, grantId);
    await h.slack.waitFor(async () => (await grantOf(h, grantId))?.state === 'closed' || undefined);
    expect(await grantOf(h, grantId)).toMatchObject({ endReason: 'done', endedBy: REQUESTER });
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
    await h.slack.waitFor(() => threadPosts(h.slack).some((c) => allText(c).includes('finished early')));
  });

  it('lets the requester cancel a pending request, and no one else', async () => {
    await h.command(REQUESTER, 'prod-db 30m from 203.0.113.7 changed my mind');
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    const requestId = lastRequestId(h);
    await h.command(OUTSIDER, `cancel ${requestId}`);
    await h.slack.waitFor(() => lastReply(h.slack, OUTSIDER) || undefined);
    expect((await h.hallpass.useCases.cardOf(requestId))?.request.state).toBe('pending');
    await h.command(REQUESTER, `cancel ${requestId}`);
    await h.slack.waitFor(
      async () => (await h.hallpass.useCases.cardOf(requestId))?.request.state === 'cancelled' || undefined,
    );
    const updates = h.slack.callsTo('chat.update');
    expect(JSON.stringify(updates.at(-1)?.args['blocks'])).not.toContain(ACTION.approveRequest);
    await h.slack.waitFor(() => threadPosts(h.slack).some((c) => /cancel/i.test(allText(c))));
  });
});

describe('reminders', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('re-announces an undecided request to its approvers once, at half its approval timeout', async () => {
    await h.command(REQUESTER, 'prod-db 30m from 203.0.113.7 anyone there');
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    const reminders = () => threadPosts(h.slack).filter((c) => /remind/i.test(allText(c)));
    await h.advance(15 * MINUTE - 1);
    expect(reminders()).toHaveLength(0);
    await h.advance(1);
    await h.slack.waitFor(() => reminders().length === 1 || undefined);
    await h.advance(10 * MINUTE);
    expect(reminders()).toHaveLength(1);
  });
});

describe('break glass', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  const REASON = 'primary database is down and customers cannot log in';

  it('opens at once, alerts the approvers, and owes a review until an approver gives it', async () => {
    await h.command(REQUESTER, `prod-db 20m from 203.0.113.7 --break-glass ${REASON}`);
    await h.slack.waitFor(() => h.ec2.rules(GROUP_ID).length === 1 || undefined);
    const [entry] = (await h.hallpass.useCases.overview()).active;
    const grantId = entry?.grant.id ?? '';
    expect(entry?.grant.breakGlass).toBe(true);
    await h.slack.waitFor(() => threadPosts(h.slack).some((c) => /break-glass/i.test(allText(c))));
    await h.slack.waitFor(
      () =>
        h.slack.callsTo('chat.update').some((c) => buttonValue(c, ACTION.reviewGrant) === grantId) ||
        undefined,
    );
    const admin = await h.hallpass.useCases.directory.actor(APPROVER);
    expect((await h.hallpass.useCases.dashboard(admin)).unreviewed.map((e) => e.grant.id)).toEqual([grantId]);

    // The requester cannot review their own; an approver can, once.
    await h.click(REQUESTER, ACTION.reviewGrant, grantId);
    await h.slack.waitFor(() => lastReply(h.slack, REQUESTER) || undefined);
    expect((await grantOf(h, grantId))?.reviewedBy).toBeUndefined();
    await h.click(APPROVER, ACTION.reviewGrant, grantId);
    await h.slack.waitFor(async () => (await grantOf(h, grantId))?.reviewedBy === APPROVER || undefined);
    expect((await h.hallpass.useCases.dashboard(admin)).unreviewed).toEqual([]);
  });

  it.each([
    ['a reason under 20 characters', 'prod-db 20m from 203.0.113.7 --break-glass urgent!!', '20'],
    ['more than breakGlassMaxDuration', `prod-db 45m from 203.0.113.7 --break-glass ${REASON}`, '30m'],
    [
      'a resource that does not allow it',
      `prod-web 20m from 203.0.113.7 --break-glass ${REASON}`,
      'break-glass',
    ],
  ])('refuses %s and opens nothing', async (_name, text, expected) => {
    await h.command(REQUESTER, text);
    const reply = await h.slack.waitFor(() => lastReply(h.slack, REQUESTER) || undefined);
    expect(reply.toLowerCase()).toContain(expected);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
    expect(approvalPosts(h.slack)).toHaveLength(0);
  });
});

describe('App Home', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  const openHome = (user: string) =>
    postToApp(
      h.url,
      JSON.stringify({
        token: 'x',
        team_id: 'T0HALLPASS',
        api_app_id: 'A0HALLPASS',
        type: 'event_callback',
        event_id: `Ev${Math.random().toString(36).slice(2)}`,
        event_time: unixSeconds(),
        event: { type: 'app_home_opened', user, channel: 'D0HOME', tab: 'home', event_ts: '1.1' },
      }),
      { secret: SIGNING_SECRET, contentType: 'application/json' },
    );

  it('shows an approver what waits for them, and refreshes when anything changes', async () => {
    await openHome(APPROVER);
    await h.slack.waitFor(() => h.slack.callsTo('views.publish').length === 1 || undefined);
    await h.command(REQUESTER, 'prod-db 30m from 203.0.113.7 home dashboard');
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    const requestId = lastRequestId(h);
    const homeWith = (predicate: (text: string) => boolean) =>
      h.slack.waitFor(() => {
        const last = h.slack
          .callsTo('views.publish')
          .filter((c) => c.args['user_id'] === APPROVER)
          .at(-1);
        return last !== undefined && predicate(allText(last)) ? last : undefined;
      });
    const pending = await homeWith((t) => t.includes(requestId));
    expect(buttonValue(pending, ACTION.approveRequest)).toBe(requestId);

    await h.click(APPROVER, ACTION.approveRequest, requestId);
    await h.slack.waitFor(async () => (await h.hallpass.useCases.cardOf(requestId))?.grant?.id);
    // Refreshed without being reopened: nothing waits for this approver now, and the grant shows as active.
    const after = await homeWith((t) => t.includes('Active across the workspace* (1)'));
    expect(buttonValue(after, ACTION.approveRequest)).toBeUndefined();
    expect(allText(after)).toContain('203.0.113.7/32');
  });
});

describe('from the form and from App Home', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('opens break-glass from the request form when the box is ticked', async () => {
    const values = {
      ...requestModalValues({
        resourceId: 'prod-db',
        duration: '15m',
        address: '203.0.113.7',
        reason: 'payments are failing, need to look at locks now',
      }),
      [BLOCK.requestBreakGlass]: {
        [ACTION.requestBreakGlassInput]: {
          type: 'checkboxes',
          selected_options: [{ value: BREAK_GLASS_OPTION }],
        },
      },
    };
    const res = await h.submit(REQUESTER, CALLBACK.requestModal, values, CHANNEL_ID);
    expect(res.status).toBe(200);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    expect((await h.hallpass.useCases.overview()).active[0]?.grant.breakGlass).toBe(true);
  });

  it('approves from an App Home button (a click from a view, with no channel or response_url)', async () => {
    await h.command(REQUESTER, 'prod-db 30m from 203.0.113.7 approved from home');
    const requestId = lastRequestId(h);
    const payload = buttonClick({
      userId: APPROVER,
      actionId: ACTION.approveRequest,
      value: requestId,
      channel: CHANNEL_ID,
      messageTs: '1.1',
      triggerId: 'trigger-home',
      responseUrl: h.slack.responseUrl(),
    }) as Record<string, unknown>;
    const fromHome = {
      ...payload,
      container: { type: 'view', view_id: 'V0HOME' },
      view: { id: 'V0HOME', type: 'home', callback_id: '', private_metadata: '' },
      channel: undefined,
      message: undefined,
      response_url: undefined,
    };
    const res = await postToApp(h.url, blockActionsBody(fromHome), { secret: SIGNING_SECRET });
    expect(res.status).toBe(200);
    await h.hallpass.settled();
    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.state).toBe('active');
  });
});
