import {
  AuthorizeSecurityGroupIngressCommand,
  CreateTagsCommand,
  DescribeSecurityGroupRulesCommand,
  EC2Client,
  EC2ServiceException,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import {
  createEc2NetworkAccess,
  REVOKE_IDS_PER_CALL,
  ruleDescription,
  sanitizeDescription,
} from '../../../src/adapters/aws/ec2-network-access';
import { InfraError } from '../../../src/app/infra-error';
import type { RuleTags, RuleTarget } from '../../../src/app/ports';

const target: RuleTarget = { region: 'us-east-1', groupId: 'sg-0123456789abcdef0' };
const tags: RuleTags = {
  grantId: 'grt_abc',
  requesterId: 'U123',
  expiresAt: new Date('2026-11-25T12:30:00.000Z'),
};
const v4Rule = { protocol: 'tcp', fromPort: 5432, toPort: 5432, cidr: '203.0.113.7/32', family: 4 } as const;
const v6Rule = { protocol: 'tcp', fromPort: 5432, toPort: 5432, cidr: '2001:db8::/64', family: 6 } as const;

const expectedTags = [
  { Key: 'managed-by', Value: 'hallpass' },
  { Key: 'hallpass:deployment', Value: 'default' },
  { Key: 'hallpass:grant-id', Value: 'grt_abc' },
  { Key: 'hallpass:requester', Value: 'U123' },
  { Key: 'hallpass:expires-at', Value: '2026-11-25T12:30:00.000Z' },
];
const expectedDescription = 'hallpass grt_abc for U123 until 2026-11-25T12:30:00.000Z';

/** An error shaped like the ones the SDK throws for an EC2 error response. */
function awsError(code: string, httpStatusCode = 400): EC2ServiceException {
  const error = new EC2ServiceException({
    name: code,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message: `message for ${code}`,
  });
  return Object.assign(error, { Code: code });
}

const sdkRule = (overrides: Partial<SecurityGroupRule>): SecurityGroupRule => ({
  SecurityGroupRuleId: 'sgr-00000000000000000',
  GroupId: target.groupId,
  IsEgress: false,
  IpProtocol: 'tcp',
  FromPort: 5432,
  ToPort: 5432,
  CidrIpv4: '203.0.113.7/32',
  Tags: [],
  ...overrides,
});

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

describe('authorize', () => {
  it('opens an IPv4 rule with its tags and description in one call and returns its id', async () => {
    ec2.on(AuthorizeSecurityGroupIngressCommand).resolves({
      Return: true,
      SecurityGroupRules: [{ SecurityGroupRuleId: 'sgr-0aaa' }],
    });

    const result = await network.authorize(target, v4Rule, tags);

    expect(result).toEqual({ ruleId: 'sgr-0aaa', existed: false, managed: true });
    expect(clientFor).toHaveBeenCalledWith(target);
    const calls = ec2.commandCalls(AuthorizeSecurityGroupIngressCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      GroupId: 'sg-0123456789abcdef0',
      IpPermissions: [
        {
          IpProtocol: 'tcp',
          FromPort: 5432,
          ToPort: 5432,
          IpRanges: [{ CidrIp: '203.0.113.7/32', Description: expectedDescription }],
        },
      ],
      TagSpecifications: [{ ResourceType: 'security-group-rule', Tags: expectedTags }],
    });
  });

  it('opens an IPv6 rule through Ipv6Ranges only', async () => {
    ec2
      .on(AuthorizeSecurityGroupIngressCommand)
      .resolves({ SecurityGroupRules: [{ SecurityGroupRuleId: 'sgr-0bbb' }] });

    await expect(network.authorize(target, v6Rule, tags)).resolves.toEqual({
      ruleId: 'sgr-0bbb',
      existed: false,
      managed: true,
    });

    expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)[0]?.args[0].input.IpPermissions).toEqual([
      {
        IpProtocol: 'tcp',
        FromPort: 5432,
        ToPort: 5432,
        Ipv6Ranges: [{ CidrIpv6: '2001:db8::/64', Description: expectedDescription }],
      },
    ]);
  });

  it('sends a port range and protocol as given', async () => {
    ec2
      .on(AuthorizeSecurityGroupIngressCommand)
      .resolves({ SecurityGroupRules: [{ SecurityGroupRuleId: 'sgr-0ccc' }] });

    await network.authorize(target, { ...v4Rule, protocol: 'udp', fromPort: 8000, toPort: 8080 }, tags);

    const permission = ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)[0]?.args[0].input
      .IpPermissions?.[0];
    expect(permission).toMatchObject({ IpProtocol: 'udp', FromPort: 8000, ToPort: 8080 });
  });

  it('sanitizes a description EC2 would refuse, but keeps tag values exact', async () => {
    ec2
      .on(AuthorizeSecurityGroupIngressCommand)
      .resolves({ SecurityGroupRules: [{ SecurityGroupRuleId: 'sgr-0ddd' }] });
    const odd = { ...tags, grantId: 'grt_<é>"x', requesterId: 'U1\n2' };

    await network.authorize(target, v4Rule, odd);

    const input = ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)[0]?.args[0].input;
    expect(input?.IpPermissions?.[0]?.IpRanges?.[0]?.Description).toBe(
      'hallpass grt_____x for U1_2 until 2026-11-25T12:30:00.000Z',
    );
    expect(input?.TagSpecifications?.[0]?.Tags).toContainEqual({
      Key: 'hallpass:grant-id',
      Value: 'grt_<é>"x',
    });
  });

  it('fails with a retryable InfraError when EC2 returns no rule id', async () => {
    ec2.on(AuthorizeSecurityGroupIngressCommand).resolves({ Return: true, SecurityGroupRules: [] });

    const error = await rejection(network.authorize(target, v4Rule, tags));

    expect(error.providerCode).toBe('MissingSecurityGroupRuleId');
    expect(error.retryable).toBe(true);
  });

  describe('when EC2 already has the rule (InvalidPermission.Duplicate)', () => {
    beforeEach(() => {
      ec2.on(AuthorizeSecurityGroupIngressCommand).rejects(awsError('InvalidPermission.Duplicate'));
    });

    it('finds the existing managed rule across pages and reports it as existing', async () => {
      ec2
        .on(DescribeSecurityGroupRulesCommand)
        .resolvesOnce({
          SecurityGroupRules: [
            sdkRule({ SecurityGroupRuleId: 'sgr-egress', IsEgress: true }),
            sdkRule({ SecurityGroupRuleId: 'sgr-otherport', FromPort: 22, ToPort: 22 }),
            sdkRule({ SecurityGroupRuleId: 'sgr-othercidr', CidrIpv4: '203.0.113.8/32' }),
            sdkRule({ SecurityGroupRuleId: 'sgr-udp', IpProtocol: 'udp' }),
            sdkRule({ SecurityGroupRuleId: 'sgr-sgref', CidrIpv4: undefined }),
          ],
          NextToken: 'page-2',
        })
        .resolvesOnce({
          SecurityGroupRules: [
            sdkRule({
              SecurityGroupRuleId: 'sgr-match',
              Tags: [
                { Key: 'managed-by', Value: 'hallpass' },
                { Key: 'hallpass:deployment', Value: 'default' },
                { Key: 'hallpass:grant-id', Value: 'grt_old' },
              ],
            }),
          ],
        });

      const result = await network.authorize(target, v4Rule, tags);

      expect(result).toEqual({ ruleId: 'sgr-match', existed: true, managed: true });
      const describes = ec2.commandCalls(DescribeSecurityGroupRulesCommand).map((c) => c.args[0].input);
      expect(describes).toEqual([
        { Filters: [{ Name: 'group-id', Values: ['sg-0123456789abcdef0'] }] },
        { Filters: [{ Name: 'group-id', Values: ['sg-0123456789abcdef0'] }], NextToken: 'page-2' },
      ]);
    });

    it.each([
      [
        "another deployment's rule as not managed",
        [
          { Key: 'managed-by', Value: 'hallpass' },
          { Key: 'hallpass:deployment', Value: 'staging' },
          { Key: 'hallpass:grant-id', Value: 'grt_old' },
        ],
        { managed: false },
      ],
      [
        'a rule made before the deployment tag as legacy, with the grant its tag names',
        [
          { Key: 'managed-by', Value: 'hallpass' },
          { Key: 'hallpass:grant-id', Value: 'grt_old' },
        ],
        { managed: false, legacy: { grantId: 'grt_old' } },
      ],
    ])('reports %s', async (_what, Tags, expected) => {
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({
        SecurityGroupRules: [sdkRule({ SecurityGroupRuleId: 'sgr-found', Tags })],
      });

      await expect(network.authorize(target, v4Rule, tags)).resolves.toEqual({
        ruleId: 'sgr-found',
        existed: true,
        ...expected,
      });
    });

    it('reports a rule someone else created as not managed', async () => {
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({
        SecurityGroupRules: [
          sdkRule({ SecurityGroupRuleId: 'sgr-manual', Tags: [{ Key: 'Name', Value: 'vpn' }] }),
        ],
      });

      await expect(network.authorize(target, v4Rule, tags)).resolves.toEqual({
        ruleId: 'sgr-manual',
        existed: true,
        managed: false,
      });
    });

    it('matches IPv6 rules by address, whatever their spelling, and protocol numbers by name', async () => {
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({
        SecurityGroupRules: [
          sdkRule({ SecurityGroupRuleId: 'sgr-v4', CidrIpv4: '203.0.113.7/32' }),
          sdkRule({
            SecurityGroupRuleId: 'sgr-v6',
            IpProtocol: '6',
            CidrIpv4: undefined,
            CidrIpv6: '2001:DB8:0:0::/64',
          }),
        ],
      });

      await expect(network.authorize(target, v6Rule, tags)).resolves.toMatchObject({ ruleId: 'sgr-v6' });
    });

    it('fails with a retryable InfraError when no matching rule is listed', async () => {
      ec2
        .on(DescribeSecurityGroupRulesCommand)
        .resolves({ SecurityGroupRules: [sdkRule({ FromPort: 22, ToPort: 22 })] });

      const error = await rejection(network.authorize(target, v4Rule, tags));

      expect(error.providerCode).toBe('DuplicateRuleNotFound');
      expect(error.retryable).toBe(true);
    });

    it('turns a failing lookup into an InfraError naming the describe call', async () => {
      ec2.on(DescribeSecurityGroupRulesCommand).rejects(awsError('UnauthorizedOperation', 403));

      const error = await rejection(network.authorize(target, v4Rule, tags));

      expect(error.providerCode).toBe('UnauthorizedOperation');
      expect(error.retryable).toBe(false);
      expect(error.message).toContain('DescribeSecurityGroupRules');
    });
  });

  it.each([
    ['RequestLimitExceeded', 503, true, 'throttled'],
    ['Throttling', 400, true, 'throttled'],
    ['InternalError', 500, true, 'unavailable'],
    ['Unavailable', 503, true, 'unavailable'],
    ['UnauthorizedOperation', 403, false, 'denied'],
    ['AccessDenied', 403, false, 'denied'],
    ['InvalidGroup.NotFound', 400, false, 'not-found'],
    ['InvalidParameterValue', 400, false, 'invalid'],
  ])(
    'maps %s (HTTP %i) to an InfraError with retryable %s, kind %s',
    async (code, status, retryable, kind) => {
      ec2.on(AuthorizeSecurityGroupIngressCommand).rejects(awsError(code, status));

      const error = await rejection(network.authorize(target, v4Rule, tags));

      expect(error).toBeInstanceOf(InfraError);
      expect(error.providerCode).toBe(code);
      expect(error.kind).toBe(kind);
      expect(error.retryable).toBe(retryable);
      expect(error.message).toContain('AuthorizeSecurityGroupIngress');
    },
  );

  it('passes the cross-account refusal of the client factory through', async () => {
    const refusing = createEc2NetworkAccess({
      deployment: 'default',
      clientFor: () => {
        throw new InfraError('unknown', false, 'not supported yet', {
          providerCode: 'AssumeRoleNotSupported',
        });
      },
    });

    const error = await rejection(refusing.authorize(target, v4Rule, tags));

    expect(error.providerCode).toBe('AssumeRoleNotSupported');
  });
});

