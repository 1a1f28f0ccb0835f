import type { NewGrant, NewRequest } from '../../src/app/ports';
import type { Grant } from '../../src/domain/grant';
import type { AwsRoleResource, SecurityGroupResource } from '../../src/domain/policy';
import type { AccessRequest } from '../../src/domain/request';

/** A fixed instant with milliseconds, so round trips that drop them are caught. */
export const T0 = new Date('2030-01-02T03:04:05.678Z');

let seq = 0;
/** A fresh suffix per call, so builders can be called repeatedly without primary-key clashes. */
const next = (): number => {
  seq += 1;
  return seq;
};

const MINUTE = 60_000;

/** A new security-group request from U_REQ for `prod-db`, 30 minutes from 203.0.113.7, created at `T0`. */
export function buildNewRequest(overrides: Partial<NewRequest> = {}): NewRequest {
  const createdAt = overrides.createdAt ?? T0;
  return {
    id: `req_test${next()}`,
    resourceId: 'prod-db',
    requesterId: 'U_REQ',
    durationMs: 30 * MINUTE,
    source: { family: 4, cidr: '203.0.113.7/32', prefix: 32 },
    reason: 'debugging slow queries',
    createdAt,
    approvalDeadline: new Date(createdAt.getTime() + 30 * MINUTE),
    ...overrides,
  };
}

/** A pending request as the store returns it; override any field, `state` included. */
export function buildRequest(overrides: Partial<AccessRequest> = {}): AccessRequest {
  return { ...buildNewRequest(), state: 'pending', kind: 'access', breakGlass: false, ...overrides };
}

/** A new grant for `requestId` (pass the id of a stored request), starting at `T0` for 30 minutes. */
export function buildNewGrant(overrides: Partial<NewGrant> = {}): NewGrant {
  const startsAt = overrides.startsAt ?? T0;
  return {
    id: `grt_test${next()}`,
    requestId: `req_test${next()}`,
    resourceId: 'prod-db',
    requesterId: 'U_REQ',
    startsAt,
    expiresAt: new Date(startsAt.getTime() + 30 * MINUTE),
    ...overrides,
  };
}

/** A grant as the store returns it (`opening` unless overridden). */
export function buildGrant(overrides: Partial<Grant> = {}): Grant {
  return { ...buildNewGrant(), state: 'opening', breakGlass: false, closeAttempts: 0, ...overrides };
}

/** A security-group resource as the policy parser returns it: prod-db, tcp 5432, one approval, defaults elsewhere. */
export function buildSgResource(overrides: Partial<SecurityGroupResource> = {}): SecurityGroupResource {
  return {
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
    approvals: 1,
    autoApprove: false,
    allowSelfApproval: false,
    minDuration: MINUTE,
    maxDuration: 60 * MINUTE,
    approvalTimeout: 30 * MINUTE,
    breakGlass: false,
    breakGlassMaxDuration: 60 * MINUTE,
    ...overrides,
  };
}

/** An aws-role resource as the policy parser returns it: prod-readonly, one approval, up to 1h. */
export function buildRoleResource(overrides: Partial<AwsRoleResource> = {}): AwsRoleResource {
  return {
    id: 'prod-readonly',
    kind: 'aws-role',
    roleArn: 'arn:aws:iam::123456789012:role/ProdReadOnly',
    region: 'us-east-1',
    channel: 'C0123ABCD',
    approvers: ['@sre'],
    approvals: 1,
    autoApprove: false,
    allowSelfApproval: false,
    minDuration: MINUTE,
    maxDuration: 60 * MINUTE,
    approvalTimeout: 30 * MINUTE,
    breakGlass: false,
    breakGlassMaxDuration: 60 * MINUTE,
    ...overrides,
  };
}
