import type { types } from '@slack/bolt';
import { type NoticeAudience, noticeMessage } from '../../../src/adapters/slack/views/notices';
import type { ApprovalCard, Notice } from '../../../src/app/notices';
import type { AwsRoleResource, SecurityGroupResource } from '../../../src/domain/policy';
import { messageProblems } from '../../support/block-kit';
import { buildGrant, buildRequest, buildRoleResource, buildSgResource, T0 } from '../../support/builders';

const MIN = 60_000;
const at = (minutes: number): Date => new Date(T0.getTime() + minutes * MIN);

const prodDb: SecurityGroupResource = buildSgResource({ approvals: 2 });

const readonlyRole: AwsRoleResource = buildRoleResource();

const pending = buildRequest({ id: 'req_n1', requesterId: 'U_REQ', approvalDeadline: at(30) });
const card = (over: Partial<ApprovalCard> = {}): ApprovalCard => ({
  request: pending,
  resource: prodDb,
  approvals: [],
  ...over,
});
const grant = buildGrant({
  id: 'grt_n1',
  requestId: 'req_n1',
  state: 'active',
  startsAt: at(2),
  expiresAt: at(32),
});

const bgRequest = buildRequest({
  id: 'req_bg',
  requesterId: 'U_REQ',
  breakGlass: true,
  state: 'approved',
  decidedBy: 'hallpass',
  decidedAt: at(0),
  reason: 'primary is down <!here>',
});
const bgGrant = buildGrant({
  id: 'grt_bg',
  requestId: 'req_bg',
  state: 'active',
  breakGlass: true,
  startsAt: at(0),
  expiresAt: at(30),
});

const allText = (m: { text: string; blocks: types.KnownBlock[] }): string =>
  [m.text, ...m.blocks.map((b) => (b.type === 'section' ? (b.text?.text ?? '') : ''))].join('\n');

