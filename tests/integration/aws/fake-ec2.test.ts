import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupRulesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { createEc2ClientFactory } from '../../../src/adapters/aws/ec2-clients';
import { createEc2NetworkAccess } from '../../../src/adapters/aws/ec2-network-access';
import { InfraError } from '../../../src/app/infra-error';
import type { NetworkAccess, RuleTags, RuleTarget } from '../../../src/app/ports';
import { type FakeEc2, startFakeEc2 } from '../../support/fake-ec2';

const GROUP = 'sg-0123456789abcdef0';
const target: RuleTarget = { region: 'us-east-1', groupId: GROUP };
const tags: RuleTags = {
  grantId: 'grt_abc',
  requesterId: 'U123',
  expiresAt: new Date('2026-11-25T12:30:00.000Z'),
};
const v4Rule = { protocol: 'tcp', fromPort: 5432, toPort: 5432, cidr: '203.0.113.7/32', family: 4 } as const;
const v6Rule = { protocol: 'tcp', fromPort: 5432, toPort: 5432, cidr: '2001:db8::/64', family: 6 } as const;

const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' };

async function rejection(promise: Promise<unknown>): Promise<InfraError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof InfraError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

let fake: FakeEc2;
let client: EC2Client;
let network: NetworkAccess;

beforeEach(async () => {
  fake = await startFakeEc2({ groups: [GROUP] });
  // One attempt: faults injected into the fake reach the adapter instead of being retried by the SDK.
  client = new EC2Client({ region: 'us-east-1', endpoint: fake.url, credentials, maxAttempts: 1 });
  network = createEc2NetworkAccess({ clientFor: () => client, deployment: 'default' });
});

afterEach(async () => {
  client.destroy();
  await fake.close();
});

