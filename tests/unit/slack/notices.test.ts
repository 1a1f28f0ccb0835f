import type { types } from '@slack/bolt';
import { messageProblems } from '../../../src/adapters/slack/views/limits';
import { type NoticeAudience, noticeMessage } from '../../../src/adapters/slack/views/notices';
import type { ApprovalCard, Notice } from '../../../src/app/ports';
import type { AwsRoleResource, SecurityGroupResource } from '../../../src/domain/policy';
import { buildGrant, buildRequest, T0 } from '../../support/builders';

const MIN = 60_000;
const at = (minutes: number): Date => new Date(T0.getTime() + minutes * MIN);

const prodDb: SecurityGroupResource = {
  id: 'prod-db',
  description: 'Production Postgres',
  kind: 'security-group',
  region: 'us-east-1',
  securityGroupId: 'sg-0123456789abcdef0',
  protocol: 'tcp',
  ports: [{ from: 5432, to: 5432 }],
  maxPrefix: { 4: 32, 6: 128 },
  channel: 'C0123ABCD',
  approvers: ['@sre'],
  approvals: 2,
  autoApprove: false,
  allowSelfApproval: false,
  minDuration: MIN,
  maxDuration: 60 * MIN,
  approvalTimeout: 30 * MIN,
  breakGlass: false,
  breakGlassMaxDuration: 60 * MIN,
};

const readonlyRole: AwsRoleResource = {
  id: 'prod-readonly',
  kind: 'aws-role',
  roleArn: 'arn:aws:iam::123456789012:role/ProdReadOnly',
  region: 'us-east-1',
  channel: 'C0123ABCD',
  approvers: ['@sre'],
  approvals: 1,
  autoApprove: false,
  allowSelfApproval: false,
  minDuration: MIN,
  maxDuration: 60 * MIN,
  approvalTimeout: 30 * MIN,
  breakGlass: false,
  breakGlassMaxDuration: 60 * MIN,
};

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
      'Reason: use the replica',
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
    ['<@U_APP1> denied request req_n1 at', at(4).toISOString(), 'Reason: no'],
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
    ['Your access to prod-db', 'closed at', at(10).toISOString(), '(revoked) by <@U_ADMIN>'],
  ],
];

describe('noticeMessage', () => {
  it.each(cases)('%s to the %s says it plainly', (_name, notice, audience, phrases) => {
    const text = allText(noticeMessage(notice, audience));
    for (const phrase of phrases) expect(text).toContain(phrase);
  });

  it.each(cases)('%s to the %s is a valid message', (_name, notice, audience) => {
    expect(messageProblems(noticeMessage(notice, audience))).toEqual([]);
  });

  it.each(cases)('%s to the %s speaks to "you" only in the DM', (_name, notice, audience) => {
    const text = noticeMessage(notice, audience).blocks.map((b) =>
      b.type === 'section' ? b.text?.text : '',
    );
    const toYou = text.some((t) => /\byour?\b/i.test(t ?? ''));
    expect(toYou).toBe(audience === 'requester');
  });

  it('covers every notice type for both audiences', () => {
    const types = new Set(cases.map(([, n, a]) => `${n.type}/${a}`));
    for (const t of [
      'request-submitted',
      'approval-recorded',
      'request-denied',
      'request-timed-out',
      'request-failed',
      'grant-started',
      'grant-ended',
    ]) {
      expect(types).toContain(`${t}/thread`);
      expect(types).toContain(`${t}/requester`);
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