const cases: [string, Notice, NoticeAudience, string[]][] = [
  [
    'request-submitted',
    { type: 'request-submitted', card: card() },
    'requester',
    [
      'Your request req_n1 for prod-db was sent to <#C0123ABCD> for approval; times out at <!date^',
      at(30).toISOString(),
    ],
  ],
  [
    'request-submitted',
    { type: 'request-submitted', card: card() },
    'thread',
    ['<@U_REQ> asked for 30m of access to prod-db from 203.0.113.7/32 (tcp 5432)', '2 approvals needed'],
  ],
  [
    'request-submitted (auto-approved)',
    {
      type: 'request-submitted',
      card: card({
        request: { ...pending, state: 'approved', decidedBy: 'hallpass', decidedAt: at(0) },
        resource: { ...prodDb, autoApprove: true },
      }),
    },
    'requester',
    ['Your request req_n1 for prod-db was auto-approved'],
  ],
  [
    'approval-recorded',
    {
      type: 'approval-recorded',
      card: card({ approvals: [{ requestId: 'req_n1', approverId: 'U_APP1', at: at(1) }] }),
      approverId: 'U_APP1',
    },
    'thread',
    ['<@U_APP1> approved (1 of 2)'],
  ],
  [
    'approval-recorded',
    {
      type: 'approval-recorded',
      card: card({ approvals: [{ requestId: 'req_n1', approverId: 'U_APP1', at: at(1) }] }),
      approverId: 'U_APP1',
    },
    'requester',
    ['<@U_APP1> approved your request req_n1 for prod-db (1 of 2)'],
  ],
  [
    'request-denied',
    {
      type: 'request-denied',
      card: card({
        request: {
          ...pending,
          state: 'denied',
          decidedBy: 'U_APP1',
          decidedAt: at(4),
          note: 'use the replica',
        },
      }),
    },
    'requester',
    [
      'Your request req_n1 for prod-db was denied by <@U_APP1> at',
      at(4).toISOString(),
      'Reason: “use the replica”',
    ],
  ],
  [
    'request-denied',
    {
      type: 'request-denied',
      card: card({
        request: { ...pending, state: 'denied', decidedBy: 'U_APP1', decidedAt: at(4), note: 'no' },
      }),
    },
    'thread',
    ['<@U_APP1> denied request req_n1 at', at(4).toISOString(), 'Reason: “no”'],
  ],
  [
    'request-timed-out',
    {
      type: 'request-timed-out',
      card: card({ request: { ...pending, state: 'timed_out', decidedBy: 'hallpass', decidedAt: at(30) } }),
    },
    'requester',
    ['Your request req_n1 for prod-db timed out at', at(30).toISOString(), 'nobody approved it in time'],
  ],
  [
    'request-timed-out',
    {
      type: 'request-timed-out',
      card: card({ request: { ...pending, state: 'timed_out', decidedBy: 'hallpass', decidedAt: at(30) } }),
    },
    'thread',
    ['Request req_n1 timed out at', at(30).toISOString()],
  ],
  [
    'request-failed',
    {
      type: 'request-failed',
      card: card({
        request: { ...pending, state: 'failed', decidedAt: at(3), note: 'the security group is gone' },
      }),
    },
    'requester',
    ['Your request req_n1 for prod-db failed: the security group is gone'],
  ],
  [
    'request-failed',
    {
      type: 'request-failed',
      card: card({
        request: { ...pending, state: 'failed', decidedAt: at(3), note: 'the security group is gone' },
      }),
    },
    'thread',
    ['Request req_n1 for prod-db failed: the security group is gone'],
  ],
  [
    'grant-started',
    { type: 'grant-started', card: card({ grant }), grant },
    'thread',
    [
      'Access to prod-db for <@U_REQ> from 203.0.113.7/32 (tcp 5432) is open until <!date^',
      at(32).toISOString(),
      '(grant grt_n1)',
    ],
  ],
  [
    'grant-started',
    { type: 'grant-started', card: card({ grant }), grant },
    'requester',
    ['Your access to prod-db from 203.0.113.7/32 (tcp 5432) is open until', '/access revoke grt_n1'],
  ],
  [
    'grant-started (role)',
    {
      type: 'grant-started',
      card: card({
        resource: readonlyRole,
        request: { ...pending, resourceId: 'prod-readonly', source: undefined },
      }),
      grant,
    },
    'thread',
    [
      'Access to prod-readonly for <@U_REQ> as role arn:aws:iam::123456789012:role/ProdReadOnly is open until',
    ],
  ],
  [
    'grant-ended',
    {
      type: 'grant-ended',
      card: card(),
      grant: { ...grant, state: 'closed', endedAt: at(32), endReason: 'expired', endedBy: 'hallpass' },
    },
    'thread',
    [
      'Access to prod-db for <@U_REQ> from 203.0.113.7/32 (tcp 5432) closed at',
      at(32).toISOString(),
      '(expired)',
    ],
  ],
  [
    'grant-ended',
    {
      type: 'grant-ended',
      card: card(),
      grant: { ...grant, state: 'closed', endedAt: at(10), endReason: 'revoked', endedBy: 'U_ADMIN' },
    },
    'requester',
    ['Your access to prod-db', 'closed at', at(10).toISOString(), '(revoked by <@U_ADMIN>)'],
  ],
  [
    'grant-ended',
    {
      type: 'grant-ended',
      card: card(),
      grant: { ...grant, state: 'closed', endedAt: at(31), endReason: 'expired', endedBy: 'hallpass' },
      neverOpened: true,
    },
    'thread',
    [
      'Access to prod-db for <@U_REQ> from 203.0.113.7/32 (tcp 5432) ended at',
      at(31).toISOString(),
      '(expired) before it could open: nothing is open for it',
    ],
  ],
  [
    'grant-ended',
    {
      type: 'grant-ended',
      card: card(),
      grant: { ...grant, state: 'closed', endedAt: at(31), endReason: 'expired', endedBy: 'hallpass' },
      neverOpened: true,
    },
    'requester',
    ['Your access to prod-db', 'before it could open', 'Ask again with /access'],
  ],
  [
    'request-cancelled',
    {
      type: 'request-cancelled',
      card: card({ request: { ...pending, state: 'cancelled', decidedBy: 'U_REQ', decidedAt: at(3) } }),
    },
    'requester',
    ['Your request req_n1 for prod-db was cancelled at', at(3).toISOString(), 'nothing was opened'],
  ],
  [
    'request-cancelled',
    {
      type: 'request-cancelled',
      card: card({ request: { ...pending, state: 'cancelled', decidedBy: 'U_REQ', decidedAt: at(3) } }),
    },
    'thread',
    ['<@U_REQ> cancelled request req_n1 at', at(3).toISOString()],
  ],
  [
    'grant-expiring',
    { type: 'grant-expiring', card: card({ grant }), grant },
    'requester',
    ['Your access to prod-db ends at <!date^', at(32).toISOString(), '(in 5m)'],
  ],
  [
    'grant-expiring',
    { type: 'grant-expiring', card: card({ grant }), grant },
    'thread',
    ['Access to prod-db for <@U_REQ> ends at', at(32).toISOString(), '(grant grt_n1)'],
  ],
  [
    'grant-extended',
    { type: 'grant-extended', card: card(), grant: { ...grant, expiresAt: at(52) }, previousEnd: at(32) },
    'requester',
    [
      'Your access to prod-db was extended from <!date^',
      at(32).toISOString(),
      'to <!date^',
      at(52).toISOString(),
    ],
  ],
  [
    'grant-extended',
    { type: 'grant-extended', card: card(), grant: { ...grant, expiresAt: at(52) }, previousEnd: at(32) },
    'thread',
    ['Access to prod-db for <@U_REQ> was extended from', at(32).toISOString(), at(52).toISOString()],
  ],
  [
    'approval-reminder',
    { type: 'approval-reminder', card: card(), approvers: ['@sre', 'U_LEAD'] },
    'thread',
    [
      'Reminder for @sre, <@U_LEAD>: request req_n1 from <@U_REQ> for prod-db is waiting; it times out at <!date^',
      at(30).toISOString(),
    ],
  ],
  [
    'approval-reminder',
    { type: 'approval-reminder', card: card(), approvers: ['@sre'] },
    'requester',
    ['Your request req_n1 for prod-db is still waiting for approval', at(30).toISOString()],
  ],
  [
    'break-glass-opened',
    {
      type: 'break-glass-opened',
      card: card({ request: bgRequest, grant: bgGrant }),
      grant: bgGrant,
      approvers: ['@sre', 'U_LEAD'],
    },
    'thread',
    [
      'Break-glass: <@U_REQ> opened prod-db from 203.0.113.7/32 (tcp 5432) without approval, until <!date^',
      at(30).toISOString(),
      'Reason: “primary is down &lt;!here&gt;”',
      '@sre, <@U_LEAD>, please review it.',
    ],
  ],
  [
    'break-glass-opened',
    {
      type: 'break-glass-opened',
      card: card({ request: bgRequest, grant: bgGrant }),
      grant: bgGrant,
      approvers: ['@sre'],
    },
    'requester',
    ['You opened prod-db', 'without approval (break-glass)', 'The approvers were alerted'],
  ],
  [
    'grant-reviewed',
    {
      type: 'grant-reviewed',
      card: card({ request: bgRequest }),
      grant: { ...bgGrant, reviewedBy: 'U_LEAD', reviewedAt: at(40) },
    },
    'thread',
    [
      '<@U_LEAD> reviewed the break-glass access of <@U_REQ> to prod-db (grant grt_bg) at',
      at(40).toISOString(),
    ],
  ],
  [
    'grant-reviewed',
    {
      type: 'grant-reviewed',
      card: card({ request: bgRequest }),
      grant: { ...bgGrant, reviewedBy: 'U_LEAD', reviewedAt: at(40) },
    },
    'requester',
    ['<@U_LEAD> reviewed your break-glass access to prod-db (grant grt_bg) at', at(40).toISOString()],
  ],
  [
    'grant-close-failing',
    {
      type: 'grant-close-failing',
      card: card(),
      grant,
      attempts: 3,
      error: 'RequestLimitExceeded: slow down <!channel>',
    },
    'thread',
    [
      'could not close',
      'grant grt_',
      '3 attempts',
      'RequestLimitExceeded',
      '&lt;!channel&gt;',
      'keeps retrying',
    ],
  ],
  [
    'grant-close-failing',
    { type: 'grant-close-failing', card: card(), grant, attempts: 3, error: 'RequestLimitExceeded' },
    'requester',
    ['could not close your access', 'keeps retrying'],
  ],
  [
    'grant-close-failing with admins',
    {
      type: 'grant-close-failing',
      card: card(),
      grant,
      attempts: 3,
      error: 'LimitExceeded',
      admins: ['@security', 'U_ADMIN'],
    },
    'thread',
    ['could not close', '@security', '<@U_ADMIN>', 'please check'],
  ],
  [
    'grant-policy-changed',
    {
      type: 'grant-policy-changed',
      card: card(),
      grant,
      changes: ['its resource is no longer in the policy', 'its ports are now <!channel>'],
    },
    'thread',
    [
      'The policy changed',
      'its resource is no longer in the policy',
      '&lt;!channel&gt;',
      'keeps exactly what was approved',
      'closes as planned at',
      'with the account and role that opened it',
    ],
  ],
  [
    'grant-policy-changed',
    {
      type: 'grant-policy-changed',
      card: card(),
      grant,
      changes: ['its resource is no longer in the policy'],
    },
    'requester',
    ['The policy changed under your access', 'keeps exactly what was approved'],
  ],
  [
    'identity-changed',
    {
      type: 'identity-changed',
      card: card(),
      userId: 'UREQ',
      cause: { kind: 'deactivated' },
      effect: 'grant-ended',
    },
    'thread',
    ['Slack account was deactivated', 'may no longer ask for', 'is being ended'],
  ],
  [
    'identity-changed',
    {
      type: 'identity-changed',
      card: card(),
      userId: 'UREQ',
      cause: { kind: 'left-group', group: 'backend' },
      effect: 'request-cancelled',
    },
    'requester',
    ['Your request', 'was cancelled', 'left the user group @backend'],
  ],
  [
    'connections-cut',
    {
      type: 'connections-cut',
      card: card(),
      grant,
      phase: 'cut',
      entries: ['acl-0abc #100'],
      until: at(60),
    },
    'thread',
    ['were cut at its end', 'network ACL deny acl-0abc #100', 'in place until'],
  ],
  [
    'connections-cut',
    {
      type: 'connections-cut',
      card: card(),
      grant,
      phase: 'refused',
      entries: [],
      why: 'network ACL acl-0abc has no free rule number in 100-101',
    },
    'requester',
    ['your address', 'could not be cut', 'no free rule number in 100-101', 'one already established goes on'],
  ],
  [
    'connections-cut',
    { type: 'connections-cut', card: card(), grant, phase: 'lifted', entries: ['acl-0abc #100'] },
    'thread',
    ['were removed as planned', 'acl-0abc #100'],
  ],
  [
    'connections-cut',
    { type: 'connections-cut', card: card(), grant, phase: 'cut', entries: ['acl-0abc #100'], until: at(60) },
    'requester',
    ['from your address', 'were cut at its end'],
  ],
];

