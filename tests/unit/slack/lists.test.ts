import type { types } from '@slack/bolt';
import { helpMessage } from '../../../src/adapters/slack/views/help';
import { listMessage } from '../../../src/adapters/slack/views/list';
import { resourcesMessage } from '../../../src/adapters/slack/views/resources';
import type { AwsRoleResource, SecurityGroupResource } from '../../../src/domain/policy';
import { messageProblems } from '../../support/block-kit';
import { buildGrant, buildRequest, buildRoleResource, buildSgResource, T0 } from '../../support/builders';

const MIN = 60_000;

const sg = (id: string, over: Partial<SecurityGroupResource> = {}): SecurityGroupResource =>
  buildSgResource({
    id,
    ports: [
      { from: 5432, to: 5432 },
      { from: 8000, to: 8080 },
    ],
    defaultDuration: 30 * MIN,
    ...over,
  });

const role: AwsRoleResource = buildRoleResource({
  region: 'eu-west-1',
  channel: 'C0SECOND',
  approvals: 2,
  maxDuration: 2 * 60 * MIN,
});

const text = (m: { text: string; blocks: types.KnownBlock[] }): string =>
  [
    m.text,
    ...m.blocks.flatMap((b) => {
      if (b.type === 'section') return [b.text?.text ?? ''];
      if (b.type === 'context') return b.elements.map((e) => ('text' in e ? e.text : ''));
      if (b.type === 'header') return [b.text.text];
      return [];
    }),
  ].join('\n');

