import type { types } from '@slack/bolt';
import { denyModal } from '../../../src/adapters/slack/views/deny-modal';
import { extendModal } from '../../../src/adapters/slack/views/extend-modal';
import {
  loadingModal,
  noResourcesModal,
  requestModal,
} from '../../../src/adapters/slack/views/request-modal';
import type { AwsRoleResource, SecurityGroupResource } from '../../../src/domain/policy';
import { viewProblems } from '../../support/block-kit';
import { buildGrant, buildRoleResource, buildSgResource, T0 } from '../../support/builders';

const MIN = 60_000;

const sg = (id: string, over: Partial<SecurityGroupResource> = {}): SecurityGroupResource =>
  buildSgResource({
    id,
    defaultDuration: 30 * MIN,
    ...over,
  });

const role: AwsRoleResource = buildRoleResource();

const inputs = (view: types.ModalView): types.InputBlock[] =>
  (view.blocks as types.KnownBlock[]).filter((b): b is types.InputBlock => b.type === 'input');
const input = (view: types.ModalView, blockId: string): types.InputBlock | undefined =>
  inputs(view).find((b) => b.block_id === blockId);
const select = (view: types.ModalView): types.StaticSelect => {
  const el = input(view, 'request_resource')?.element;
  if (el?.type !== 'static_select') throw new Error('no resource picker');
  return el;
};

describe('requestModal', () => {
  const view = requestModal([sg('prod-db'), role], 'C0CHANNEL');

  it('is the request_modal with resource, duration, address and reason inputs', () => {
    expect(view.callback_id).toBe('request_modal');
    expect(view.private_metadata).toBe('C0CHANNEL');
    expect(inputs(view).map((b) => [b.block_id, b.element.action_id])).toEqual([
      ['request_resource', 'request_resource_select'],
      ['request_duration', 'request_duration_input'],
      ['request_address', 'request_address_input'],
      ['request_reason', 'request_reason_input'],
    ]);
    expect(viewProblems(view)).toEqual([]);
  });

  it('offers exactly the given resources, valued by id', () => {
    expect(select(view).options?.map((o) => o.value)).toEqual(['prod-db', 'prod-readonly']);
    expect(select(view).options?.[0]?.text.text).toBe('prod-db — Production Postgres');
  });

  it('keeps the address optional with a hint that security groups need it', () => {
    const address = input(view, 'request_address');
    expect(address?.optional).toBe(true);
    expect(address?.hint?.text).toMatch(/required for security groups/i);
  });

  it('shows a duration placeholder and requires a multiline reason', () => {
    const duration = input(view, 'request_duration')?.element;
    expect(duration?.type === 'plain_text_input' && duration.placeholder?.text).toBe('e.g. 30m');
    const reason = input(view, 'request_reason');
    expect(reason?.optional).toBeUndefined();
    expect(reason?.element.type === 'plain_text_input' && reason.element.multiline).toBe(true);
  });

  it('requires a duration when no resource has a default', () => {
    const v = requestModal([sg('prod-db', { defaultDuration: undefined })]);
    expect(input(v, 'request_duration')?.optional).toBe(false);
    expect(v.private_metadata).toBe('');
  });

  it('asks no address when only roles are offered', () => {
    expect(input(requestModal([role]), 'request_address')).toBeUndefined();
  });

  it('preselects the only resource there is', () => {
    expect(select(requestModal([role])).initial_option?.value).toBe('prod-readonly');
  });

  it('keeps within Slack limits with 150 resources and long descriptions', () => {
    const many = Array.from({ length: 150 }, (_, i) => sg(`resource-${i}`, { description: 'd'.repeat(500) }));
    const v = requestModal(many);
    expect(viewProblems(v)).toEqual([]);
    expect(select(v).options).toHaveLength(100);
    for (const o of select(v).options ?? []) expect(o.text.text.length).toBeLessThanOrEqual(75);
  });

  it('falls back to the no-resources modal when given none', () => {
    expect(requestModal([])).toEqual(noResourcesModal());
  });
});

describe('loadingModal and noResourcesModal', () => {
  it('are valid modals without inputs or submit', () => {
    for (const v of [loadingModal(), noResourcesModal()]) {
      expect(viewProblems(v)).toEqual([]);
      expect(v.submit).toBeUndefined();
      expect(inputs(v)).toEqual([]);
    }
  });

  it('tells the user they may not request anything', () => {
    const s = (noResourcesModal().blocks as types.KnownBlock[])[0];
    expect(s?.type === 'section' && s.text?.text).toMatch(/may not request any resource/);
  });
});