describe('the EC2 adapter against the fake EC2', () => {
  it('opens an IPv4 rule carrying the hallpass tags and description', async () => {
    const result = await network.authorize(target, v4Rule, tags);

    expect(result.existed).toBe(false);
    expect(result.managed).toBe(true);
    expect(fake.rules(GROUP)).toEqual([
      {
        id: result.ruleId,
        groupId: GROUP,
        protocol: 'tcp',
        fromPort: 5432,
        toPort: 5432,
        cidr: '203.0.113.7/32',
        family: 4,
        tags: {
          'managed-by': 'hallpass',
          'hallpass:deployment': 'default',
          'hallpass:grant-id': 'grt_abc',
          'hallpass:requester': 'U123',
          'hallpass:expires-at': '2026-11-25T12:30:00.000Z',
        },
        description: 'hallpass grt_abc for U123 until 2026-11-25T12:30:00.000Z',
      },
    ]);
    expect(result.ruleId).toMatch(/^sgr-[0-9a-f]{17}$/);
  });

  it('sends the EC2 Query wire format the fake reads', async () => {
    await network.authorize(target, v4Rule, tags);

    expect(fake.calls[0]?.params).toMatchObject({
      Action: 'AuthorizeSecurityGroupIngress',
      Version: '2016-11-15',
      GroupId: GROUP,
      'IpPermissions.1.IpRanges.1.CidrIp': '203.0.113.7/32',
      'TagSpecification.1.ResourceType': 'security-group-rule',
      'TagSpecification.1.Tag.1.Key': 'managed-by',
      'TagSpecification.1.Tag.1.Value': 'hallpass',
    });
  });

  it('opens an IPv6 rule next to an IPv4 rule for the same port', async () => {
    const v4 = await network.authorize(target, v4Rule, tags);
    const v6 = await network.authorize(target, v6Rule, tags);

    expect(v6.ruleId).not.toBe(v4.ruleId);
    expect(fake.rules(GROUP).map((r) => [r.family, r.cidr])).toEqual([
      [4, '203.0.113.7/32'],
      [6, '2001:db8::/64'],
    ]);
  });

  it('returns the same rule with existed true when it is opened twice', async () => {
    const first = await network.authorize(target, v4Rule, tags);

    const second = await network.authorize(target, v4Rule, { ...tags, grantId: 'grt_def' });

    expect(second).toEqual({ ruleId: first.ruleId, existed: true, managed: true });
    expect(fake.rules(GROUP)).toHaveLength(1);
  });

  it('finds a rule written in another IPv6 spelling as the same rule', async () => {
    const seeded = fake.addRule({ groupId: GROUP, fromPort: 5432, cidr: '2001:DB8:0:0::/64' });

    const result = await network.authorize(target, v6Rule, tags);

    expect(result).toEqual({ ruleId: seeded.id, existed: true, managed: false });
  });

  it('reports a rule someone opened by hand as existing but not managed', async () => {
    const manual = fake.addRule({
      groupId: GROUP,
      fromPort: 5432,
      cidr: '203.0.113.7/32',
      description: 'vpn',
    });

    const result = await network.authorize(target, v4Rule, tags);

    expect(result).toEqual({ ruleId: manual.id, existed: true, managed: false });
  });

  it('revokes a rule, and revoking it again is fine', async () => {
    const { ruleId } = await network.authorize(target, v4Rule, tags);

    await network.revoke(target, [ruleId]);
    await network.revoke(target, [ruleId]);

    expect(fake.rules(GROUP)).toEqual([]);
    expect(fake.calls.filter((c) => c.action === 'RevokeSecurityGroupIngress')).toHaveLength(2);
  });

  it('revokes the rules it knows even when another id is unknown', async () => {
    const a = await network.authorize(target, v4Rule, tags);
    const b = await network.authorize(target, v6Rule, tags);

    await network.revoke(target, [a.ruleId, 'sgr-00000000000000000', b.ruleId]);

    expect(fake.rules(GROUP)).toEqual([]);
  });

  it('revokes a thousand rules of one group in one call', async () => {
    const ids = Array.from(
      { length: 1_000 },
      (_, i) => fake.addRule({ groupId: GROUP, fromPort: 5432, cidr: `10.0.${i >> 8}.${i & 255}/32` }).id,
    );

    await network.revoke(target, ids);

    expect(fake.rules(GROUP)).toEqual([]);
    expect(fake.calls.filter((c) => c.action === 'RevokeSecurityGroupIngress')).toHaveLength(1);
  });

  it('isolates a rule gone meanwhile by halving the call, and revokes every other rule', async () => {
    const ids = Array.from(
      { length: 64 },
      (_, i) => fake.addRule({ groupId: GROUP, fromPort: 5432, cidr: `10.1.0.${i}/32` }).id,
    );
    // Revoked behind the adapter's back: EC2 now refuses any call naming it, and revokes nothing.
    await network.revoke(target, [ids[37] ?? '']);
    fake.calls.length = 0;

    await network.revoke(target, ids);

    expect(fake.rules(GROUP)).toEqual([]);
    // One refused call, then two per halving: six halvings reach one id among 64.
    expect(fake.calls.filter((c) => c.action === 'RevokeSecurityGroupIngress')).toHaveLength(1 + 2 * 6);
  });

  it('finds by the tag filter only the rules of one deployment, as EC2 does', async () => {
    const own = await network.authorize(target, v4Rule, tags);
    const staging = createEc2NetworkAccess({ clientFor: () => client, deployment: 'staging' });
    const theirs = await staging.authorize(target, { ...v4Rule, cidr: '203.0.113.8/32' }, tags);
    // Another deployment's identical rule is a duplicate EC2 refuses: found, but not adopted.
    expect(await staging.authorize(target, v4Rule, tags)).toEqual({
      ruleId: own.ruleId,
      existed: true,
      managed: false,
    });
    const tagged = await client.send(
      new DescribeSecurityGroupRulesCommand({
        Filters: [
          { Name: 'group-id', Values: [GROUP] },
          { Name: 'tag:hallpass:deployment', Values: ['staging'] },
        ],
      }),
    );
    expect(tagged.SecurityGroupRules?.map((r) => r.SecurityGroupRuleId)).toEqual([theirs.ruleId]);
    expect((await network.listManaged(target)).map((r) => [r.ruleId, r.tags.deployment])).toEqual([
      [own.ruleId, 'default'],
      [theirs.ruleId, 'staging'],
    ]);
  });

  it('rewrites the tags of a rule on retag', async () => {
    const { ruleId } = await network.authorize(target, v4Rule, tags);

    await network.retag(target, ruleId, {
      grantId: 'grt_def',
      requesterId: 'U456',
      expiresAt: new Date('2026-11-25T13:00:00.000Z'),
    });

    expect(fake.rules(GROUP)[0]?.tags).toEqual({
      'managed-by': 'hallpass',
      'hallpass:deployment': 'default',
      'hallpass:grant-id': 'grt_def',
      'hallpass:requester': 'U456',
      'hallpass:expires-at': '2026-11-25T13:00:00.000Z',
    });
  });

  it('fails for good on a group that does not exist', async () => {
    const error = await rejection(
      network.authorize({ ...target, groupId: 'sg-0000000000000dead' }, v4Rule, tags),
    );

    expect(error.providerCode).toBe('InvalidGroup.NotFound');
    expect(error.retryable).toBe(false);
  });

  it('surfaces throttling as a retryable InfraError', async () => {
    fake.failNext('AuthorizeSecurityGroupIngress', 'RequestLimitExceeded', 503);

    const error = await rejection(network.authorize(target, v4Rule, tags));

    expect(error.providerCode).toBe('RequestLimitExceeded');
    expect(error.retryable).toBe(true);
    expect(fake.rules(GROUP)).toEqual([]);
  });

  it('recovers the rule id on retry when the answer to an applied authorize was lost', async () => {
    fake.failNext('AuthorizeSecurityGroupIngress', 'InternalError', 500, 1, { afterApply: true });

    const error = await rejection(network.authorize(target, v4Rule, tags));
    const retried = await network.authorize(target, v4Rule, tags);

    expect(error.retryable).toBe(true);
    expect(retried).toEqual({ ruleId: fake.rules(GROUP)[0]?.id, existed: true, managed: true });
  });

  it('lets the SDK retry a throttled call by itself when it has attempts left', async () => {
    const patient = new EC2Client({ region: 'us-east-1', endpoint: fake.url, credentials, maxAttempts: 3 });
    fake.failNext('AuthorizeSecurityGroupIngress', 'RequestLimitExceeded', 503);
    try {
      const result = await createEc2NetworkAccess({
        clientFor: () => patient,
        deployment: 'default',
      }).authorize(target, v4Rule, tags);

      expect(fake.rules(GROUP).map((r) => r.id)).toEqual([result.ruleId]);
      expect(fake.calls.filter((c) => c.action === 'AuthorizeSecurityGroupIngress')).toHaveLength(2);
    } finally {
      patient.destroy();
    }
  });
});

