import {
  DescribeSecurityGroupRulesCommand,
  EC2Client,
  EC2ServiceException,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { createEc2NetworkAccess } from '../../../src/adapters/aws/ec2-network-access';
import { InfraError } from '../../../src/app/infra-error';
import type { RuleTarget } from '../../../src/app/ports';

const GROUP = 'sg-0123456789abcdef0';
const target: RuleTarget = { region: 'us-east-1', groupId: GROUP };

const hallpassTags = [
  { Key: 'managed-by', Value: 'hallpass' },
  { Key: 'hallpass:deployment', Value: 'staging' },
  { Key: 'hallpass:grant-id', Value: 'grt_abc' },
  { Key: 'hallpass:requester', Value: 'U123' },
  { Key: 'hallpass:expires-at', Value: '2026-11-25T12:30:00.000Z' },
];

const sdkRule = (overrides: Partial<SecurityGroupRule>): SecurityGroupRule => ({
  SecurityGroupRuleId: 'sgr-00000000000000001',
  GroupId: GROUP,
  IsEgress: false,
  IpProtocol: 'tcp',
  FromPort: 5432,
  ToPort: 5432,
  CidrIpv4: '203.0.113.7/32',
  Tags: hallpassTags,
  ...overrides,
});

function awsError(code: string, httpStatusCode = 400): EC2ServiceException {
  const error = new EC2ServiceException({
    name: code,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message: `message for ${code}`,
  });
  return Object.assign(error, { Code: code });
}

async function rejection(promise: Promise<unknown>): Promise<InfraError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof InfraError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

const client = new EC2Client({ region: 'us-east-1' });
const ec2 = mockClient(client);
const clientFor = jest.fn((_target: RuleTarget) => client);
const network = createEc2NetworkAccess({ clientFor, deployment: 'default' });

beforeEach(() => {
  ec2.reset();
  clientFor.mockClear();
});

describe('listManaged', () => {
  it('asks EC2 only for the group’s rules tagged managed-by=hallpass', async () => {
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [] });
    await network.listManaged(target);
    expect(ec2.commandCalls(DescribeSecurityGroupRulesCommand).map((c) => c.args[0].input)).toEqual([
      {
        Filters: [
          { Name: 'group-id', Values: [GROUP] },
          { Name: 'tag:managed-by', Values: ['hallpass'] },
        ],
        MaxResults: 1000,
      },
    ]);
  });

  it('returns each rule, whichever deployment made it, with its ports, source and tags read back', async () => {
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [sdkRule({})] });
    expect(await network.listManaged(target)).toEqual([
      {
        ruleId: 'sgr-00000000000000001',
        protocol: 'tcp',
        fromPort: 5432,
        toPort: 5432,
        cidr: '203.0.113.7/32',
        tags: {
          deployment: 'staging',
          grantId: 'grt_abc',
          requesterId: 'U123',
          expiresAt: new Date('2026-11-25T12:30:00.000Z'),
        },
      },
    ]);
  });

  it('spells IPv6 ranges and protocol numbers the way a hold records them', async () => {
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({
      SecurityGroupRules: [sdkRule({ IpProtocol: '6', CidrIpv4: undefined, CidrIpv6: '2001:DB8:0:0::/64' })],
    });
    const [rule] = await network.listManaged(target);
    expect(rule).toMatchObject({ protocol: 'tcp', cidr: '2001:db8::/64' });
  });

  it('reports a rule edited by hand to all traffic from a non-address source as it is', async () => {
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({
      SecurityGroupRules: [
        sdkRule({
          IpProtocol: '-1',
          FromPort: undefined,
          ToPort: undefined,
          CidrIpv4: undefined,
          ReferencedGroupInfo: { GroupId: 'sg-0ffffffffffffffff' },
        }),
      ],
    });
    const [rule] = await network.listManaged(target);
    expect(rule).toMatchObject({ protocol: '-1', fromPort: -1, toPort: -1, cidr: undefined });
  });

  it('leaves a missing or unreadable tag undefined instead of guessing', async () => {
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({
      SecurityGroupRules: [
        sdkRule({
          Tags: [
            { Key: 'managed-by', Value: 'hallpass' },
            { Key: 'hallpass:expires-at', Value: 'not a date' },
          ],
        }),
      ],
    });
    const [rule] = await network.listManaged(target);
    expect(rule?.tags).toEqual({
      deployment: undefined,
      grantId: undefined,
      requesterId: undefined,
      expiresAt: undefined,
    });
  });

  it('never returns a rule without managed-by=hallpass, an egress rule or another group’s rule, even if EC2 does', async () => {
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({
      SecurityGroupRules: [
        sdkRule({ SecurityGroupRuleId: 'sgr-0000000000000000a', Tags: [] }),
        sdkRule({
          SecurityGroupRuleId: 'sgr-0000000000000000b',
          Tags: [{ Key: 'managed-by', Value: 'someone' }],
        }),
        sdkRule({ SecurityGroupRuleId: 'sgr-0000000000000000c', IsEgress: true }),
        sdkRule({ SecurityGroupRuleId: 'sgr-0000000000000000d', GroupId: 'sg-0ffffffffffffffff' }),
        sdkRule({ SecurityGroupRuleId: 'sgr-0000000000000000e' }),
      ],
    });
    expect((await network.listManaged(target)).map((r) => r.ruleId)).toEqual(['sgr-0000000000000000e']);
  });

  it('follows NextToken through every page', async () => {
    ec2
      .on(DescribeSecurityGroupRulesCommand)
      .resolvesOnce({
        SecurityGroupRules: [sdkRule({ SecurityGroupRuleId: 'sgr-00000000000000001' })],
        NextToken: 'p2',
      })
      .resolvesOnce({
        SecurityGroupRules: [sdkRule({ SecurityGroupRuleId: 'sgr-00000000000000002' })],
        NextToken: 'p3',
      })
      .resolvesOnce({ SecurityGroupRules: [sdkRule({ SecurityGroupRuleId: 'sgr-00000000000000003' })] });
    const rules = await network.listManaged(target);
    expect(rules.map((r) => r.ruleId)).toEqual([
      'sgr-00000000000000001',
      'sgr-00000000000000002',
      'sgr-00000000000000003',
    ]);
    expect(ec2.commandCalls(DescribeSecurityGroupRulesCommand).map((c) => c.args[0].input.NextToken)).toEqual(
      [undefined, 'p2', 'p3'],
    );
  });

  it('fails rather than return a partial list when EC2 repeats a NextToken', async () => {
    ec2
      .on(DescribeSecurityGroupRulesCommand)
      .resolves({ SecurityGroupRules: [sdkRule({})], NextToken: 'same' });
    const error = await rejection(network.listManaged(target));
    expect(error.providerCode).toBe('PaginationStuck');
    expect(ec2.commandCalls(DescribeSecurityGroupRulesCommand)).toHaveLength(2);
  });

  it.each([
    ['RequestLimitExceeded', 503, true],
    ['UnauthorizedOperation', 403, false],
  ])('turns %s (HTTP %s) into an InfraError, retryable: %s', async (code, status, retryable) => {
    ec2.on(DescribeSecurityGroupRulesCommand).rejects(awsError(code, status));
    const error = await rejection(network.listManaged(target));
    expect(error).toMatchObject({ providerCode: code, retryable });
  });

  it('uses the client of the target’s region and role', async () => {
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [] });
    const crossAccount = { ...target, assumeRoleArn: 'arn:aws:iam::210987654321:role/HallpassManager' };
    await network.listManaged(crossAccount);
    expect(clientFor).toHaveBeenCalledWith(crossAccount);
  });
});
