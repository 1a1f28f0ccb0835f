import type { types } from '@slack/bolt';
import { approvalCardMessage } from '../../../src/adapters/slack/views/approval-card';
import type { ApprovalCard } from '../../../src/app/notices';
import type { AwsRoleResource, SecurityGroupResource } from '../../../src/domain/policy';
import type { Approval } from '../../../src/domain/request';
import { messageProblems } from '../../support/block-kit';
import { buildGrant, buildRequest, buildRoleResource, buildSgResource, T0 } from '../../support/builders';

const MIN = 60_000;
const NOW = new Date(T0.getTime() + 5 * MIN);

const sgResource = (over: Partial<SecurityGroupResource> = {}): SecurityGroupResource =>
  buildSgResource({ approvals: 2, defaultDuration: 30 * MIN, ...over });

const roleResource = (): AwsRoleResource => buildRoleResource();

const approval = (approverId: string, minutes: number): Approval => ({
  requestId: 'req_card1',
  approverId,
  at: new Date(T0.getTime() + minutes * MIN),
});

function card(over: Partial<ApprovalCard> = {}): ApprovalCard {
  return {
    request: buildRequest({ id: 'req_card1', requesterId: 'U_REQ' }),
    resource: sgResource(),
    approvals: [],
    ...over,
  };
}

/** All text a reader could see, blocks and fallback. */
function allText(message: { text: string; blocks: types.KnownBlock[] }): string {
  const out: string[] = [message.text];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'text' && typeof x === 'string') out.push(x);
        else walk(x);
      }
    }
  };
  walk(message.blocks);
  return out.join('\n');
}

const actionsBlocks = (blocks: types.KnownBlock[]): types.ActionsBlock[] =>
  blocks.filter((b): b is types.ActionsBlock => b.type === 'actions');

/** The only `<…>` tokens views may write: user and channel mentions and dates. */
/** The texts Slack parses for `<…>` tokens: `mrkdwn` elements and the fallback `text` (not `plain_text`). */
function mrkdwnText(message: { text: string; blocks: types.KnownBlock[] }): string {
  const out: string[] = [message.text];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) {
      if (Reflect.get(v, 'type') === 'plain_text') return;
      for (const [k, x] of Object.entries(v)) {
        if (k === 'text' && typeof x === 'string') out.push(x);
        else walk(x);
      }
    }
  };
  walk(message.blocks);
  return out.join('\n');
}