/** `now` five minutes before `grant` ends, for "in 5m". */
const OPTS = { now: at(27) };

/** Cases named with their audience, for readable test titles. */
const named = cases.map(([name, notice, audience, phrases]): [string, Notice, NoticeAudience, string[]] => [
  `${name} to the ${audience}`,
  notice,
  audience,
  phrases,
]);

describe('noticeMessage', () => {
  it.each(named)('%s says it plainly', (_name, notice, audience, phrases) => {
    const text = allText(noticeMessage(notice, audience, OPTS));
    for (const phrase of phrases) expect(text).toContain(phrase);
  });

  it.each(named)('%s is a valid message', (_name, notice, audience) => {
    expect(messageProblems(noticeMessage(notice, audience))).toEqual([]);
  });

  it.each(named)('%s speaks to "you" only in the DM', (_name, notice, audience) => {
    const text = noticeMessage(notice, audience).blocks.map((b) =>
      b.type === 'section' ? b.text?.text : '',
    );
    const toYou = text.some((t) => /\byour?\b/i.test(t ?? ''));
    expect(toYou).toBe(audience === 'requester');
  });

  it('covers every notice type for both audiences', () => {
    // A complete record: a Notice type added to ports.ts without a case here fails to compile.
    const every: Record<Notice['type'], true> = {
      'request-submitted': true,
      'approval-recorded': true,
      'request-denied': true,
      'request-timed-out': true,
      'request-failed': true,
      'request-cancelled': true,
      'grant-started': true,
      'grant-ended': true,
      'grant-expiring': true,
      'grant-extended': true,
      'approval-reminder': true,
      'break-glass-opened': true,
      'grant-reviewed': true,
      'grant-close-failing': true,
      'grant-policy-changed': true,
      'connections-cut': true,
      'identity-changed': true,
    };
    const covered = new Set(cases.map(([, n, a]) => `${n.type}/${a}`));
    for (const t of Object.keys(every)) {
      expect(covered).toContain(`${t}/thread`);
      expect(covered).toContain(`${t}/requester`);
    }
  });

  it('escapes a deny reason so it cannot ping the channel', () => {
    const notice: Notice = {
      type: 'request-denied',
      card: card({
        request: {
          ...pending,
          state: 'denied',
          decidedBy: 'U_APP1',
          decidedAt: at(4),
          note: '<!channel> no',
        },
      }),
    };
    const text = allText(noticeMessage(notice, 'thread'));
    expect(text).toContain('&lt;!channel&gt; no');
    expect(text).not.toContain('<!channel>');
  });
});

