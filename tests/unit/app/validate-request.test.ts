import { type SubmitCommand, type SubmitError, validateRequest } from '../../../src/app/submit-request';
import type { AwsRoleResource, Resource, SecurityGroupResource } from '../../../src/domain/policy';

const MIN = 60_000;

/** `prod-db`: a security group anyone in @backend may open for 1–60 minutes, single hosts only. */
function sgResource(overrides: Partial<SecurityGroupResource> = {}): SecurityGroupResource {
  return {
    id: 'prod-db',
    kind: 'security-group',
    region: 'us-east-1',
    channel: 'C0123ABCD',
    requesters: ['@backend'],
    approvers: ['@sre'],
    approvals: 1,
    autoApprove: false,
    allowSelfApproval: false,
    minDuration: MIN,
    maxDuration: 60 * MIN,
    defaultDuration: undefined,
    approvalTimeout: 30 * MIN,
    breakGlass: false,
    breakGlassMaxDuration: 60 * MIN,
    securityGroupId: 'sg-0123456789abcdef0',
    protocol: 'tcp',
    ports: [{ from: 5432, to: 5432 }],
    maxPrefix: { 4: 32, 6: 128 },
    ...overrides,
  };
}

/** `prod-readonly`: an IAM role with the same people and bounds. */
function roleResource(overrides: Partial<AwsRoleResource> = {}): AwsRoleResource {
  const {
    securityGroupId: _sg,
    protocol: _p,
    ports: _ports,
    maxPrefix: _mp,
    kind: _k,
    ...base
  } = sgResource();
  return {
    ...base,
    id: 'prod-readonly',
    kind: 'aws-role',
    roleArn: 'arn:aws:iam::123456789012:role/ProdReadOnly',
    ...overrides,
  };
}

/** A request from U_REQ (in @backend) for 30 minutes from 203.0.113.7. */
function command(overrides: Partial<SubmitCommand> = {}): SubmitCommand {
  return {
    actor: { userId: 'U_REQ', groups: new Set(['backend']), standing: 'member' },
    resourceId: 'prod-db',
    durationMs: 30 * MIN,
    address: '203.0.113.7',
    reason: 'debugging slow queries',
    ...overrides,
  };
}

type Refusal = [name: string, resource: Resource, cmd: SubmitCommand, error: SubmitError['error']];

/** Titles end with the code, so a failing row names the refusal it expected. */
const titled = (rows: readonly Refusal[]): Refusal[] =>
  rows.map(([name, r, c, e]) => [`${name} with ${e}`, r, c, e]);