const ALLOWED_TOKEN = /^<(@[UW]\w+|#[CGD]\w+|!date\^\d+\^[^|>]+\|[^>]+)>$/;
const tokens = (text: string): string[] => text.match(/<[^>]*>/g) ?? [];

describe('approvalCardMessage while pending', () => {
  const message = approvalCardMessage(card({ approvals: [approval('U_APP1', 1)] }), NOW);
  const text = allText(message);

  it('offers exactly Approve (primary) and Deny (danger), both carrying the request id', () => {
    expect(actionsBlocks(message.blocks)).toEqual([
      {
        type: 'actions',
        block_id: 'approval_actions',
        elements: [
          {
            type: 'button',
            action_id: 'approve_request',
            text: { type: 'plain_text', text: 'Approve', emoji: true },
            style: 'primary',
            value: 'req_card1',
          },
          {
            type: 'button',
            action_id: 'deny_request',
            text: { type: 'plain_text', text: 'Deny', emoji: true },
            style: 'danger',
            value: 'req_card1',
          },
        ],
      },
    ]);
  });

  it('shows who asks for what, from where, on which ports, for how long', () => {
    expect(text).toContain('<@U_REQ>');
    expect(text).toContain('prod-db');
    expect(text).toContain('Production Postgres');
    expect(text).toContain('203.0.113.7/32');
    expect(text).toContain('tcp 5432');
    expect(text).toContain('30m');
    expect(text).toContain('debugging slow queries');
  });

  it('counts approvals so far and names the approvers', () => {
    expect(text).toContain('1 of 2 approvals: <@U_APP1>');
  });

  it('says when it times out, with the exact ISO-8601 UTC time', () => {
    const deadline = new Date(T0.getTime() + 30 * MIN).toISOString();
    expect(text).toContain('Times out at <!date^');
    expect(text).toContain(deadline);
  });

  it('is a valid message with a fallback text', () => {
    expect(messageProblems(message)).toEqual([]);
    expect(message.text).toContain('waiting for approval');
  });
});

describe('approvalCardMessage for an AWS role', () => {
  it('shows the role ARN instead of ports and addresses', () => {
    const text = allText(
      approvalCardMessage(
        card({
          resource: roleResource(),
          request: buildRequest({ resourceId: 'prod-readonly', source: undefined }),
        }),
        NOW,
      ),
    );
    expect(text).toContain('arn:aws:iam::123456789012:role/ProdReadOnly');
    expect(text).not.toContain('tcp');
  });
});

describe('approvalCardMessage after a decision', () => {
  const decidedAt = new Date(T0.getTime() + 3 * MIN);
  const approved = buildRequest({
    id: 'req_card1',
    state: 'approved',
    decidedAt,
    decidedBy: 'U_APP2',
  });
  const grantBase = {
    id: 'grt_card1',
    requestId: 'req_card1',
    startsAt: decidedAt,
    expiresAt: new Date(decidedAt.getTime() + 30 * MIN),
  };
  const endedAt = new Date(decidedAt.getTime() + 10 * MIN);

  const cases: [string, ApprovalCard, string[]][] = [
    [
      'approved, access opening',
      card({
        request: approved,
        approvals: [approval('U_APP1', 1), approval('U_APP2', 3)],
        grant: buildGrant({ ...grantBase, state: 'opening' }),
      }),
      ['Approved by <@U_APP1> and <@U_APP2> at', decidedAt.toISOString(), 'Opening access'],
    ],
    [
      'approved, access active',
      card({
        request: approved,
        approvals: [approval('U_APP1', 1), approval('U_APP2', 3)],
        grant: buildGrant({ ...grantBase, state: 'active' }),
      }),
      ['Approved by', 'Active until <!date^', grantBase.expiresAt.toISOString(), 'grt_card1'],
    ],
    [
      'approved, access expired',
      card({
        request: approved,
        approvals: [approval('U_APP2', 3)],
        grant: buildGrant({
          ...grantBase,
          state: 'closed',
          endedAt: grantBase.expiresAt,
          endReason: 'expired',
          endedBy: 'hallpass',
        }),
      }),
      ['Ended at', grantBase.expiresAt.toISOString(), '(expired)'],
    ],
    [
      'approved, access revoked',
      card({
        request: approved,
        approvals: [approval('U_APP2', 3)],
        grant: buildGrant({
          ...grantBase,
          state: 'closed',
          endedAt,
          endReason: 'revoked',
          endedBy: 'U_ADMIN',
        }),
      }),
      ['Ended at', endedAt.toISOString(), '(revoked by <@U_ADMIN>)'],
    ],
    [
      'auto-approved',
      card({
        request: { ...approved, decidedBy: 'hallpass' },
        resource: sgResource({ autoApprove: true }),
        grant: buildGrant({ ...grantBase, state: 'active' }),
      }),
      ['Auto-approved at', decidedAt.toISOString(), 'Active until'],
    ],
    [
      'denied',
      card({
        request: buildRequest({
          id: 'req_card1',
          state: 'denied',
          decidedAt,
          decidedBy: 'U_APP1',
          note: 'use the replica <!channel>',
        }),
      }),
      ['Denied by <@U_APP1> at', decidedAt.toISOString(), 'use the replica &lt;!channel&gt;'],
    ],
    [
      'timed out',
      card({
        request: buildRequest({ id: 'req_card1', state: 'timed_out', decidedAt, decidedBy: 'hallpass' }),
      }),
      ['Timed out at', decidedAt.toISOString(), 'nobody approved in time'],
    ],
    [
      'cancelled',
      card({ request: buildRequest({ id: 'req_card1', state: 'cancelled', decidedAt, decidedBy: 'U_REQ' }) }),
      ['Cancelled by <@U_REQ> at', decidedAt.toISOString()],
    ],
    [
      'failed',
      card({
        request: buildRequest({
          id: 'req_card1',
          state: 'failed',
          decidedAt,
          note: 'AWS refused: the security group does not exist',
        }),
      }),
      ['Failed: AWS refused: the security group does not exist', decidedAt.toISOString()],
    ],
  ];

  it.each(cases)('%s: shows no buttons', (_name, c) => {
    expect(actionsBlocks(approvalCardMessage(c, NOW).blocks)).toEqual([]);
  });

  it.each(cases)('%s: says what happened, by whom, when', (_name, c, expected) => {
    const text = allText(approvalCardMessage(c, NOW));
    for (const phrase of expected) expect(text).toContain(phrase);
  });

  it.each(cases)('%s: is a valid message', (_name, c) => {
    expect(messageProblems(approvalCardMessage(c, NOW))).toEqual([]);
  });
});

describe('approvalCardMessage with hostile or huge user text', () => {
  const reason = `${'<!channel> <@U999> <https://evil.example|click> & '.repeat(60)}`.slice(0, 3000);
  const message = approvalCardMessage(
    card({
      request: buildRequest({
        id: 'req_card1',
        reason,
        state: 'denied',
        decidedAt: NOW,
        decidedBy: 'U_APP1',
        note: '<!here> no'.repeat(200),
      }),
    }),
    NOW,
  );

  it('keeps every section within 3000 characters and the message valid', () => {
    expect(reason).toHaveLength(3000);
    expect(messageProblems(message)).toEqual([]);
    for (const b of message.blocks) {
      if (b.type === 'section') expect(b.text?.text.length ?? 0).toBeLessThanOrEqual(3000);
    }
  });

  it('writes no ping or link that the views did not write themselves', () => {
    const found = tokens(mrkdwnText(message));
    expect(found.length).toBeGreaterThan(0);
    for (const t of found) expect(t).toMatch(ALLOWED_TOKEN);
    expect(mrkdwnText(message)).not.toContain('<@U999>');
  });

  it('quotes the reason as plain text on its own, where Slack renders no mention, link or formatting', () => {
    const quoted = message.blocks.flatMap((b) =>
      b.type === 'context' ? b.elements.filter((e) => e.type === 'plain_text') : [],
    );
    expect(quoted).toHaveLength(1);
    expect(quoted[0]?.type === 'plain_text' && quoted[0].text.startsWith('Reason: “‹!channel› ‹@U999›')).toBe(
      true,
    );
  });

  it('marks user text verbatim so Slack does not auto-link it', () => {
    for (const b of message.blocks) {
      if (b.type === 'section' && b.text?.type === 'mrkdwn') expect(b.text.verbatim).toBe(true);
    }
  });
});

describe('approvalCardMessage for an extension request', () => {
  const startsAt = T0;
  const grant = buildGrant({
    id: 'grt_ext1',
    requestId: 'req_orig',
    state: 'active',
    startsAt,
    expiresAt: new Date(startsAt.getTime() + 30 * MIN),
  });
  const extension = buildRequest({
    id: 'req_ext1',
    requesterId: 'U_REQ',
    kind: 'extension',
    extendsGrantId: 'grt_ext1',
    durationMs: 20 * MIN,
    reason: 'migration still running',
  });

  it('while pending, says how much more, on which grant, the current end and the end it would bring', () => {
    const message = approvalCardMessage(card({ request: extension, extends: grant }), NOW);
    const text = allText(message);
    expect(message.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'Extension request: prod-db', emoji: true },
    });
    expect(text).toContain('<@U_REQ> asks for *20m* more on grant `grt_ext1`');
    expect(text).toContain(`now until <!date^${Math.floor(grant.expiresAt.getTime() / 1000)}`);
    expect(text).toContain(grant.expiresAt.toISOString());
    expect(text).toContain(`would end at <!date^`);
    expect(text).toContain(new Date(startsAt.getTime() + 50 * MIN).toISOString());
    expect(actionsBlocks(message.blocks).map((b) => b.elements.map((e) => e.action_id))).toEqual([
      ['approve_request', 'deny_request'],
    ]);
    expect(messageProblems(message)).toEqual([]);
  });

  it('once approved, shows the grant with its new end and no buttons', () => {
    const extended = { ...grant, expiresAt: new Date(startsAt.getTime() + 50 * MIN) };
    const message = approvalCardMessage(
      card({
        request: { ...extension, state: 'approved', decidedAt: NOW, decidedBy: 'U_APP1' },
        approvals: [approval('U_APP1', 5)],
        extends: extended,
      }),
      NOW,
    );
    const text = allText(message);
    expect(text).toContain('Approved by <@U_APP1>');
    expect(text).toContain(`Active until <!date^`);
    expect(text).toContain(extended.expiresAt.toISOString());
    expect(text).not.toContain('would end at');
    expect(actionsBlocks(message.blocks)).toEqual([]);
    expect(messageProblems(message)).toEqual([]);
  });

  it('once denied or cancelled, shows the usual decided state without buttons', () => {
    for (const state of ['denied', 'cancelled', 'timed_out'] as const) {
      const message = approvalCardMessage(
        card({ request: { ...extension, state, decidedAt: NOW, decidedBy: 'U_REQ' }, extends: grant }),
        NOW,
      );
      expect(actionsBlocks(message.blocks)).toEqual([]);
      expect(messageProblems(message)).toEqual([]);
    }
  });
});

