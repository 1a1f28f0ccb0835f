import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { ListSchedulesCommand } from '@aws-sdk/client-scheduler';
import { AssumeRoleCommand, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import {
  type AwsClients,
  createAwsClients,
  DEFAULT_AWS_TIMEOUT_MS,
  DEFAULT_MAX_ATTEMPTS,
  MAX_CONNECT_TIMEOUT_MS,
} from '../../../src/adapters/aws/aws-clients';
import { createEc2ClientFactory } from '../../../src/adapters/aws/ec2-clients';
import { createEc2NetworkAccess } from '../../../src/adapters/aws/ec2-network-access';
import { InfraError } from '../../../src/app/infra-error';
import type { RuleTarget } from '../../../src/app/ports';
import { type FakeEc2, startFakeEc2 } from '../../support/fake-ec2';
import { type FakeStsIam, startFakeStsIam } from '../../support/fake-sts-iam';

const GROUP = 'sg-0123456789abcdef0';
const OTHER_ACCOUNT_ROLE = 'arn:aws:iam::210987654321:role/HallpassNetwork';
const SECOND_ROLE = 'arn:aws:iam::210987654321:role/team/HallpassOther';
const crossAccount: RuleTarget = { region: 'eu-west-1', groupId: GROUP, assumeRoleArn: OTHER_ACCOUNT_ROLE };
const v4Rule = { protocol: 'tcp', fromPort: 5432, toPort: 5432, cidr: '203.0.113.7/32', family: 4 } as const;
const tags = { grantId: 'grt_abc', requesterId: 'U123', expiresAt: new Date('2026-11-25T12:30:00.000Z') };

const ENV_KEYS = [
  'AWS_ENDPOINT_URL_EC2',
  'AWS_ENDPOINT_URL_STS',
  'AWS_ENDPOINT_URL_IAM',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
] as const;
type EnvKey = (typeof ENV_KEYS)[number];
const saved = Object.fromEntries(ENV_KEYS.map((key) => [key, process.env[key]])) as Record<
  EnvKey,
  string | undefined
>;
const setEnv = (values: Partial<Record<EnvKey, string | undefined>>) => {
  for (const key of ENV_KEYS) {
    const value = values[key];
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
};

let built: AwsClients[] = [];
/** Clients under test, destroyed after each test so no socket outlives it. */
const clients = (options?: Parameters<typeof createAwsClients>[0]): AwsClients => {
  const made = createAwsClients(options);
  built.push(made);
  return made;
};

afterEach(() => {
  for (const made of built) made.destroy();
  built = [];
  setEnv(saved);
});

describe('createEc2ClientFactory', () => {
  it('builds one client per region and reuses it', async () => {
    const clientFor = createEc2ClientFactory();

    const east = clientFor({ region: 'us-east-1', groupId: 'sg-1' });
    const eastAgain = clientFor({ region: 'us-east-1', groupId: 'sg-2' });
    const west = clientFor({ region: 'eu-west-1', groupId: 'sg-3' });

    expect(eastAgain).toBe(east);
    expect(west).not.toBe(east);
    await expect(east.config.region()).resolves.toBe('us-east-1');
    await expect(west.config.region()).resolves.toBe('eu-west-1');
  });

  it('passes maxAttempts to the SDK', async () => {
    const client = createEc2ClientFactory({ maxAttempts: 7 })({ region: 'us-east-1', groupId: 'sg-1' });

    await expect(client.config.maxAttempts()).resolves.toBe(7);
  });

  it('gives a cross-account target a client of its own instead of refusing it', () => {
    const clientFor = createEc2ClientFactory();

    const local = clientFor({ region: 'eu-west-1', groupId: GROUP });
    const remote = clientFor(crossAccount);

    expect(remote).not.toBe(local);
  });
});

describe('createAwsClients', () => {
  it('retries in standard mode with more attempts than the SDK default', async () => {
    const aws = clients();

    const ec2 = aws.ec2For({ region: 'us-east-1', groupId: 'sg-1' });

    await expect(ec2.config.maxAttempts()).resolves.toBe(DEFAULT_MAX_ATTEMPTS);
    await expect(ec2.config.retryStrategy()).resolves.toMatchObject({ mode: 'standard' });
    await expect(aws.stsFor('us-east-1').config.retryStrategy()).resolves.toMatchObject({ mode: 'standard' });
    await expect(aws.iam.config.maxAttempts()).resolves.toBe(DEFAULT_MAX_ATTEMPTS);
    expect(DEFAULT_MAX_ATTEMPTS).toBeGreaterThan(3);
  });

  it('builds one STS client per region and reuses it', async () => {
    const aws = clients();

    const east = aws.stsFor('us-east-1');
    const west = aws.stsFor('eu-west-1');

    expect(aws.stsFor('us-east-1')).toBe(east);
    expect(west).not.toBe(east);
    await expect(west.config.region()).resolves.toBe('eu-west-1');
  });

  it('builds one IAM client, in us-east-1 unless told otherwise', async () => {
    const aws = clients();
    const gov = clients({ iamRegion: 'us-gov-west-1' });

    expect(aws.iam).toBe(aws.iam);
    await expect(aws.iam.config.region()).resolves.toBe('us-east-1');
    await expect(gov.iam.config.region()).resolves.toBe('us-gov-west-1');
  });

  it('keeps one EC2 client per region and role', () => {
    const aws = clients();

    const remote = aws.ec2For(crossAccount);
    const sameRoleOtherGroup = aws.ec2For({ ...crossAccount, groupId: 'sg-2' });
    const otherRole = aws.ec2For({ ...crossAccount, assumeRoleArn: SECOND_ROLE });
    const otherRegion = aws.ec2For({ ...crossAccount, region: 'us-east-1' });
    const local = aws.ec2For({ region: 'eu-west-1', groupId: GROUP });
    const emptyRole = aws.ec2For({ region: 'eu-west-1', groupId: GROUP, assumeRoleArn: '' });

    expect(sameRoleOtherGroup).toBe(remote);
    expect(new Set([remote, otherRole, otherRegion, local]).size).toBe(4);
    expect(emptyRole).toBe(local);
  });
});

describe('cross-account EC2 clients against the fake STS', () => {
  let sts: FakeStsIam;
  let ec2: FakeEc2;

  beforeEach(async () => {
    sts = await startFakeStsIam({ roles: [{ arn: OTHER_ACCOUNT_ROLE }, { arn: SECOND_ROLE }] });
    ec2 = await startFakeEc2({ groups: [GROUP] });
    setEnv({
      AWS_ENDPOINT_URL_STS: sts.stsUrl,
      AWS_ENDPOINT_URL_EC2: ec2.url,
      AWS_ACCESS_KEY_ID: 'AKIDBASECREDENTIALS',
      AWS_SECRET_ACCESS_KEY: 'base-secret',
    });
  });

  afterEach(async () => {
    await sts.close();
    await ec2.close();
  });

  it('signs with credentials from AssumeRole on the target’s role, asked with the base credentials', async () => {
    const client = clients({ maxAttempts: 1 }).ec2For(crossAccount);

    const resolved = await client.config.credentials();

    const [session] = sts.sessions;
    expect(session).toMatchObject({
      roleArn: OTHER_ACCOUNT_ROLE,
      sessionName: 'hallpass',
      durationSeconds: 3600,
      region: 'eu-west-1',
    });
    expect(resolved).toMatchObject({
      accessKeyId: session?.accessKeyId,
      secretAccessKey: session?.secretAccessKey,
      sessionToken: session?.sessionToken,
    });
    expect(sts.calls.map((c) => [c.action, c.accessKeyId])).toEqual([['AssumeRole', 'AKIDBASECREDENTIALS']]);
  });

  it('leaves a same-account target on the base credentials', async () => {
    const client = clients({ maxAttempts: 1 }).ec2For({ region: 'eu-west-1', groupId: GROUP });

    const resolved = await client.config.credentials();

    expect(resolved.accessKeyId).toBe('AKIDBASECREDENTIALS');
    expect(sts.calls).toHaveLength(0);
  });

  it('opens a rule through the role, assuming it once while its credentials are valid', async () => {
    const network = createEc2NetworkAccess({
      clientFor: clients({ maxAttempts: 1 }).ec2For,
      deployment: 'default',
    });

    const { ruleId } = await network.authorize(crossAccount, v4Rule, tags);
    await network.revoke(crossAccount, [ruleId]);

    expect(ec2.calls.map((c) => c.action)).toEqual([
      'AuthorizeSecurityGroupIngress',
      'RevokeSecurityGroupIngress',
    ]);
    expect(sts.sessions).toHaveLength(1);
  });

  it('assumes the role again when its credentials are about to expire', async () => {
    await sts.close();
    // Sessions from this fake end the moment they are issued, so the SDK must renew before each call.
    sts = await startFakeStsIam({
      roles: [{ arn: OTHER_ACCOUNT_ROLE }],
      now: () => new Date(Date.now() - 3_600_000),
    });
    setEnv({
      AWS_ENDPOINT_URL_STS: sts.stsUrl,
      AWS_ENDPOINT_URL_EC2: ec2.url,
      AWS_ACCESS_KEY_ID: 'AKIDBASECREDENTIALS',
      AWS_SECRET_ACCESS_KEY: 'base-secret',
    });
    const network = createEc2NetworkAccess({
      clientFor: clients({ maxAttempts: 1 }).ec2For,
      deployment: 'default',
    });

    const { ruleId } = await network.authorize(crossAccount, v4Rule, tags);
    await network.revoke(crossAccount, [ruleId]);

    // At least once per EC2 call (the SDK may resolve an expired identity more than once per call).
    expect(sts.sessions.length).toBeGreaterThanOrEqual(2);
    expect(ec2.calls).toHaveLength(2);
  });

  it('uses a session of its own for each role', async () => {
    const aws = clients({ maxAttempts: 1 });

    await aws.ec2For(crossAccount).config.credentials();
    await aws.ec2For({ ...crossAccount, assumeRoleArn: SECOND_ROLE }).config.credentials();

    expect(sts.sessions.map((s) => s.roleArn)).toEqual([OTHER_ACCOUNT_ROLE, SECOND_ROLE]);
  });

  it('fails a rule with a non-retryable AccessDenied when the role cannot be assumed, touching no group', async () => {
    const network = createEc2NetworkAccess({
      clientFor: clients({ maxAttempts: 1 }).ec2For,
      deployment: 'default',
    });
    const target = { ...crossAccount, assumeRoleArn: 'arn:aws:iam::210987654321:role/Missing' };

    let thrown: unknown;
    try {
      await network.authorize(target, v4Rule, tags);
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(InfraError);
    expect(thrown).toMatchObject({
      kind: 'denied',
      subject: 'role',
      providerCode: 'AccessDenied',
      retryable: false,
    });
    expect(ec2.calls).toHaveLength(0);
  });

  it('retries a throttled STS call with backoff before giving up', async () => {
    sts.failNext('sts', 'AssumeRole', 'Throttling', 400, 1);
    const client = clients({ maxAttempts: 2 }).stsFor('eu-west-1');

    const out = await client.send(
      new AssumeRoleCommand({
        RoleArn: OTHER_ACCOUNT_ROLE,
        RoleSessionName: 'grt_abc',
        DurationSeconds: 900,
      }),
    );

    expect(out.$metadata.attempts).toBe(2);
    expect(sts.calls.map((c) => c.action)).toEqual(['AssumeRole', 'AssumeRole']);
    expect(sts.sessions).toHaveLength(1);
  });
});

describe('AWS endpoints that accept and never answer', () => {
  let silent: Server;
  /** Connections the silent endpoint accepted: one per attempt. */
  let accepted: Socket[];
  const savedScheduler = process.env['AWS_ENDPOINT_URL_SCHEDULER'];
  beforeEach(async () => {
    accepted = [];
    silent = createServer((socket) => {
      accepted.push(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    setEnv({
      AWS_ENDPOINT_URL_EC2: url,
      AWS_ENDPOINT_URL_STS: url,
      AWS_ENDPOINT_URL_IAM: url,
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
    });
    process.env['AWS_ENDPOINT_URL_SCHEDULER'] = url;
  });
  afterEach(async () => {
    if (savedScheduler === undefined) delete process.env['AWS_ENDPOINT_URL_SCHEDULER'];
    else process.env['AWS_ENDPOINT_URL_SCHEDULER'] = savedScheduler;
    for (const socket of accepted) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  /** Each client's call, against the silent endpoint. */
  const calls: [string, (aws: AwsClients) => Promise<unknown>][] = [
    [
      'EC2',
      (aws) =>
        aws.ec2For({ region: 'us-east-1', groupId: GROUP }).send(new DescribeSecurityGroupsCommand({})),
    ],
    ['STS', (aws) => aws.stsFor('us-east-1').send(new GetCallerIdentityCommand({}))],
    ['IAM', (aws) => aws.iam.send(new GetRoleCommand({ RoleName: 'HallpassNetwork' }))],
    [
      'EventBridge Scheduler',
      (aws) => aws.schedulerFor({ region: 'us-east-1', groupId: GROUP }).send(new ListSchedulesCommand({})),
    ],
    [
      // The credentials of another account's role come from STS first: that call is bounded too.
      'EC2 in another account (its AssumeRole)',
      (aws) => aws.ec2For(crossAccount).send(new DescribeSecurityGroupsCommand({})),
    ],
  ];

  it.each(calls)(
    '%s: each attempt fails with TimeoutError after timeoutMs, and is retried',
    async (_name, call) => {
      const aws = clients({ timeoutMs: 1_000, maxAttempts: 2 });

      const error = await call(aws).then(
        () => undefined,
        (e: unknown) => e,
      );

      // Without a bound the call never settles, and the test runs out of time instead.
      expect(error).toMatchObject({ name: 'TimeoutError' });
      expect(accepted).toHaveLength(2);
    },
  );

  it('bounds each attempt at 10 s unless told otherwise, connecting at 5 s', async () => {
    const ec2 = clients().ec2For({ region: 'us-east-1', groupId: GROUP });

    expect(DEFAULT_AWS_TIMEOUT_MS).toBe(10_000);
    const handler = ec2.config.requestHandler as unknown as {
      configProvider: Promise<Record<string, unknown>>;
    };
    await expect(handler.configProvider).resolves.toMatchObject({
      requestTimeout: DEFAULT_AWS_TIMEOUT_MS,
      throwOnRequestTimeout: true,
      connectionTimeout: MAX_CONNECT_TIMEOUT_MS,
    });
  });
});
