import { stringify } from 'yaml';
import { checkPolicy } from '../../../src/config/policy';
import { backstopGraceOf, backstopProblems, findResource, type Policy } from '../../../src/domain/policy';
import { SG_RESOURCE } from '../../support/policy-documents';

const SG = SG_RESOURCE;
const OWN_ROLE = 'arn:aws:iam::123456789012:role/hallpass-backstop';
const OTHER_ACCOUNT_ROLE = 'arn:aws:iam::210987654321:role/hallpass-backstop';

function check(doc: Record<string, unknown>) {
  return checkPolicy(stringify(doc));
}

function policyOf(doc: Record<string, unknown>): Policy {
  const result = check(doc);
  if (!result.ok) throw new Error(result.section.problems.join('\n'));
  return result.value;
}

describe('the backstop in the policy', () => {
  it('takes the grace from the resource, else the policy, else 2 minutes', () => {
    const policy = policyOf({
      backstopGrace: '5m',
      resources: [SG, { ...SG, id: 'prod-web', backstopGrace: '90s' }],
    });
    expect(backstopGraceOf(policy, findResource(policy, 'prod-db'))).toBe(5 * 60_000);
    expect(backstopGraceOf(policy, findResource(policy, 'prod-web'))).toBe(90_000);
    expect(backstopGraceOf(policyOf({ resources: [SG] }), undefined)).toBe(2 * 60_000);
  });

  it.each([
    ['under a minute', '30s'],
    ['over a day', '25h'],
    ['not a duration', 'soon'],
  ])('refuses a grace %s, naming the field', (_name, grace) => {
    const result = check({ backstopGrace: grace, resources: [{ ...SG, backstopGrace: grace }] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.section.problems).toEqual([
      expect.stringMatching(/^backstopGrace: /),
      expect.stringMatching(/^resources\[0\]\.backstopGrace: /),
    ]);
  });

  it('refuses the backstop keys on a role resource', () => {
    const result = check({
      resources: [
        {
          id: 'ro',
          kind: 'aws-role',
          roleArn: 'arn:aws:iam::123456789012:role/ReadOnly',
          region: 'us-east-1',
          maxDuration: '1h',
          channel: 'C0123ABCD',
          approvers: ['@sre'],
          backstopGrace: '5m',
        },
      ],
    });
    expect(result.ok).toBe(false);
  });

  it('finds every group the backstop role cannot reach: a group in another account needs a role of that account', () => {
    const policy = policyOf({
      resources: [
        SG,
        { ...SG, id: 'other-no-role', assumeRoleArn: 'arn:aws:iam::210987654321:role/NetworkAdmin' },
        {
          ...SG,
          id: 'other-with-role',
          assumeRoleArn: 'arn:aws:iam::210987654321:role/NetworkAdmin',
          backstopRoleArn: OTHER_ACCOUNT_ROLE,
        },
        { ...SG, id: 'own-wrong-role', backstopRoleArn: OTHER_ACCOUNT_ROLE },
      ],
    });
    expect(backstopProblems(policy, OWN_ROLE)).toEqual([
      expect.stringMatching(
        /^resource other-no-role: its security group is in account 210987654321 .*backstopRoleArn/,
      ),
      expect.stringMatching(
        /^resource own-wrong-role: backstopRoleArn is a role of account 210987654321, but its security group is in account 123456789012/,
      ),
    ]);
  });
});

describe('cutting open connections in the policy', () => {
  it('reads cutConnections and the reserved rule numbers, hold and limits', () => {
    const policy = policyOf({
      naclRuleNumbers: '100-119',
      naclHold: '10m',
      naclEntryLimit: 40,
      warnEstablishedAbove: '1h',
      resources: [
        { ...SG, cutConnections: 'nacl' },
        { ...SG, id: 'other', cutConnections: 'none' },
      ],
    });
    expect(policy).toMatchObject({
      naclRuleNumbers: { from: 100, to: 119 },
      naclHold: 600_000,
      naclEntryLimit: 40,
      warnEstablishedAbove: 3_600_000,
    });
    expect(findResource(policy, 'prod-db')).toMatchObject({ cutConnections: 'nacl' });
    expect(findResource(policy, 'other')).not.toHaveProperty('cutConnections', 'nacl');
  });

  it('needs reserved rule numbers for a resource that cuts, and says which resource asked', () => {
    const result = check({ resources: [SG, { ...SG, id: 'cuts', cutConnections: 'nacl' }] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.section.problems).toEqual([
      expect.stringMatching(/^naclRuleNumbers: is required by resources\[1\]\.cutConnections: nacl/),
    ]);
  });

  it.each([['0-10'], ['200-100'], ['100-40000'], ['a lot']])('refuses the rule numbers %s', (range) => {
    const result = check({ naclRuleNumbers: range, resources: [{ ...SG, cutConnections: 'nacl' }] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.section.problems).toEqual([
      expect.stringMatching(
        /^naclRuleNumbers: .* is not a range of network ACL rule numbers low-high within 1-32766/,
      ),
    ]);
  });

  it('refuses an unknown way of cutting', () => {
    const result = check({ naclRuleNumbers: '100-119', resources: [{ ...SG, cutConnections: 'firewall' }] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.section.problems).toEqual(['resources[0].cutConnections: "firewall" must be nacl or none']);
  });
});