describe('revoke', () => {
  it('revokes the rule ids of one group in one call, each id once', async () => {
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

    await network.revoke(target, ['sgr-1', 'sgr-2', 'sgr-1']);

    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((c) => c.args[0].input)).toEqual([
      { GroupId: 'sg-0123456789abcdef0', SecurityGroupRuleIds: ['sgr-1', 'sgr-2'] },
    ]);
  });

  it(`names at most ${REVOKE_IDS_PER_CALL} rule ids per call`, async () => {
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });
    const ids = Array.from({ length: 2_500 }, (_, i) => `sgr-${i.toString(16)}`);

    await network.revoke(target, ids);

    const sent = ec2
      .commandCalls(RevokeSecurityGroupIngressCommand)
      .map((c) => c.args[0].input.SecurityGroupRuleIds ?? []);
    expect(sent.map((s) => s.length)).toEqual([1_000, 1_000, 500]);
    expect(sent.flat()).toEqual(ids);
  });

  it('revokes a thousand rule ids of one group in a single call', async () => {
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });
    const ids = Array.from({ length: 1_000 }, (_, i) => `sgr-${i.toString(16)}`);

    await network.revoke(target, ids);

    const sent = ec2.commandCalls(RevokeSecurityGroupIngressCommand);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.args[0].input.SecurityGroupRuleIds).toEqual(ids);
  });

  it('when one id of a call is already gone (the whole call refused), splits the call in halves to isolate it', async () => {
    const refusesGone = (input: { SecurityGroupRuleIds?: string[] }) =>
      (input.SecurityGroupRuleIds ?? []).includes('sgr-gone')
        ? Promise.reject(awsError('InvalidSecurityGroupRuleId.NotFound'))
        : Promise.resolve({ Return: true });
    ec2.on(RevokeSecurityGroupIngressCommand).callsFake(refusesGone);

    await expect(network.revoke(target, ['sgr-1', 'sgr-gone', 'sgr-3'])).resolves.toBeUndefined();

    expect(
      ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((c) => c.args[0].input.SecurityGroupRuleIds),
    ).toEqual([['sgr-1', 'sgr-gone', 'sgr-3'], ['sgr-1', 'sgr-gone'], ['sgr-1'], ['sgr-gone'], ['sgr-3']]);
  });

  it('isolates one bad id among a thousand in a few calls, and revokes every other id', async () => {
    const ids = Array.from({ length: 1_000 }, (_, i) => `sgr-${i.toString(16)}`);
    const bad = ids[617] ?? '';
    ec2
      .on(RevokeSecurityGroupIngressCommand)
      .callsFake((input: { SecurityGroupRuleIds?: string[] }) =>
        (input.SecurityGroupRuleIds ?? []).includes(bad)
          ? Promise.reject(awsError('InvalidSecurityGroupRuleId.Malformed'))
          : Promise.resolve({ Return: true }),
      );

    const error = await rejection(network.revoke(target, ids));

    const sent = ec2
      .commandCalls(RevokeSecurityGroupIngressCommand)
      .map((c) => c.args[0].input.SecurityGroupRuleIds ?? []);
    // One call, then two per halving (10 halvings reach one id among 1,000).
    expect(sent.length).toBeLessThanOrEqual(1 + 2 * 10);
    const accepted = sent.filter((ids) => !ids.includes(bad)).flat();
    expect(new Set(accepted)).toEqual(new Set(ids.filter((id) => id !== bad)));
    expect(error.providerCode).toBe('InvalidSecurityGroupRuleId.Malformed');
    expect(error.retryable).toBe(false);
    // The caller learns which rule stayed open: every other one is revoked.
    expect(error.ruleIds).toEqual([bad]);
  });

  it('fails a throttled call whole and retryably, without one call per id', async () => {
    ec2.on(RevokeSecurityGroupIngressCommand).rejects(awsError('RequestLimitExceeded', 503));

    const error = await rejection(network.revoke(target, ['sgr-1', 'sgr-2', 'sgr-3']));

    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(1);
    expect(error.providerCode).toBe('RequestLimitExceeded');
    expect(error.retryable).toBe(true);
    // Refused whole: no rule is known revoked.
    expect(error.ruleIds).toBeUndefined();
  });

  it('checks each rule of a call whose Return is an unexplained false', async () => {
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: false });
    ec2.on(DescribeSecurityGroupRulesCommand).rejects(awsError('InvalidSecurityGroupRuleId.NotFound'));

    await expect(network.revoke(target, ['sgr-1', 'sgr-2'])).resolves.toBeUndefined();
    expect(ec2.commandCalls(DescribeSecurityGroupRulesCommand).map((c) => c.args[0].input)).toEqual([
      { SecurityGroupRuleIds: ['sgr-1'] },
      { SecurityGroupRuleIds: ['sgr-2'] },
    ]);
  });

  it('makes no call for no rule ids', async () => {
    await network.revoke(target, []);

    expect(ec2.calls()).toHaveLength(0);
    expect(clientFor).not.toHaveBeenCalled();
  });

  it.each(['InvalidPermission.NotFound', 'InvalidSecurityGroupRuleId.NotFound'])(
    'treats %s as already revoked',
    async (code) => {
      ec2.on(RevokeSecurityGroupIngressCommand).rejects(awsError(code));

      await expect(network.revoke(target, ['sgr-gone'])).resolves.toBeUndefined();
    },
  );

  it('fails on InvalidGroup.NotFound: a revoke sent to the wrong account or region gets it while the rule stays open', async () => {
    ec2.on(RevokeSecurityGroupIngressCommand).rejects(awsError('InvalidGroup.NotFound'));

    await expect(network.revoke(target, ['sgr-elsewhere'])).rejects.toMatchObject({
      name: 'InfraError',
      providerCode: 'InvalidGroup.NotFound',
    });
  });

  it('treats a rule EC2 lists as unknown as already revoked', async () => {
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({
      Return: false,
      UnknownIpPermissions: [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432 }],
    });

    await expect(network.revoke(target, ['sgr-gone'])).resolves.toBeUndefined();
    expect(ec2.commandCalls(DescribeSecurityGroupRulesCommand)).toHaveLength(0);
  });

  it('checks an unexplained Return false and succeeds when the rule is gone', async () => {
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: false });
    ec2.on(DescribeSecurityGroupRulesCommand).rejects(awsError('InvalidSecurityGroupRuleId.NotFound'));

    await expect(network.revoke(target, ['sgr-1'])).resolves.toBeUndefined();
    expect(ec2.commandCalls(DescribeSecurityGroupRulesCommand)[0]?.args[0].input).toEqual({
      SecurityGroupRuleIds: ['sgr-1'],
    });
  });

  it('fails retryably when Return is false and the rule still exists', async () => {
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: false });
    ec2
      .on(DescribeSecurityGroupRulesCommand)
      .resolves({ SecurityGroupRules: [sdkRule({ SecurityGroupRuleId: 'sgr-1' })] });

    const error = await rejection(network.revoke(target, ['sgr-1']));

    expect(error.providerCode).toBe('RevokeNotConfirmed');
    expect(error.retryable).toBe(true);
  });

  it('when a call naming several ids is refused for good, still revokes the others (in halves), then reports the failure', async () => {
    ec2
      .on(RevokeSecurityGroupIngressCommand)
      .resolves({ Return: true })
      .on(RevokeSecurityGroupIngressCommand, { SecurityGroupRuleIds: ['sgr-1', 'sgr-2', 'sgr-3'] })
      .rejects(awsError('UnauthorizedOperation', 403))
      .on(RevokeSecurityGroupIngressCommand, { SecurityGroupRuleIds: ['sgr-1', 'sgr-2'] })
      .rejects(awsError('UnauthorizedOperation', 403))
      .on(RevokeSecurityGroupIngressCommand, { SecurityGroupRuleIds: ['sgr-2'] })
      .rejects(awsError('UnauthorizedOperation', 403));

    const error = await rejection(network.revoke(target, ['sgr-1', 'sgr-2', 'sgr-3']));

    // [1 2 3] refused → [1 2] refused → [1] revoked, [2] refused; [3] revoked.
    expect(
      ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((c) => c.args[0].input.SecurityGroupRuleIds),
    ).toEqual([['sgr-1', 'sgr-2', 'sgr-3'], ['sgr-1', 'sgr-2'], ['sgr-1'], ['sgr-2'], ['sgr-3']]);
    expect(error.providerCode).toBe('UnauthorizedOperation');
    expect(error.retryable).toBe(false);
  });

  it('is not retryable when any failed rule failed for good', async () => {
    ec2
      .on(RevokeSecurityGroupIngressCommand, { SecurityGroupRuleIds: ['sgr-1', 'sgr-2'] })
      .rejects(awsError('InvalidSecurityGroupRuleId.Malformed', 400))
      .on(RevokeSecurityGroupIngressCommand, { SecurityGroupRuleIds: ['sgr-1'] })
      .rejects(awsError('RequestLimitExceeded', 503))
      .on(RevokeSecurityGroupIngressCommand, { SecurityGroupRuleIds: ['sgr-2'] })
      .rejects(awsError('UnauthorizedOperation', 403));

    const error = await rejection(network.revoke(target, ['sgr-1', 'sgr-2']));

    expect(error.retryable).toBe(false);
    expect(error.message).toContain('2 rules');
  });

  it('maps an access failure to a non-retryable InfraError', async () => {
    ec2.on(RevokeSecurityGroupIngressCommand).rejects(awsError('UnauthorizedOperation', 403));

    const error = await rejection(network.revoke(target, ['sgr-1']));

    expect(error.providerCode).toBe('UnauthorizedOperation');
    expect(error.retryable).toBe(false);
  });
});

