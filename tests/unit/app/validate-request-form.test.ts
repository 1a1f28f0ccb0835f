import {
  checkRequestForm,
  type FormRequest,
  type RequestForm,
  readDuration,
  readRequestForm,
} from '../../../src/app/validate-request-form';
import { MAX_REASON_LENGTH } from '../../../src/domain/command';
import type { Actor, Policy, Resource } from '../../../src/domain/policy';
import { buildRoleResource, buildSgResource } from '../../support/builders';

const MIN = 60_000;

const policy = (...resources: Resource[]): Policy => ({
  admins: [],
  approvalTimeout: 30 * MIN,
  warnBefore: 0,
  resources,
});
const POLICY = policy(
  buildSgResource({ requesters: ['@backend'], breakGlass: true, breakGlassMaxDuration: 30 * MIN }),
  buildRoleResource(),
);

/** A form for prod-db as a member would fill it in: 30 minutes from one address, with a reason. */
const form = (overrides: Partial<RequestForm> = {}): RequestForm => ({
  resourceId: 'prod-db',
  duration: '30m',
  address: '203.0.113.7',
  reason: 'debugging slow queries',
  breakGlass: false,
  ...overrides,
});

const MEMBER: Actor = { userId: 'U_REQ', groups: new Set(['backend']), standing: 'member' };

/** The form read without errors (fails the test otherwise). */
function readOk(f: RequestForm): { request: FormRequest; resource: Resource } {
  const read = readRequestForm(f, POLICY);
  if (!read.ok) throw new Error(`expected the form to read, got ${JSON.stringify(read.errors)}`);
  return read;
}

describe('readDuration', () => {
  it.each([
    ['90m', 90 * MIN],
    ['1h30m', 90 * MIN],
    ['2h', 120 * MIN],
  ])('reads %s', (text, ms) => {
    expect(readDuration(text)).toEqual({ ok: true, value: ms });
  });

  it.each(['soon', '', '30 minutes please'])('refuses %p as INVALID_DURATION, quoting the input', (text) => {
    expect(readDuration(text)).toEqual({ ok: false, error: 'INVALID_DURATION', detail: { input: text } });
  });

  it('refuses a zero duration as ZERO_DURATION', () => {
    expect(readDuration('0m')).toEqual({ ok: false, error: 'ZERO_DURATION', detail: { input: '0m' } });
  });
});

describe('readRequestForm (the checks that need no one’s identity)', () => {
  it('reads a good form into the request it asks for, trimming what was typed', () => {
    const read = readRequestForm(
      form({ duration: ' 45m ', address: ' 203.0.113.7 ', reason: '  why  ' }),
      POLICY,
    );
    expect(read).toEqual({
      ok: true,
      resource: POLICY.resources[0],
      request: {
        resourceId: 'prod-db',
        durationMs: 45 * MIN,
        address: '203.0.113.7',
        reason: 'why',
        breakGlass: false,
      },
    });
  });

  it('leaves the duration to the resource’s default and the address out when they are empty', () => {
    const { request } = readOk(form({ duration: '', address: '   ' }));
    expect(request.durationMs).toBeUndefined();
    expect(request.address).toBeUndefined();
  });

  it('says every field that is wrong at once, each with its own error', () => {
    const read = readRequestForm(form({ resourceId: 'nope', duration: 'soon', reason: ' ' }), POLICY);
    expect(read).toEqual({
      ok: false,
      errors: {
        duration: { ok: false, error: 'INVALID_DURATION', detail: { input: 'soon' } },
        reason: { ok: false, error: 'MISSING_REASON' },
        resource: { ok: false, error: 'UNKNOWN_RESOURCE', detail: { resourceId: 'nope' } },
      },
    });
  });

  it.each([
    ['a zero duration', { duration: '0h' }, 'duration', 'ZERO_DURATION'],
    ['a reason over the limit', { reason: 'x'.repeat(MAX_REASON_LENGTH + 1) }, 'reason', 'REASON_TOO_LONG'],
    ['a resource the policy does not name', { resourceId: 'prod-cache' }, 'resource', 'UNKNOWN_RESOURCE'],
  ] as const)('refuses %s beside its field', (_what, overrides, field, code) => {
    const read = readRequestForm(form(overrides), POLICY);
    expect(read.ok).toBe(false);
    if (!read.ok) expect(read.errors).toEqual({ [field]: expect.objectContaining({ error: code }) });
  });

  it('says nothing about the policy’s rules while the form itself is wrong (an over-long duration waits)', () => {
    const read = readRequestForm(form({ duration: '5h', reason: '' }), POLICY);
    expect(read.ok).toBe(false);
    if (!read.ok) expect(Object.keys(read.errors)).toEqual(['reason']);
  });
});

describe('checkRequestForm (the policy’s rules, for the person who sent the form)', () => {
  it('passes a member asking within the rules', () => {
    const { request, resource } = readOk(form());
    expect(checkRequestForm(resource, request, MEMBER)).toBeUndefined();
  });

  it.each([
    ['a duration over the maximum', form({ duration: '2h' }), MEMBER, 'duration', 'DURATION_TOO_LONG'],
    ['a duration under the minimum', form({ duration: '30s' }), MEMBER, 'duration', 'DURATION_TOO_SHORT'],
    ['no duration and no default', form({ duration: '' }), MEMBER, 'duration', 'DURATION_REQUIRED'],
    ['0.0.0.0/0', form({ address: '0.0.0.0/0' }), MEMBER, 'address', 'ADDRESS_TOO_WIDE'],
    ['an address that is not one', form({ address: 'db.internal' }), MEMBER, 'address', 'INVALID_ADDRESS'],
    ['no address for a security group', form({ address: '' }), MEMBER, 'address', 'ADDRESS_REQUIRED'],
    [
      'an address for a role',
      form({ resourceId: 'prod-readonly' }),
      MEMBER,
      'address',
      'ADDRESS_NOT_APPLICABLE',
    ],
    [
      'a short break-glass reason',
      form({ breakGlass: true, reason: 'urgent' }),
      MEMBER,
      'reason',
      'BREAK_GLASS_REASON_TOO_SHORT',
    ],
    [
      'break-glass where the resource has none',
      form({ resourceId: 'prod-readonly', address: '', breakGlass: true, reason: 'x'.repeat(30) }),
      MEMBER,
      'breakGlass',
      'BREAK_GLASS_NOT_ALLOWED',
    ],
    [
      'someone outside the requesters',
      form(),
      { ...MEMBER, groups: new Set(['frontend']) },
      'resource',
      'NOT_REQUESTER',
    ],
    ['a guest', form(), { ...MEMBER, standing: 'guest' }, 'resource', 'GUEST_NOT_ALLOWED'],
  ] as const)('refuses %s, beside the field it is about', (_what, f, actor, field, code) => {
    const { request, resource } = readOk(f);
    expect(checkRequestForm(resource, request, actor)).toEqual({
      [field]: expect.objectContaining({ ok: false, error: code }),
    });
  });
});
