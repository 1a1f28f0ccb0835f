import { policyChanges } from '../../../src/app/policy-changes';
import type { RuleHold } from '../../../src/app/ports';
import { buildRoleResource, buildSgResource } from '../../support/builders';

const ROLE = 'arn:aws:iam::210987654321:role/NetworkAdmin';
const hold = (overrides: Partial<RuleHold> = {}): RuleHold => ({
  grantId: 'grt_1',
  ruleId: 'sgr-1',
  managed: true,
  region: 'us-east-1',
  groupId: 'sg-0123456789abcdef0',
  protocol: 'tcp',
  fromPort: 5432,
  toPort: 5432,
  cidr: '203.0.113.7/32',
  ...overrides,
});

describe('policyChanges: what the policy says now against what a live grant holds', () => {
  it('finds nothing when the policy still describes the grant', () => {
    expect(policyChanges(buildSgResource(), [hold()], undefined)).toEqual([]);
    expect(
      policyChanges(buildSgResource({ assumeRoleArn: ROLE }), [hold({ assumeRoleArn: ROLE })], undefined),
    ).toEqual([]);
    expect(policyChanges(buildRoleResource({ roleArn: ROLE }), [], ROLE)).toEqual([]);
  });

  it.each([
    ['the resource is gone', undefined, [hold()], undefined, 'no longer in the policy'],
    [
      'the role to reach the group changed',
      buildSgResource({ assumeRoleArn: ROLE }),
      [hold()],
      undefined,
      'the role used to reach it is now',
    ],
    [
      'the group changed',
      buildSgResource({ securityGroupId: 'sg-0fedcba9876543210' }),
      [hold()],
      undefined,
      'its security group is now sg-0fedcba9876543210',
    ],
    [
      'the region changed',
      buildSgResource({ region: 'eu-west-1' }),
      [hold()],
      undefined,
      'its region is now eu-west-1',
    ],
    [
      'the ports changed',
      buildSgResource({ ports: [{ from: 6432, to: 6432 }] }),
      [hold()],
      undefined,
      'its ports are now tcp 6432',
    ],
    [
      'the session role changed',
      buildRoleResource({ roleArn: ROLE }),
      [],
      'arn:aws:iam::123456789012:role/Old',
      'its role is now',
    ],
  ] as const)('says so when %s', (_name, resource, holds, sessionRole, phrase) => {
    const changes = policyChanges(resource, holds, sessionRole);
    expect(changes.join('; ')).toContain(phrase);
  });

  it('says each change once however many rules the grant holds', () => {
    const moved = buildSgResource({ region: 'eu-west-1' });
    expect(policyChanges(moved, [hold(), hold({ ruleId: 'sgr-2' })], undefined)).toHaveLength(1);
  });
});
