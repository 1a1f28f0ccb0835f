import {
  DeleteRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListRolePoliciesCommand,
  NoSuchEntityException,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import {
  AssumeRoleCommand,
  type AssumeRoleCommandInput,
  GetCallerIdentityCommand,
  STSClient,
} from '@aws-sdk/client-sts';
import { awsErrorCode, awsHttpStatus } from '../../../src/adapters/aws/aws-errors';
import { FakeClock } from '../../support/fake-clock';
import { type FakeStsIam, startFakeStsIam } from '../../support/fake-sts-iam';

const ROLE = 'arn:aws:iam::123456789012:role/ProdReadOnly';
const PATH_ROLE = 'arn:aws:iam::123456789012:role/team/db/ProdAdmin';
const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' };

const assumeInput = (overrides: Partial<AssumeRoleCommandInput> = {}): AssumeRoleCommandInput => ({
  RoleArn: ROLE,
  RoleSessionName: 'grt_abc',
  SourceIdentity: 'alice@example.com',
  DurationSeconds: 900,
  Tags: [
    { Key: 'hallpass:grant-id', Value: 'grt_abc' },
    { Key: 'hallpass:requester', Value: 'U123' },
  ],
  ...overrides,
});

/** The AWS error code and HTTP status of a rejected call. */
async function failure(
  promise: Promise<unknown>,
): Promise<{ code?: string; status?: number; error: unknown }> {
  try {
    await promise;
  } catch (error) {
    return { code: awsErrorCode(error), status: awsHttpStatus(error), error };
  }
  throw new Error('expected the call to fail');
}

let clock: FakeClock;
let fake: FakeStsIam;
let sts: STSClient;
let iam: IAMClient;

beforeEach(async () => {
  clock = new FakeClock('2026-11-25T12:00:00.000Z');
  fake = await startFakeStsIam({
    roles: [{ arn: ROLE }, { arn: PATH_ROLE, maxSessionDuration: 7200, roleId: 'AROAPATHROLEEXAMPLE01' }],
    now: () => clock.now(),
  });
  // One attempt: faults injected into the fake reach the test instead of being retried by the SDK.
  sts = new STSClient({ region: 'eu-west-1', endpoint: fake.stsUrl, credentials, maxAttempts: 1 });
  iam = new IAMClient({ region: 'us-east-1', endpoint: fake.iamUrl, credentials, maxAttempts: 1 });
});

afterEach(async () => {
  sts.destroy();
  iam.destroy();
  await fake.close();
});

describe('the fake STS', () => {
  it('issues a session that ends DurationSeconds after the fake clock’s now', async () => {
    clock.advance(90_000);

    const out = await sts.send(new AssumeRoleCommand(assumeInput({ DurationSeconds: 1800 })));

    const [session] = fake.sessions;
    expect(out.Credentials?.Expiration).toEqual(new Date('2026-11-25T12:31:30.000Z'));
    expect(out.Credentials?.AccessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(out.Credentials).toMatchObject({
      AccessKeyId: session?.accessKeyId,
      SecretAccessKey: session?.secretAccessKey,
      SessionToken: session?.sessionToken,
    });
    expect(out.AssumedRoleUser).toEqual({
      AssumedRoleId: `${fake.role(ROLE).roleId}:grt_abc`,
      Arn: 'arn:aws:sts::123456789012:assumed-role/ProdReadOnly/grt_abc',
    });
    expect(out.SourceIdentity).toBe('alice@example.com');
  });

  it('records the session’s name, source identity, tags, duration and region', async () => {
    await sts.send(new AssumeRoleCommand(assumeInput()));

    expect(fake.sessions[0]).toMatchObject({
      roleArn: ROLE,
      sessionName: 'grt_abc',
      sourceIdentity: 'alice@example.com',
      tags: { 'hallpass:grant-id': 'grt_abc', 'hallpass:requester': 'U123' },
      durationSeconds: 900,
      region: 'eu-west-1',
    });
  });

  it('reads the Query wire format the SDK sends', async () => {
    await sts.send(new AssumeRoleCommand(assumeInput()));

    expect(fake.calls[0]).toMatchObject({
      service: 'sts',
      action: 'AssumeRole',
      accessKeyId: 'AKIDTEST',
      params: {
        Action: 'AssumeRole',
        Version: '2011-06-15',
        RoleArn: ROLE,
        'Tags.member.1.Key': 'hallpass:grant-id',
        'Tags.member.2.Value': 'U123',
      },
    });
  });

  it('gives each session of the same role its own keys', async () => {
    await sts.send(new AssumeRoleCommand(assumeInput()));
    await sts.send(new AssumeRoleCommand(assumeInput({ RoleSessionName: 'grt_def' })));

    const [a, b] = fake.sessions;
    expect(a?.accessKeyId).not.toBe(b?.accessKeyId);
    expect(a?.secretAccessKey).not.toBe(b?.secretAccessKey);
    expect(a?.assumedRoleId).not.toBe(b?.assumedRoleId);
  });

  it('refuses an unknown role with AccessDenied, as STS does', async () => {
    const result = await failure(
      sts.send(new AssumeRoleCommand(assumeInput({ RoleArn: 'arn:aws:iam::123456789012:role/Nope' }))),
    );

    expect(result).toMatchObject({ code: 'AccessDenied', status: 403 });
    expect(fake.sessions).toHaveLength(0);
  });

  it.each([
    ['a malformed role ARN', { RoleArn: 'arn:aws:iam::123456789012:user/ProdReadOnly' }],
    ['a too short role ARN', { RoleArn: 'ProdReadOnly' }],
    ['a duration under 900 seconds', { DurationSeconds: 899 }],
    ['a duration over the role’s MaxSessionDuration', { DurationSeconds: 3601 }],
    ['a session name with a space', { RoleSessionName: 'grt abc' }],
    ['a one-character session name', { RoleSessionName: 'g' }],
    ['a 65-character session name', { RoleSessionName: 'g'.repeat(65) }],
    ['a source identity with a colon', { SourceIdentity: 'aws:alice' }],
    ['a 65-character source identity', { SourceIdentity: 's'.repeat(65) }],
    ['a tag value with a comma', { Tags: [{ Key: 'hallpass:requester', Value: 'a,b' }] }],
    ['a tag key starting with aws:', { Tags: [{ Key: 'aws:requester', Value: 'U123' }] }],
    [
      'two tag keys differing only in case',
      {
        Tags: [
          { Key: 'k', Value: '1' },
          { Key: 'K', Value: '2' },
        ],
      },
    ],
  ])('refuses %s with ValidationError', async (_name, overrides) => {
    const result = await failure(sts.send(new AssumeRoleCommand(assumeInput(overrides))));

    expect(result).toMatchObject({ code: 'ValidationError', status: 400 });
    expect(fake.sessions).toHaveLength(0);
  });

  it('names the role’s limit when the duration is over it', async () => {
    const result = await failure(sts.send(new AssumeRoleCommand(assumeInput({ DurationSeconds: 3601 }))));

    expect(result.error).toMatchObject({
      message: 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    });
  });

  it('allows up to the role’s own MaxSessionDuration', async () => {
    await sts.send(new AssumeRoleCommand(assumeInput({ RoleArn: PATH_ROLE, DurationSeconds: 7200 })));

    expect(fake.sessions[0]?.assumedRoleId).toBe('AROAPATHROLEEXAMPLE01:grt_abc');
  });

  it('limits a session assumed with another session’s keys to one hour (role chaining)', async () => {
    const first = await sts.send(new AssumeRoleCommand(assumeInput()));
    const chained = new STSClient({
      region: 'eu-west-1',
      endpoint: fake.stsUrl,
      maxAttempts: 1,
      credentials: {
        accessKeyId: first.Credentials?.AccessKeyId ?? '',
        secretAccessKey: first.Credentials?.SecretAccessKey ?? '',
        sessionToken: first.Credentials?.SessionToken ?? '',
      },
    });

    const result = await failure(
      chained.send(new AssumeRoleCommand(assumeInput({ RoleArn: PATH_ROLE, DurationSeconds: 3601 }))),
    );
    chained.destroy();

    expect(result.code).toBe('ValidationError');
    expect(result.error).toMatchObject({ message: expect.stringContaining('role chaining') });
  });

  it('tells a caller signed with an issued session that it is that session', async () => {
    const issued = await sts.send(new AssumeRoleCommand(assumeInput()));
    const asSession = new STSClient({
      region: 'eu-west-1',
      endpoint: fake.stsUrl,
      maxAttempts: 1,
      credentials: {
        accessKeyId: issued.Credentials?.AccessKeyId ?? '',
        secretAccessKey: issued.Credentials?.SecretAccessKey ?? '',
        sessionToken: issued.Credentials?.SessionToken ?? '',
      },
    });

    const me = await asSession.send(new GetCallerIdentityCommand({}));
    const base = await sts.send(new GetCallerIdentityCommand({}));
    asSession.destroy();

    expect(me).toMatchObject({
      Arn: 'arn:aws:sts::123456789012:assumed-role/ProdReadOnly/grt_abc',
      UserId: issued.AssumedRoleUser?.AssumedRoleId,
      Account: '123456789012',
    });
    expect(base.Arn).toBe('arn:aws:iam::123456789012:user/hallpass');
  });

  it('answers an injected fault the given number of times, then works again', async () => {
    fake.failNext('sts', 'AssumeRole', 'Throttling', 400, 2);

    const first = await failure(sts.send(new AssumeRoleCommand(assumeInput())));
    const second = await failure(sts.send(new AssumeRoleCommand(assumeInput())));
    await sts.send(new AssumeRoleCommand(assumeInput()));

    expect([first.code, second.code]).toEqual(['Throttling', 'Throttling']);
    expect(fake.sessions).toHaveLength(1);
    expect(fake.calls.map((c) => c.action)).toEqual(['AssumeRole', 'AssumeRole', 'AssumeRole']);
  });
});

describe('the fake IAM', () => {
  const denyDocument = (userId: string) =>
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Deny', Action: '*', Resource: '*', Condition: { StringLike: { 'aws:userid': userId } } },
      ],
    });

  it('describes a role with a path by its name alone', async () => {
    const out = await iam.send(new GetRoleCommand({ RoleName: 'ProdAdmin' }));

    expect(out.Role).toMatchObject({
      RoleName: 'ProdAdmin',
      Path: '/team/db/',
      Arn: PATH_ROLE,
      RoleId: 'AROAPATHROLEEXAMPLE01',
      MaxSessionDuration: 7200,
    });
  });

  it('gives a role without a configured maximum the IAM default of one hour', async () => {
    const out = await iam.send(new GetRoleCommand({ RoleName: 'ProdReadOnly' }));

    expect(out.Role?.MaxSessionDuration).toBe(3600);
    expect(out.Role?.RoleId).toMatch(/^AROA[A-Z2-7]{17}$/);
  });

  it('answers an unknown role with NoSuchEntity and HTTP 404', async () => {
    const result = await failure(iam.send(new GetRoleCommand({ RoleName: 'Nope' })));

    expect(result).toMatchObject({ code: 'NoSuchEntity', status: 404 });
    expect(result.error).toBeInstanceOf(NoSuchEntityException);
  });

  it('stores, lists, returns and deletes an inline policy', async () => {
    const document = denyDocument('AROAEXAMPLE:grt_abc');

    await iam.send(
      new PutRolePolicyCommand({ RoleName: 'ProdReadOnly', PolicyName: 'p1', PolicyDocument: document }),
    );
    const listed = await iam.send(new ListRolePoliciesCommand({ RoleName: 'ProdReadOnly' }));
    const got = await iam.send(new GetRolePolicyCommand({ RoleName: 'ProdReadOnly', PolicyName: 'p1' }));
    const stored = fake.rolePolicies(ROLE);
    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'ProdReadOnly', PolicyName: 'p1' }));

    expect(listed.PolicyNames).toEqual(['p1']);
    expect(listed.IsTruncated).toBe(false);
    // IAM returns documents URL-encoded.
    expect(decodeURIComponent(got.PolicyDocument ?? '')).toBe(document);
    expect(stored).toEqual({ p1: JSON.parse(document) });
    expect(fake.rolePolicies(ROLE)).toEqual({});
  });

  it('replaces a policy put twice under the same name', async () => {
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'ProdReadOnly',
        PolicyName: 'p1',
        PolicyDocument: denyDocument('A:x1'),
      }),
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'ProdReadOnly',
        PolicyName: 'p1',
        PolicyDocument: denyDocument('A:x2'),
      }),
    );

    expect(fake.rolePolicies(ROLE)).toEqual({ p1: JSON.parse(denyDocument('A:x2')) });
  });

  it('pages ListRolePolicies with MaxItems and Marker', async () => {
    for (const name of ['a', 'b', 'c']) {
      await iam.send(
        new PutRolePolicyCommand({
          RoleName: 'ProdReadOnly',
          PolicyName: name,
          PolicyDocument: denyDocument('A:x'),
        }),
      );
    }

    const first = await iam.send(new ListRolePoliciesCommand({ RoleName: 'ProdReadOnly', MaxItems: 2 }));
    const second = await iam.send(
      new ListRolePoliciesCommand({ RoleName: 'ProdReadOnly', MaxItems: 2, Marker: first.Marker }),
    );

    expect([first.PolicyNames, first.IsTruncated]).toEqual([['a', 'b'], true]);
    expect([second.PolicyNames, second.IsTruncated]).toEqual([['c'], false]);
  });

  it('answers deleting an absent policy with NoSuchEntity', async () => {
    const result = await failure(
      iam.send(new DeleteRolePolicyCommand({ RoleName: 'ProdReadOnly', PolicyName: 'never-put' })),
    );

    expect(result).toMatchObject({ code: 'NoSuchEntity', status: 404 });
  });

  it.each([
    ['text that is not JSON', '{"Version":'],
    ['a document without statements', '{"Version":"2012-10-17","Statement":[]}'],
    ['a statement without an effect', '{"Version":"2012-10-17","Statement":[{"Action":"*","Resource":"*"}]}'],
  ])('refuses %s with MalformedPolicyDocument', async (_name, PolicyDocument) => {
    const result = await failure(
      iam.send(new PutRolePolicyCommand({ RoleName: 'ProdReadOnly', PolicyName: 'p1', PolicyDocument })),
    );

    expect(result).toMatchObject({ code: 'MalformedPolicyDocument', status: 400 });
    expect(fake.rolePolicies(ROLE)).toEqual({});
  });

  it('refuses a policy that takes the role’s inline policies past 10,240 characters', async () => {
    const big = denyDocument(`AROAEXAMPLE:${'x'.repeat(6000)}`);
    await iam.send(
      new PutRolePolicyCommand({ RoleName: 'ProdReadOnly', PolicyName: 'p1', PolicyDocument: big }),
    );

    const result = await failure(
      iam.send(new PutRolePolicyCommand({ RoleName: 'ProdReadOnly', PolicyName: 'p2', PolicyDocument: big })),
    );

    expect(result).toMatchObject({ code: 'LimitExceeded', status: 409 });
    expect(Object.keys(fake.rolePolicies(ROLE))).toEqual(['p1']);
  });

  it('reports exactly the session a deny policy names as denied', async () => {
    const a = await sts.send(new AssumeRoleCommand(assumeInput({ RoleSessionName: 'grt_a' })));
    const b = await sts.send(new AssumeRoleCommand(assumeInput({ RoleSessionName: 'grt_b' })));
    const aId = a.AssumedRoleUser?.AssumedRoleId ?? '';
    const bId = b.AssumedRoleUser?.AssumedRoleId ?? '';

    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'ProdReadOnly',
        PolicyName: 'deny-a',
        PolicyDocument: denyDocument(aId),
      }),
    );

    expect([fake.sessionDenied(aId), fake.sessionDenied(bId)]).toEqual([true, false]);
  });

  it('reports every session a deny list names as denied, and no other', async () => {
    const [a, b, c] = await Promise.all(
      ['grt_a', 'grt_b', 'grt_c'].map((name) =>
        sts.send(new AssumeRoleCommand(assumeInput({ RoleSessionName: name }))),
      ),
    );
    const id = (out: typeof a) => out?.AssumedRoleUser?.AssumedRoleId ?? '';

    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'ProdReadOnly',
        PolicyName: 'hallpass-revoked-sessions',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Deny',
              Action: '*',
              Resource: '*',
              Condition: { StringLike: { 'aws:userid': [id(a), id(c)] } },
            },
          ],
        }),
      }),
    );

    expect([a, b, c].map((out) => fake.sessionDenied(id(out)))).toEqual([true, false, true]);
  });

  it('counts the role’s inline policies together, whitespace not counted, as IAM does', async () => {
    // A deny document of exactly `chars` non-whitespace characters, padded with 3,000 spaces.
    const sized = (chars: number) => {
      const doc = (n: number) =>
        JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Deny',
              Action: '*',
              Resource: '*',
              Condition: { StringLike: { 'aws:userid': `A:${'x'.repeat(n)}` } },
            },
          ],
        }).replace('"Version"', `${' '.repeat(3000)}"Version"`);
      return doc(chars - doc(0).replace(/\s/g, '').length);
    };
    const put = (name: string, PolicyDocument: string) =>
      iam.send(new PutRolePolicyCommand({ RoleName: 'ProdReadOnly', PolicyName: name, PolicyDocument }));

    await put('p1', sized(5000));
    await put('p2', sized(5240));
    const oneMore = await failure(put('p2', sized(5241)));

    expect(sized(5240).length).toBe(8240);
    expect(Object.keys(fake.rolePolicies(ROLE)).sort()).toEqual(['p1', 'p2']);
    expect(oneMore).toMatchObject({ code: 'LimitExceeded', status: 409 });
  });

  it('puts a policy for a test’s set-up without recording a call', async () => {
    fake.putRolePolicy(ROLE, 'Operators', '{"Version":"2012-10-17","Statement":[]}');

    const got = await iam.send(
      new GetRolePolicyCommand({ RoleName: 'ProdReadOnly', PolicyName: 'Operators' }),
    );

    expect(decodeURIComponent(got.PolicyDocument ?? '')).toBe('{"Version":"2012-10-17","Statement":[]}');
    expect(fake.calls.map((c) => c.action)).toEqual(['GetRolePolicy']);
  });

  it('keeps STS and IAM calls apart', async () => {
    fake.failNext('iam', 'GetRole', 'ServiceFailure', 500);

    const result = await failure(iam.send(new GetRoleCommand({ RoleName: 'ProdReadOnly' })));
    await sts.send(new AssumeRoleCommand(assumeInput()));

    expect(result).toMatchObject({ code: 'ServiceFailure', status: 500 });
    expect(fake.calls.map((c) => [c.service, c.action])).toEqual([
      ['iam', 'GetRole'],
      ['sts', 'AssumeRole'],
    ]);
  });
});