describe('helpMessage', () => {
  const message = helpMessage();

  it('shows every form of the /access grammar', () => {
    const t = text(message);
    for (const form of [
      '`/access`',
      '/access &lt;resource&gt; [&lt;duration&gt;] [from &lt;ip|cidr&gt;] &lt;reason…&gt;',
      '/access list',
      '/access resources',
      '/access revoke &lt;grant-id&gt;',
      '/access extend &lt;grant-id&gt; &lt;duration&gt;',
      '/access cancel &lt;request-id&gt;',
      '/access audit [&lt;days&gt;]',
      '--break-glass &lt;reason…&gt;',
      '/access help',
    ]) {
      expect(t).toContain(form);
    }
    expect(t).toContain('/access prod-db 30m from 203.0.113.7 debugging slow queries');
    expect(t).toMatch(/\/access prod-db 30m from 203\.0\.113\.7 --break-glass .{20,}`/);
    expect(t).toContain('admins only');
  });

  it('writes the placeholders escaped, so Slack does not read them as links', () => {
    for (const b of message.blocks) if (b.type === 'section') expect(b.text?.text).not.toMatch(/[<>]/);
    expect(message.text).not.toMatch(/[<>]/);
  });

  it('is a valid message', () => {
    expect(messageProblems(message)).toEqual([]);
  });
});

describe('resourcesMessage', () => {
  it('says so when nothing may be requested', () => {
    const m = resourcesMessage([]);
    expect(m.text).toContain('You may not request any resource');
    expect(messageProblems(m)).toEqual([]);
  });

  it('lists id, description, kind, ports or role, maximum duration and channel', () => {
    const t = text(resourcesMessage([sg('prod-db'), role]));
    for (const part of [
      '*prod-db* — Production Postgres',
      'security group',
      'tcp 5432, 8000-8080',
      'up to 1h (default 30m)',
      '<#C0123ABCD>',
      '*prod-readonly*',
      'AWS role `arn:aws:iam::123456789012:role/ProdReadOnly`',
      'up to 2h',
      '2 approvals in <#C0SECOND>',
    ]) {
      expect(t).toContain(part);
    }
  });

  it('stays within 50 blocks with 500 resources, saying how many were left out', () => {
    const many = Array.from({ length: 500 }, (_, i) => sg(`res-${i}`, { description: 'x'.repeat(300) }));
    const m = resourcesMessage(many);
    expect(messageProblems(m)).toEqual([]);
    expect(text(m)).toMatch(/and \d+ more/);
  });

  it('escapes policy descriptions', () => {
    const t = text(resourcesMessage([sg('prod-db', { description: '<!channel> db' })]));
    expect(t).toContain('&lt;!channel&gt; db');
  });
});

describe('listMessage', () => {
  const now = new Date(T0.getTime() + 10 * MIN);
  const empty = {
    userId: 'U_ME',
    now,
    mine: [],
    minePending: [],
    awaitingMe: [],
    everyone: [],
    unreviewed: [],
  };
  const entry = (
    id: string,
    requesterId = 'U_ME',
    breakGlass = false,
    shown = { address: true, reason: true },
  ) => {
    const request = buildRequest({ id: `req_${id}`, requesterId, breakGlass });
    const grant = buildGrant({
      id: `grt_${id}`,
      requestId: request.id,
      requesterId,
      state: 'active',
      startsAt: T0,
      expiresAt: new Date(T0.getTime() + 40 * MIN),
      breakGlass,
    });
    return { grant, request, shown };
  };

  it('says nothing is pending or active when every list is empty', () => {
    const m = listMessage(empty);
    expect(m.text).toBe('Nothing is pending or active.');
    expect(messageProblems(m)).toEqual([]);
  });

  it('shows every list with ids, resource, people, addresses and ISO-8601 UTC times', () => {
    const mine = entry('l1');
    const theirs = entry('l2', 'U_OTHER');
    const bg = entry('l3', 'U_OTHER', true);
    const pending = buildRequest({ id: 'req_p1', requesterId: 'U_ME' });
    const awaiting = {
      request: buildRequest({ id: 'req_a1', requesterId: 'U_OTHER' }),
      resource: sg('prod-db'),
      approvals: [],
    };
    const m = listMessage({
      ...empty,
      mine: [mine],
      minePending: [pending],
      awaitingMe: [awaiting],
      everyone: [mine, theirs],
      unreviewed: [bg],
      resources: [sg('prod-db')],
    });
    const t = text(m);
    for (const part of [
      '*Your access* (1)',
      '`grt_l1`',
      '*prod-db* from 203.0.113.7/32 (tcp 5432, 8000-8080)',
      mine.grant.expiresAt.toISOString(),
      '(30m left)',
      '*Your pending requests* (1)',
      '`req_p1`',
      pending.approvalDeadline.toISOString(),
      '(20m left)',
      '*Waiting for your approval* (1)',
      '<@U_OTHER> asks for *30m* of *prod-db*',
      '`req_a1`',
      '*Active across the workspace* (2)',
      '<@U_OTHER> · *prod-db*',
      '`grt_l2`',
      '*Break-glass grants to review* (1)',
      '`grt_l3`',
      'without approval',
      '/access extend &lt;grant-id&gt; &lt;duration&gt;',
    ]) {
      expect(t).toContain(part);
    }
    expect(m.blocks.some((b) => b.type === 'actions')).toBe(false);
    expect(messageProblems(m)).toEqual([]);
  });

  it('leaves out the address and reason of a grant the viewer is not involved in (the policy’s visibility)', () => {
    const hidden = { address: false, reason: false };
    const theirs = entry('v1', 'U_OTHER', false, hidden);
    const bg = { ...entry('v2', 'U_OTHER', true, hidden) };
    const t = text(
      listMessage({ ...empty, everyone: [theirs], unreviewed: [bg], resources: [sg('prod-db')] }),
    );
    expect(t).not.toContain('203.0.113.7');
    expect(t).not.toContain(bg.request.reason);
    expect(t).toContain('from an address shown to those involved (tcp 5432, 8000-8080)');
    expect(t).toContain('shown to the requester, the approvers and the admins');
    // Who has access to what, and until when, is for everyone.
    expect(t).toContain('<@U_OTHER> · *prod-db*');
    expect(t).toContain(theirs.grant.expiresAt.toISOString());
  });

  it('stays within 50 blocks with 500 items in every list, saying how many more', () => {
    const many = Array.from({ length: 500 }, (_, i) => entry(`many${i}`));
    const m = listMessage({
      ...empty,
      mine: many,
      minePending: many.map((e) => e.request),
      awaitingMe: many.map((e) => ({ request: e.request, resource: sg('prod-db'), approvals: [] })),
      everyone: many,
      unreviewed: many,
    });
    expect(messageProblems(m)).toEqual([]);
    expect(m.blocks.length).toBeLessThanOrEqual(50);
    expect(text(m).match(/and \d+ more/g)).toHaveLength(5);
  });
});