describe('retag', () => {
  it('overwrites the hallpass tags on the rule, and tags it with the deployment', async () => {
    ec2.on(CreateTagsCommand).resolves({});
    const later = { ...tags, grantId: 'grt_def', expiresAt: new Date('2026-11-25T13:00:00.000Z') };

    await network.retag(target, 'sgr-0aaa', later);

    expect(ec2.commandCalls(CreateTagsCommand)[0]?.args[0].input).toEqual({
      Resources: ['sgr-0aaa'],
      Tags: [
        { Key: 'managed-by', Value: 'hallpass' },
        { Key: 'hallpass:deployment', Value: 'default' },
        { Key: 'hallpass:grant-id', Value: 'grt_def' },
        { Key: 'hallpass:requester', Value: 'U123' },
        { Key: 'hallpass:expires-at', Value: '2026-11-25T13:00:00.000Z' },
      ],
    });
  });

  it('maps throttling to a retryable InfraError', async () => {
    ec2.on(CreateTagsCommand).rejects(awsError('RequestLimitExceeded', 503));

    const error = await rejection(network.retag(target, 'sgr-0aaa', tags));

    expect(error.providerCode).toBe('RequestLimitExceeded');
    expect(error.retryable).toBe(true);
  });
});

describe('rule description', () => {
  it('names the grant, the requester and the end time', () => {
    expect(ruleDescription(tags)).toBe(expectedDescription);
  });

  it('keeps only characters EC2 allows and at most 255 of them', () => {
    const text = `${'a'.repeat(250)} ünï<code>|~%^\`"'\\?`;

    const clean = sanitizeDescription(text);

    expect(clean).toHaveLength(255);
    expect(clean).toMatch(/^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/);
    expect(sanitizeDescription('a-z A-Z 0-9 ._-:/()#,@[]+=&;{}!$*')).toBe(
      'a-z A-Z 0-9 ._-:/()#,@[]+=&;{}!$*',
    );
  });
});