describe('denyModal', () => {
  const view = denyModal('req_abc123');

  it('carries the request id in private_metadata under the deny_modal callback', () => {
    expect(view.callback_id).toBe('deny_modal');
    expect(view.private_metadata).toBe('req_abc123');
    expect(view.submit?.text).toBe('Deny');
  });

  it('asks an optional reason', () => {
    const reason = input(view, 'deny_reason');
    expect(reason?.optional).toBe(true);
    expect(reason?.element.action_id).toBe('deny_reason_input');
    expect(viewProblems(view)).toEqual([]);
  });
});

describe('requestModal break-glass checkbox', () => {
  const checkbox = (view: types.ModalView): types.Checkboxes | undefined => {
    const el = input(view, 'request_break_glass')?.element;
    return el?.type === 'checkboxes' ? el : undefined;
  };

  it('is absent when no offered resource allows break-glass', () => {
    expect(input(requestModal([sg('prod-db'), role]), 'request_break_glass')).toBeUndefined();
  });

  it('is one optional option valued break-glass, with a hint on what it costs', () => {
    const view = requestModal([sg('prod-db', { breakGlass: true, breakGlassMaxDuration: 30 * MIN }), role]);
    const block = input(view, 'request_break_glass');
    expect(block?.optional).toBe(true);
    expect(block?.element.action_id).toBe('request_break_glass_input');
    expect(checkbox(view)?.options).toEqual([
      {
        text: { type: 'plain_text', text: 'Break glass: open now without approval', emoji: true },
        value: 'break-glass',
      },
    ]);
    const hint = block?.hint?.text ?? '';
    expect(hint).toContain('at least 20 characters');
    expect(hint).toContain('up to 30m');
    expect(hint).toMatch(/approvers are alerted/);
    expect(hint).toMatch(/review/);
    expect(hint).toContain('Only for prod-db');
    expect(viewProblems(view)).toEqual([]);
  });
});

describe('extendModal', () => {
  const now = new Date(T0.getTime() + 20 * MIN);
  const grant = buildGrant({
    id: 'grt_ext',
    state: 'active',
    startsAt: T0,
    expiresAt: new Date(T0.getTime() + 30 * MIN),
  });
  const texts = (view: types.ModalView): string =>
    (view.blocks as types.KnownBlock[])
      .map((b) => (b.type === 'section' ? (b.text?.text ?? '') : ''))
      .join('\n');

  it('asks how much more under extend_modal, naming the grant, its end and the most still possible', () => {
    const view = extendModal({ grant, resource: sg('prod-db'), now });
    expect(view.callback_id).toBe('extend_modal');
    expect(view.private_metadata).toBe('grt_ext');
    expect(view.title.text).toBe('Extend access');
    expect(view.submit?.text).toBe('Ask');
    expect(inputs(view).map((b) => [b.block_id, b.element.action_id])).toEqual([
      ['extend_duration', 'extend_duration_input'],
    ]);
    const el = input(view, 'extend_duration')?.element;
    expect(el?.type === 'plain_text_input' && el.placeholder?.text).toBe('e.g. 30m');
    const t = texts(view);
    expect(t).toContain('`grt_ext`');
    expect(t).toContain(grant.expiresAt.toISOString());
    expect(t).toContain('(10m left)');
    expect(t).toContain('at most 1h in all');
    expect(t).toContain('at most *30m* more');
    expect(viewProblems(view)).toEqual([]);
  });

  it('suggests no more than what is possible', () => {
    const view = extendModal({ grant, resource: sg('prod-db', { maxDuration: 40 * MIN }), now });
    const el = input(view, 'extend_duration')?.element;
    expect(el?.type === 'plain_text_input' && el.placeholder?.text).toBe('e.g. 10m');
    expect(texts(view)).toContain('at most *10m* more');
  });

  it.each([
    [
      'the maximum is reached',
      { grant, resource: sg('prod-db', { maxDuration: 30 * MIN }), now },
      'has reached it',
    ],
    ['the grant is an AWS role session', { grant, resource: role, now }, 'cannot be lengthened'],
    [
      'the grant has ended',
      { grant: { ...grant, state: 'closed' as const }, resource: sg('prod-db'), now },
      'no longer active',
    ],
  ])('says so, without an input or submit, when %s', (_name, args, phrase) => {
    const view = extendModal(args);
    expect(view.submit).toBeUndefined();
    expect(inputs(view)).toEqual([]);
    expect(texts(view)).toContain(phrase);
    expect(viewProblems(view)).toEqual([]);
  });
});