describe('validateRequest', () => {
  it.each(
    titled([
      [
        'security: refuses someone who is not a requester',
        sgResource(),
        command({ actor: { userId: 'U_OTHER', groups: new Set(['frontend']), standing: 'member' } }),
        'NOT_REQUESTER',
      ],
      [
        'security: refuses an approver who is not a requester',
        sgResource(),
        command({ actor: { userId: 'U_SRE', groups: new Set(['sre']), standing: 'member' } }),
        'NOT_REQUESTER',
      ],
      [
        'security: refuses a guest where anyone may ask (a guest is not anyone)',
        sgResource({ requesters: undefined }),
        command({ actor: { userId: 'U_GUEST', groups: new Set(), standing: 'guest' } }),
        'GUEST_NOT_ALLOWED',
      ],
      [
        'security: refuses a guest in the requesters’ group unless the resource admits guests',
        sgResource(),
        command({ actor: { userId: 'U_GUEST', groups: new Set(['backend']), standing: 'guest' } }),
        'GUEST_NOT_ALLOWED',
      ],
      [
        'security: refuses a user of another workspace where anyone may ask',
        sgResource({ requesters: undefined, allowGuests: true }),
        command({ actor: { userId: 'U_EXT', groups: new Set(), standing: 'external' } }),
        'EXTERNAL_NOT_ALLOWED',
      ],
      [
        'security: refuses someone Slack could not vouch for, whatever the resource admits',
        sgResource({ requesters: undefined, allowGuests: true, allowExternal: true }),
        command({ actor: { userId: 'U_WHO', groups: new Set(), standing: 'unknown' } }),
        'IDENTITY_UNVERIFIED',
      ],
      [
        'refuses a request without a duration when the resource has no default',
        sgResource({ defaultDuration: undefined }),
        command({ durationMs: undefined }),
        'DURATION_REQUIRED',
      ],
      [
        'refuses a duration under the minimum',
        sgResource(),
        command({ durationMs: 59_999 }),
        'DURATION_TOO_SHORT',
      ],
      [
        'security: refuses a duration over the maximum',
        sgResource(),
        command({ durationMs: 60 * MIN + 1 }),
        'DURATION_TOO_LONG',
      ],
      [
        'security: refuses a default duration over the maximum (a bad policy cannot widen access)',
        sgResource({ defaultDuration: 2 * 60 * MIN }),
        command({ durationMs: undefined }),
        'DURATION_TOO_LONG',
      ],
      [
        'refuses a security-group request without an address',
        sgResource(),
        command({ address: undefined }),
        'ADDRESS_REQUIRED',
      ],
      [
        'refuses an address for an aws-role resource',
        roleResource(),
        command({ resourceId: 'prod-readonly' }),
        'ADDRESS_NOT_APPLICABLE',
      ],
      [
        'refuses an address that is not one',
        sgResource(),
        command({ address: 'not-an-ip' }),
        'INVALID_ADDRESS',
      ],
      [
        'security: refuses a short-form IPv4 address',
        sgResource(),
        command({ address: '127.1' }),
        'INVALID_ADDRESS',
      ],
      [
        'refuses a CIDR with host bits set',
        sgResource({ maxPrefix: { 4: 24, 6: 128 } }),
        command({ address: '203.0.113.7/24' }),
        'ADDRESS_HOST_BITS_SET',
      ],
      ['security: refuses 0.0.0.0/0', sgResource(), command({ address: '0.0.0.0/0' }), 'ADDRESS_TOO_WIDE'],
      [
        'security: refuses 0.0.0.0/0 even when the policy allows any width',
        sgResource({ maxPrefix: { 4: 0, 6: 0 } }),
        command({ address: '0.0.0.0/0' }),
        'ADDRESS_TOO_WIDE',
      ],
      ['security: refuses ::/0', sgResource(), command({ address: '::/0' }), 'ADDRESS_TOO_WIDE'],
      [
        'security: refuses a /24 under the default single-host maxPrefix',
        sgResource(),
        command({ address: '203.0.113.0/24' }),
        'ADDRESS_TOO_WIDE',
      ],
      [
        'security: refuses an IPv6 /64 under the default single-host maxPrefix',
        sgResource(),
        command({ address: '2001:db8::/64' }),
        'ADDRESS_TOO_WIDE',
      ],
    ]),
  )('%s', (_name, resource, cmd, error) => {
    const result = validateRequest(resource, cmd);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toBe(error);
  });

  it('checks who asks before anything else', () => {
    const result = validateRequest(
      sgResource(),
      command({
        actor: { userId: 'U_OTHER', groups: new Set(), standing: 'member' },
        durationMs: 10 * 60 * MIN,
        address: '0.0.0.0/0',
      }),
    );
    expect(result).toMatchObject({ ok: false, error: 'NOT_REQUESTER' });
  });

  it.each<[string, Resource, SubmitCommand, { durationMs: number; source?: unknown }]>([
    [
      'accepts a single IPv4 host and returns it as a /32',
      sgResource(),
      command(),
      { durationMs: 30 * MIN, source: { family: 4, cidr: '203.0.113.7/32', prefix: 32 } },
    ],
    [
      'normalizes an IPv6 host',
      sgResource(),
      command({ address: ' 2001:DB8:0::1 ' }),
      { durationMs: 30 * MIN, source: { family: 6, cidr: '2001:db8::1/128', prefix: 128 } },
    ],
    [
      'accepts a /24 when maxPrefix is 24',
      sgResource({ maxPrefix: { 4: 24, 6: 128 } }),
      command({ address: '203.0.113.0/24' }),
      { durationMs: 30 * MIN, source: { family: 4, cidr: '203.0.113.0/24', prefix: 24 } },
    ],
    [
      'uses the resource default when no duration is given',
      sgResource({ defaultDuration: 15 * MIN }),
      command({ durationMs: undefined }),
      { durationMs: 15 * MIN, source: { family: 4, cidr: '203.0.113.7/32', prefix: 32 } },
    ],
    [
      'prefers the asked duration to the default',
      sgResource({ defaultDuration: 15 * MIN }),
      command({ durationMs: 45 * MIN }),
      { durationMs: 45 * MIN, source: { family: 4, cidr: '203.0.113.7/32', prefix: 32 } },
    ],
    [
      'accepts exactly the minimum',
      sgResource(),
      command({ durationMs: MIN }),
      { durationMs: MIN, source: { family: 4, cidr: '203.0.113.7/32', prefix: 32 } },
    ],
    [
      'accepts exactly the maximum',
      sgResource(),
      command({ durationMs: 60 * MIN }),
      { durationMs: 60 * MIN, source: { family: 4, cidr: '203.0.113.7/32', prefix: 32 } },
    ],
    [
      'lets anyone ask when the resource names no requesters',
      sgResource({ requesters: undefined }),
      command({ actor: { userId: 'U_ANY', groups: new Set(), standing: 'member' } }),
      { durationMs: 30 * MIN, source: { family: 4, cidr: '203.0.113.7/32', prefix: 32 } },
    ],
    [
      'lets a guest ask where the resource admits guests (allowGuests)',
      sgResource({ requesters: undefined, allowGuests: true }),
      command({ actor: { userId: 'U_GUEST', groups: new Set(), standing: 'guest' } }),
      { durationMs: 30 * MIN, source: { family: 4, cidr: '203.0.113.7/32', prefix: 32 } },
    ],
    [
      'lets a user of another workspace ask where the resource admits them (allowExternal)',
      sgResource({ allowExternal: true }),
      command({ actor: { userId: 'U_EXT', groups: new Set(['backend']), standing: 'external' } }),
      { durationMs: 30 * MIN, source: { family: 4, cidr: '203.0.113.7/32', prefix: 32 } },
    ],
  ])('%s', (_name, resource, cmd, expected) => {
    expect(validateRequest(resource, cmd)).toStrictEqual({ ok: true, value: expected });
  });

  it('accepts an aws-role request without an address and with no source', () => {
    const result = validateRequest(
      roleResource(),
      command({ resourceId: 'prod-readonly', address: undefined }),
    );
    expect(result).toStrictEqual({ ok: true, value: { durationMs: 30 * MIN } });
  });
});