describe('approvalCardMessage for break-glass access', () => {
  const openedAt = T0;
  const request = buildRequest({
    id: 'req_bg1',
    requesterId: 'U_REQ',
    breakGlass: true,
    state: 'approved',
    decidedAt: openedAt,
    decidedBy: 'hallpass',
    reason: 'primary is down, failing over by hand',
  });
  const grant = buildGrant({
    id: 'grt_bg1',
    requestId: 'req_bg1',
    state: 'active',
    breakGlass: true,
    startsAt: openedAt,
    expiresAt: new Date(openedAt.getTime() + 30 * MIN),
  });
  const bgCard = (g: typeof grant): ApprovalCard =>
    card({ request, resource: sgResource({ approvers: ['@sre', 'U_LEAD'], breakGlass: true }), grant: g });
  const reviewButtons = (blocks: types.KnownBlock[]): string[] =>
    actionsBlocks(blocks).flatMap((b) => b.elements.map((e) => (e.type === 'button' ? (e.value ?? '') : '')));

  it('says it was opened without approval and asks the approvers, mentioned, to review it', () => {
    const message = approvalCardMessage(bgCard(grant), NOW, {
      mention: (p) => (p === '@sre' ? '<!subteam^S0SRE|@sre>' : `<@${p}>`),
    });
    const text = allText(message);
    expect(message.blocks[0]).toMatchObject({
      type: 'header',
      text: { text: 'Break-glass access: prod-db' },
    });
    expect(text).toContain('without approval');
    expect(text).toContain('<!subteam^S0SRE|@sre>, <@U_LEAD>: please review this break-glass access.');
    expect(text).toContain('Active until');
    expect(text).not.toContain('Auto-approved');
    expect(messageProblems(message)).toEqual([]);
  });

  it('writes groups as plain @handles by default', () => {
    const text = allText(approvalCardMessage(bgCard(grant), NOW));
    expect(text).toContain('@sre, <@U_LEAD>: please review');
    expect(text).not.toContain('subteam');
  });

  it.each([
    ['active', grant],
    [
      'ended',
      { ...grant, state: 'closed' as const, endedAt: NOW, endReason: 'done' as const, endedBy: 'U_REQ' },
    ],
  ])('offers Review (valued with the grant id) while unreviewed, %s', (_name, g) => {
    const message = approvalCardMessage(bgCard(g), NOW);
    const review = actionsBlocks(message.blocks);
    expect(review).toEqual([
      {
        type: 'actions',
        block_id: 'review_actions',
        elements: [
          {
            type: 'button',
            action_id: 'review_grant',
            text: { type: 'plain_text', text: 'Review', emoji: true },
            value: 'grt_bg1',
          },
        ],
      },
    ]);
  });

  it('shows who reviewed it and when, without a button, once reviewed', () => {
    const reviewedAt = new Date(openedAt.getTime() + 45 * MIN);
    const message = approvalCardMessage(
      bgCard({ ...grant, state: 'closed', endedAt: grant.expiresAt, reviewedBy: 'U_LEAD', reviewedAt }),
      NOW,
    );
    const text = allText(message);
    expect(reviewButtons(message.blocks)).toEqual([]);
    expect(text).toContain('Reviewed by <@U_LEAD> at');
    expect(text).toContain(reviewedAt.toISOString());
    expect(text).not.toContain('please review');
  });

  it('shows the end and who ended it', () => {
    const text = allText(
      approvalCardMessage(
        bgCard({ ...grant, state: 'closed', endedAt: NOW, endReason: 'done', endedBy: 'U_REQ' }),
        NOW,
      ),
    );
    expect(text).toContain(`Ended at <!date^`);
    expect(text).toContain(`${NOW.toISOString()}> (finished early by <@U_REQ>)`);
  });

  it('offers no Review on an ordinary grant', () => {
    const message = approvalCardMessage(
      card({ request: { ...request, breakGlass: false }, grant: { ...grant, breakGlass: false } }),
      NOW,
    );
    expect(actionsBlocks(message.blocks)).toEqual([]);
    expect(allText(message)).not.toContain('review');
  });
});

describe('approvalCardMessage approver mentions', () => {
  it('addresses the approvers of a pending request through opts.mention', () => {
    const text = allText(
      approvalCardMessage(card(), NOW, { mention: (p) => (p === '@sre' ? '<!subteam^S0SRE|@sre>' : p) }),
    );
    expect(text).toContain('Waiting for approval from <!subteam^S0SRE|@sre>');
  });
});