describe('noticeMessage buttons', () => {
  const buttons = (m: { blocks: types.KnownBlock[] }): [string | undefined, string | undefined, string][] =>
    m.blocks
      .filter((b): b is types.ActionsBlock => b.type === 'actions')
      .flatMap((b) =>
        b.elements.map((e): [string | undefined, string | undefined, string] =>
          e.type === 'button' ? [b.block_id, e.action_id, e.value ?? ''] : [b.block_id, e.action_id, ''],
        ),
      );

  it.each([
    ['grant-started', { type: 'grant-started', card: card({ grant }), grant } as Notice],
    ['grant-expiring', { type: 'grant-expiring', card: card({ grant }), grant } as Notice],
  ])('%s to the requester carries Extend and Done, valued with the grant id', (_name, notice) => {
    const m = noticeMessage(notice, 'requester', OPTS);
    expect(buttons(m)).toEqual([
      ['grant_actions', 'extend_grant', 'grt_n1'],
      ['grant_actions', 'done_grant', 'grt_n1'],
    ]);
    expect(messageProblems(m)).toEqual([]);
  });

  it('asks for confirmation before Done ends the access', () => {
    const m = noticeMessage({ type: 'grant-started', card: card({ grant }), grant }, 'requester');
    const done = m.blocks
      .filter((b): b is types.ActionsBlock => b.type === 'actions')
      .flatMap((b) => b.elements)
      .find((e) => e.action_id === 'done_grant');
    expect(done?.type === 'button' && done.confirm?.confirm?.text).toBe('End it');
    expect(done?.type === 'button' && done.style).toBeUndefined();
  });

  it('leaves Extend off an AWS role grant, whose session cannot be lengthened', () => {
    const notice: Notice = {
      type: 'grant-expiring',
      card: card({
        resource: readonlyRole,
        request: { ...pending, resourceId: 'prod-readonly', source: undefined },
      }),
      grant,
    };
    const m = noticeMessage(notice, 'requester', OPTS);
    expect(buttons(m).map(([, a]) => a)).toEqual(['done_grant']);
    expect(allText(m)).toContain('cannot be lengthened');
  });

  it('puts no buttons in the thread, nor in any other notice', () => {
    for (const [, notice, audience] of cases) {
      const m = noticeMessage(notice, audience, OPTS);
      const expected =
        audience === 'requester' && (notice.type === 'grant-started' || notice.type === 'grant-expiring');
      expect(buttons(m).length > 0).toBe(expected);
    }
  });

  it('gives the end time without "in …" when it does not know the time', () => {
    const text = allText(
      noticeMessage({ type: 'grant-expiring', card: card({ grant }), grant }, 'requester'),
    );
    expect(text).toContain(at(32).toISOString());
    expect(text).not.toMatch(/\(in /);
  });
});

describe('noticeMessage approver mentions', () => {
  it('writes the approvers through opts.mention in a reminder and a break-glass alert', () => {
    const mention = (p: string): string => (p === '@sre' ? '<!subteam^S0SRE|@sre>' : `<@${p}>`);
    const reminder = allText(
      noticeMessage({ type: 'approval-reminder', card: card(), approvers: ['@sre'] }, 'thread', { mention }),
    );
    expect(reminder).toContain('Reminder for <!subteam^S0SRE|@sre>:');
    const alert = allText(
      noticeMessage(
        {
          type: 'break-glass-opened',
          card: card({ request: bgRequest }),
          grant: bgGrant,
          approvers: ['@sre'],
        },
        'thread',
        { mention },
      ),
    );
    expect(alert).toContain('<!subteam^S0SRE|@sre>, please review it.');
  });

  it('does not call a break-glass request auto-approved', () => {
    const text = allText(
      noticeMessage({ type: 'request-submitted', card: card({ request: bgRequest }) }, 'requester'),
    );
    expect(text).not.toContain('auto-approved');
    expect(text).toContain('break-glass');
  });

  it('describes an extension request as more time on a grant', () => {
    const extension = buildRequest({
      id: 'req_x1',
      requesterId: 'U_REQ',
      kind: 'extension',
      extendsGrantId: 'grt_n1',
      durationMs: 15 * MIN,
      approvalDeadline: at(40),
    });
    const text = allText(
      noticeMessage({ type: 'request-submitted', card: card({ request: extension }) }, 'thread'),
    );
    expect(text).toContain('<@U_REQ> asked for 15m more on grant grt_n1 (prod-db)');
  });
});