describe('the fake EC2 itself', () => {
  it('answers a call beyond its rate limit with RequestLimitExceeded (HTTP 503) and does nothing', async () => {
    // A bucket of two that refills at a call per thousand seconds: the third call is refused.
    fake.setRateLimit({ perSecond: 0.001, burst: 2 });
    await network.authorize(target, v4Rule, tags);
    await network.authorize(target, v6Rule, tags);

    const error = await rejection(network.authorize(target, { ...v4Rule, cidr: '198.51.100.9/32' }, tags));

    expect(error.providerCode).toBe('RequestLimitExceeded');
    expect(error.message).toContain('HTTP 503');
    expect(error.kind).toBe('throttled');
    expect(error.retryable).toBe(true);
    expect(fake.rules(GROUP)).toHaveLength(2);
    expect(fake.throttledCount()).toBe(1);
    expect(fake.refusedCalls().map((c) => c.action)).toEqual(['AuthorizeSecurityGroupIngress']);
    expect(fake.calls.map((c) => c.throttled === true)).toEqual([false, false, true]);
  });

  it('leaves calls to other tools in the account: background traffic takes its share of the rate', async () => {
    // Everything taken by the others: only the burst is left, and it is used up at once.
    fake.setRateLimit({ perSecond: 20, burst: 1, background: 20 });
    await network.authorize(target, v4Rule, tags);

    const error = await rejection(network.authorize(target, v6Rule, tags));

    expect(error.providerCode).toBe('RequestLimitExceeded');
    fake.setRateLimit(undefined);
    await expect(network.authorize(target, v6Rule, tags)).resolves.toMatchObject({ existed: false });
  });

  it('refuses a description EC2 would refuse', async () => {
    const send = client.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: GROUP,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 22,
            ToPort: 22,
            IpRanges: [{ CidrIp: '203.0.113.7/32', Description: 'é<>' }],
          },
        ],
      }),
    );

    await expect(send).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });

  it('pages and filters DescribeSecurityGroupRules', async () => {
    for (let port = 1; port <= 7; port++) {
      fake.addRule({
        groupId: GROUP,
        fromPort: port,
        cidr: '198.51.100.1/32',
        tags: { team: port % 2 ? 'odd' : 'even' },
      });
    }
    fake.addRule({ groupId: 'sg-0ther', fromPort: 1, cidr: '198.51.100.1/32', tags: { team: 'odd' } });
    const filters = [
      { Name: 'group-id', Values: [GROUP] },
      { Name: 'tag:team', Values: ['odd'] },
    ];

    const first = await client.send(
      new DescribeSecurityGroupRulesCommand({ Filters: filters, MaxResults: 5 }),
    );

    expect(first.SecurityGroupRules?.map((r) => r.FromPort)).toEqual([1, 3, 5, 7]);
    expect(first.NextToken).toBeUndefined();
    const all = await client.send(new DescribeSecurityGroupRulesCommand({ MaxResults: 5 }));
    const rest = await client.send(
      new DescribeSecurityGroupRulesCommand({ MaxResults: 5, NextToken: all.NextToken }),
    );
    expect(all.SecurityGroupRules).toHaveLength(5);
    expect(all.NextToken).toBeDefined();
    expect(rest.SecurityGroupRules).toHaveLength(3);
    expect(rest.NextToken).toBeUndefined();
  });

  it('answers an unknown rule id with InvalidSecurityGroupRuleId.NotFound', async () => {
    const send = client.send(
      new DescribeSecurityGroupRulesCommand({ SecurityGroupRuleIds: ['sgr-00000000000000000'] }),
    );

    await expect(send).rejects.toMatchObject({ name: 'InvalidSecurityGroupRuleId.NotFound' });
  });
});

describe('AWS_ENDPOINT_URL_EC2', () => {
  const ENV_KEYS = [
    'AWS_ENDPOINT_URL_EC2',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
  ] as const;
  type EnvKey = (typeof ENV_KEYS)[number];
  const setEnv = (values: Readonly<Record<EnvKey, string | undefined>>) => {
    for (const key of ENV_KEYS) {
      const value = values[key];
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  const saved = Object.fromEntries(ENV_KEYS.map((key) => [key, process.env[key]])) as Record<
    EnvKey,
    string | undefined
  >;

  afterEach(() => setEnv(saved));

  it('is honoured by clients from the factory, which set no endpoint of their own', async () => {
    setEnv({
      AWS_ENDPOINT_URL_EC2: fake.url,
      AWS_ACCESS_KEY_ID: 'AKIDTEST',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_SESSION_TOKEN: undefined,
    });
    const clientFor = createEc2ClientFactory({ maxAttempts: 1 });
    const fromEnv = createEc2NetworkAccess({ clientFor, deployment: 'default' });

    const { ruleId } = await fromEnv.authorize(target, v4Rule, tags);

    expect(fake.rules(GROUP).map((r) => r.id)).toEqual([ruleId]);
    clientFor(target).destroy();
  });
});
