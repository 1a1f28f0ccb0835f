import {
  DeleteRolePolicyCommand,
  GetRoleCommand,
  IAMClient,
  IAMServiceException,
  NoSuchEntityException,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import {
  AssumeRoleCommand,
  type AssumeRoleCommandOutput,
  STSClient,
  STSServiceException,
} from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import {
  createStsRoleSessions,
  denyPolicyDocument,
  roleNameOf,
  sessionNameFor,
  sessionTagValue,
  sourceIdentityFor,
} from '../../../src/adapters/aws/sts-role-sessions';
import { denyPolicyNameFor } from '../../../src/app/open-role-session';
import { InfraError, type RoleSession, type RoleSessions } from '../../../src/app/ports';
import { FakeClock } from '../../support/fake-clock';
import { type FakeStsIam, startFakeStsIam } from '../../support/fake-sts-iam';

const ROLE = 'arn:aws:iam::123456789012:role/ProdReadOnly';
const PATH_ROLE = 'arn:aws:iam::123456789012:role/team/db/ProdAdmin';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY';
const TOKEN = 'IQoJb3JpZ2luX2VjEXAMPLETOKENexampletokenEXAMPLETOKENexampletoken//////////wEaCXVzLWVhc3QtMSJH';
const KEY_ID = 'ASIAIOSFODNN7EXAMPLE';
const EXPIRATION = new Date('2026-11-25T12:30:00.000Z');

const assumed: AssumeRoleCommandOutput = {
  $metadata: {},
  Credentials: {
    AccessKeyId: KEY_ID,
    SecretAccessKey: SECRET,
    SessionToken: TOKEN,
    Expiration: EXPIRATION,
  },
  AssumedRoleUser: {
    AssumedRoleId: 'AROA3XFRBF535PLBIFPI4:grt_abc',
    Arn: 'arn:aws:sts::123456789012:assumed-role/ProdReadOnly/grt_abc',
  },
  SourceIdentity: 'alice@example.com',
};

const startInput = {
  roleArn: ROLE,
  region: 'eu-west-1',
  grantId: 'grt_abc',
  requesterId: 'U123',
  sourceIdentity: 'alice@example.com',
  durationSeconds: 1800,
} as const;

const session: RoleSession = {
  sessionName: 'grt_abc',
  assumedRoleId: 'AROA3XFRBF535PLBIFPI4:grt_abc',
  expiresAt: EXPIRATION,
};

/** An error shaped like the ones the SDK throws for a Query-protocol error response. */
function stsError(code: string, httpStatusCode = 400, message = `message for ${code}`): STSServiceException {
  const error = new STSServiceException({
    name: code,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message,
  });
  return Object.assign(error, { Code: code });
}

function iamError(code: string, httpStatusCode = 400): IAMServiceException {
  const error =
    code === 'NoSuchEntity'
      ? new NoSuchEntityException({ $metadata: { httpStatusCode }, message: 'cannot be found' })
      : new IAMServiceException({
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

/** Everything an error exposes to a logger: message, stack, its own fields and its cause's. */
function everythingIn(error: InfraError): string {
  const cause = error.cause;
  return [
    error.message,
    error.stack ?? '',
    JSON.stringify(error),
    String(cause ?? ''),
    cause instanceof Error ? (cause.stack ?? '') : '',
    cause === undefined ? '' : JSON.stringify(cause),
  ].join('\n');
}

const sts = new STSClient({ region: 'eu-west-1' });
const stsMock = mockClient(sts);
const iam = new IAMClient({ region: 'us-east-1' });
const iamMock = mockClient(iam);
const stsFor = jest.fn((_region: string) => sts);
let clock: FakeClock;
let sessions: RoleSessions;

beforeEach(() => {
  stsMock.reset();
  iamMock.reset();
  stsFor.mockClear();
  clock = new FakeClock('2026-11-25T12:00:00.000Z');
  sessions = createStsRoleSessions({ stsFor, iam, clock });
});

describe('names and values STS and IAM accept', () => {
  it.each([
    ['grt_abc', 'grt_abc'],
    ['grt_a b/c:d', 'grt_abcd'],
    ['g'.repeat(70), 'g'.repeat(64)],
    ['user+x=y,z.w@v-1', 'user+x=y,z.w@v-1'],
  ])('derives the session name of grant %j as %j', (grantId, expected) => {
    expect(sessionNameFor(grantId)).toBe(expected);
  });

  it.each([[''], ['g'], ['/ / :g']])(
    'refuses grant id %j, which leaves under 2 valid characters',
    (grantId) => {
      expect(() => sessionNameFor(grantId)).toThrow(
        expect.objectContaining({ code: 'InvalidSessionName', retryable: false }),
      );
    },
  );

  it.each([
    ['alice@example.com', 'alice@example.com'],
    ['U0123ABCD', 'U0123ABCD'],
    ['José Núñez', 'Jos__N__ez'],
    ['aws:alice', 'aws_alice'],
    [`${'a'.repeat(60)}@example.com`, `${'a'.repeat(60)}@exa`],
  ])('derives the source identity of %j as %j', (identity, expected) => {
    expect(sourceIdentityFor(identity)).toBe(expected);
  });

  it('refuses a source identity under 2 characters', () => {
    expect(() => sourceIdentityFor(' U ')).toThrow(
      expect.objectContaining({ code: 'InvalidSourceIdentity', retryable: false }),
    );
  });

  it.each([
    ['U123', 'U123'],
    ['José Núñez', 'José Núñez'],
    ['a,b;c<d>', 'a_b_c_d_'],
    ['x'.repeat(300), 'x'.repeat(256)],
  ])('keeps session tag value %j as %j', (value, expected) => {
    expect(sessionTagValue(value)).toBe(expected);
  });

  it.each([
    ['grt_abc', 'hallpass-deny-grt_abc'],
    ['grt_a/b c', 'hallpass-deny-grt_abc'],
    ['g'.repeat(200), `hallpass-deny-${'g'.repeat(114)}`],
  ])('names the deny policy of grant %j %j', (grantId, expected) => {
    expect(denyPolicyNameFor(grantId)).toBe(expected);
  });

  it.each([
    [ROLE, 'ProdReadOnly'],
    [PATH_ROLE, 'ProdAdmin'],
    ['arn:aws-us-gov:iam::123456789012:role/Gov', 'Gov'],
  ])('reads the role name of %s as %s', (arn, name) => {
    expect(roleNameOf(arn)).toBe(name);
  });

  it.each([
    ['a user ARN', 'arn:aws:iam::123456789012:user/alice'],
    ['a bare name', 'ProdReadOnly'],
    ['a short account', 'arn:aws:iam::1234:role/ProdReadOnly'],
    ['a trailing slash', 'arn:aws:iam::123456789012:role/team/'],
  ])('refuses %s as a role ARN, without retrying', (_name, arn) => {
    expect(() => roleNameOf(arn)).toThrow(
      expect.objectContaining({ code: 'InvalidRoleArn', retryable: false }),
    );
  });

  it('writes a deny policy that matches exactly the session’s aws:userid', () => {
    expect(denyPolicyDocument(session)).toBe(
      '{"Version":"2012-10-17","Statement":[{"Sid":"HallpassRevokedSession","Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:userid":"AROA3XFRBF535PLBIFPI4:grt_abc"}}}]}',
    );
  });
});

describe('maxSessionSeconds', () => {
  it('asks IAM for the role by the last segment of its ARN', async () => {
    iamMock.on(GetRoleCommand).resolves({
      Role: {
        RoleName: 'ProdAdmin',
        Path: '/team/db/',
        RoleId: 'AROAEXAMPLE',
        Arn: PATH_ROLE,
        CreateDate: new Date(),
        MaxSessionDuration: 7200,
      },
    });

    await expect(sessions.maxSessionSeconds(PATH_ROLE)).resolves.toBe(7200);
    expect(iamMock.commandCalls(GetRoleCommand).map((c) => c.args[0].input)).toEqual([
      { RoleName: 'ProdAdmin' },
    ]);
  });

  it('takes the IAM default of 3600 seconds when the role states none', async () => {
    iamMock.on(GetRoleCommand).resolves({
      Role: { RoleName: 'ProdReadOnly', Path: '/', RoleId: 'AROAEXAMPLE', Arn: ROLE, CreateDate: new Date() },
    });

    await expect(sessions.maxSessionSeconds(ROLE)).resolves.toBe(3600);
  });

  it('asks IAM once per role within five minutes, and again after', async () => {
    iamMock
      .on(GetRoleCommand)
      .resolvesOnce({
        Role: {
          RoleName: 'R',
          Path: '/',
          RoleId: 'A',
          Arn: ROLE,
          CreateDate: new Date(),
          MaxSessionDuration: 7200,
        },
      })
      .resolves({
        Role: {
          RoleName: 'R',
          Path: '/',
          RoleId: 'A',
          Arn: ROLE,
          CreateDate: new Date(),
          MaxSessionDuration: 3600,
        },
      });

    const first = await sessions.maxSessionSeconds(ROLE);
    clock.advance(5 * 60_000 - 1);
    const cached = await sessions.maxSessionSeconds(ROLE);
    clock.advance(1);
    const refreshed = await sessions.maxSessionSeconds(ROLE);

    expect([first, cached, refreshed]).toEqual([7200, 7200, 3600]);
    expect(iamMock.commandCalls(GetRoleCommand)).toHaveLength(2);
  });

  it('caches each role apart', async () => {
    iamMock
      .on(GetRoleCommand)
      .resolves({ Role: { RoleName: 'R', Path: '/', RoleId: 'A', Arn: ROLE, CreateDate: new Date() } });

    await sessions.maxSessionSeconds(ROLE);
    await sessions.maxSessionSeconds(PATH_ROLE);

    expect(iamMock.commandCalls(GetRoleCommand).map((c) => c.args[0].input.RoleName)).toEqual([
      'ProdReadOnly',
      'ProdAdmin',
    ]);
  });

  it('asks again when the clock has gone backwards', async () => {
    iamMock
      .on(GetRoleCommand)
      .resolves({ Role: { RoleName: 'R', Path: '/', RoleId: 'A', Arn: ROLE, CreateDate: new Date() } });

    await sessions.maxSessionSeconds(ROLE);
    clock.set('2026-11-25T11:59:00.000Z');
    await sessions.maxSessionSeconds(ROLE);

    expect(iamMock.commandCalls(GetRoleCommand)).toHaveLength(2);
  });

  it('does not cache a failure', async () => {
    iamMock
      .on(GetRoleCommand)
      .rejectsOnce(iamError('ServiceFailure', 500))
      .resolves({
        Role: {
          RoleName: 'R',
          Path: '/',
          RoleId: 'A',
          Arn: ROLE,
          CreateDate: new Date(),
          MaxSessionDuration: 5400,
        },
      });

    const failed = await rejection(sessions.maxSessionSeconds(ROLE));

    expect(failed).toMatchObject({ code: 'ServiceFailure', retryable: true });
    await expect(sessions.maxSessionSeconds(ROLE)).resolves.toBe(5400);
  });

  it('reports an unknown role as NoSuchEntity, not retryable, naming the role', async () => {
    iamMock.on(GetRoleCommand).rejects(iamError('NoSuchEntity', 404));

    const error = await rejection(sessions.maxSessionSeconds(ROLE));

    expect(error).toMatchObject({ code: 'NoSuchEntity', retryable: false });
    expect(error.message).toContain('GetRole ProdReadOnly failed: NoSuchEntity (HTTP 404)');
  });

  it('refuses a malformed ARN without calling IAM', async () => {
    const error = await rejection(sessions.maxSessionSeconds('arn:aws:iam::123456789012:user/alice'));

    expect(error).toMatchObject({ code: 'InvalidRoleArn', retryable: false });
    expect(iamMock.calls()).toHaveLength(0);
  });
});

describe('start', () => {
  it('assumes the role with the grant’s session name, the requester’s identity and tags', async () => {
    stsMock.on(AssumeRoleCommand).resolves(assumed);

    await sessions.start(startInput);

    expect(stsMock.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toEqual([
      {
        RoleArn: ROLE,
        RoleSessionName: 'grt_abc',
        SourceIdentity: 'alice@example.com',
        DurationSeconds: 1800,
        Tags: [
          { Key: 'hallpass:grant-id', Value: 'grt_abc' },
          { Key: 'hallpass:requester', Value: 'U123' },
        ],
      },
    ]);
    expect(stsFor).toHaveBeenCalledWith('eu-west-1');
  });

  it('returns the session’s identity and its credentials', async () => {
    stsMock.on(AssumeRoleCommand).resolves(assumed);

    const result = await sessions.start(startInput);

    expect(result).toEqual({
      session: {
        sessionName: 'grt_abc',
        assumedRoleId: 'AROA3XFRBF535PLBIFPI4:grt_abc',
        expiresAt: EXPIRATION,
      },
      credentials: {
        accessKeyId: KEY_ID,
        secretAccessKey: SECRET,
        sessionToken: TOKEN,
        expiration: EXPIRATION,
      },
    });
  });

  it.each([
    [300, 900],
    [900, 900],
    [1800.2, 1801],
    [43_200, 43_200],
  ])('asks for %p seconds as %p (STS’s minimum is 900, whole seconds)', async (asked, sent) => {
    stsMock.on(AssumeRoleCommand).resolves(assumed);

    await sessions.start({ ...startInput, durationSeconds: asked });

    expect(stsMock.commandCalls(AssumeRoleCommand)[0]?.args[0].input.DurationSeconds).toBe(sent);
  });

  it('sanitizes the session name, source identity and tag values it derives', async () => {
    stsMock.on(AssumeRoleCommand).resolves(assumed);

    await sessions.start({ ...startInput, grantId: 'grt a/b', requesterId: 'U1;2', sourceIdentity: 'José' });

    expect(stsMock.commandCalls(AssumeRoleCommand)[0]?.args[0].input).toMatchObject({
      RoleSessionName: 'grtab',
      SourceIdentity: 'Jos_',
      Tags: [
        { Key: 'hallpass:grant-id', Value: 'grt a/b' },
        { Key: 'hallpass:requester', Value: 'U1_2' },
      ],
    });
  });

  it.each([
    ['AccessDenied', 403],
    ['ValidationError', 400],
    ['RegionDisabledException', 403],
    ['MalformedPolicyDocument', 400],
  ])('reports %s as a non-retryable failure naming the role', async (code, status) => {
    stsMock.on(AssumeRoleCommand).rejects(stsError(code, status));

    const error = await rejection(sessions.start(startInput));

    expect(error).toMatchObject({ code, retryable: false });
    expect(error.message).toContain(`AssumeRole ${ROLE} failed: ${code} (HTTP ${status})`);
  });

  it.each([
    ['Throttling', 400],
    ['InternalFailure', 500],
    ['ECONNRESET', undefined],
  ])('reports %s as retryable', async (code, status) => {
    const error =
      status === undefined ? Object.assign(new Error('socket hang up'), { code }) : stsError(code, status);
    stsMock.on(AssumeRoleCommand).rejects(error);

    await expect(rejection(sessions.start(startInput))).resolves.toMatchObject({ code, retryable: true });
  });

  it('refuses a malformed role ARN without calling STS', async () => {
    const error = await rejection(
      sessions.start({ ...startInput, roleArn: 'arn:aws:iam::123456789012:group/G' }),
    );

    expect(error).toMatchObject({ code: 'InvalidRoleArn', retryable: false });
    expect(stsMock.calls()).toHaveLength(0);
  });

  it.each([
    ['no Credentials', { ...assumed, Credentials: undefined }, 'Credentials.AccessKeyId'],
    [
      'no session token',
      {
        ...assumed,
        Credentials: {
          AccessKeyId: KEY_ID,
          SecretAccessKey: SECRET,
          SessionToken: '',
          Expiration: EXPIRATION,
        },
      },
      'Credentials.SessionToken',
    ],
    [
      'no Expiration',
      {
        ...assumed,
        Credentials: {
          AccessKeyId: KEY_ID,
          SecretAccessKey: SECRET,
          SessionToken: TOKEN,
          Expiration: undefined,
        },
      },
      'Credentials.Expiration',
    ],
    ['no AssumedRoleUser', { ...assumed, AssumedRoleUser: undefined }, 'AssumedRoleUser.AssumedRoleId'],
  ])('reports a response with %s as an incomplete answer', async (_name, response, field) => {
    stsMock.on(AssumeRoleCommand).resolves(response);

    const error = await rejection(sessions.start(startInput));

    expect(error).toMatchObject({ code: 'IncompleteAssumeRoleResponse', retryable: true });
    expect(error.message).toContain(field);
  });

  it('never puts a credential value in an incomplete-answer error', async () => {
    stsMock.on(AssumeRoleCommand).resolves({ ...assumed, AssumedRoleUser: undefined });

    const error = await rejection(sessions.start(startInput));
    const exposed = everythingIn(error);

    expect(error.message).toBe(`AssumeRole ${ROLE} returned no AssumedRoleUser.AssumedRoleId`);
    for (const secret of [SECRET, TOKEN, KEY_ID]) expect(exposed).not.toContain(secret);
  });

  it('keeps no cause that could carry the raw AssumeRole response', async () => {
    const unparsable = Object.assign(new Error('Deserialization error: inspect $response'), {
      name: 'DeserializationError',
      $response: {
        statusCode: 200,
        body: `<SecretAccessKey>${SECRET}</SecretAccessKey><SessionToken>${TOKEN}</SessionToken>`,
      },
    });
    stsMock.on(AssumeRoleCommand).rejects(unparsable);

    const error = await rejection(sessions.start(startInput));

    expect(error).toMatchObject({ code: 'DeserializationError' });
    expect(error.cause).toBeUndefined();
    for (const secret of [SECRET, TOKEN]) expect(everythingIn(error)).not.toContain(secret);
  });

  it('redacts credential-shaped text from an AWS error message', async () => {
    stsMock
      .on(AssumeRoleCommand)
      .rejects(
        stsError('AccessDenied', 403, `denied for ${KEY_ID} with token ${TOKEN} and secret ${SECRET}`),
      );

    const error = await rejection(sessions.start(startInput));

    expect(error.code).toBe('AccessDenied');
    for (const secret of [SECRET, TOKEN, KEY_ID]) expect(error.message).not.toContain(secret);
  });
});

describe('denySession and removeDeny', () => {
  it('puts the deny policy on the role, by its name', async () => {
    iamMock.on(PutRolePolicyCommand).resolves({});

    await sessions.denySession({ roleArn: PATH_ROLE, policyName: 'hallpass-deny-grt_abc', session });

    expect(iamMock.commandCalls(PutRolePolicyCommand).map((c) => c.args[0].input)).toEqual([
      {
        RoleName: 'ProdAdmin',
        PolicyName: 'hallpass-deny-grt_abc',
        PolicyDocument:
          '{"Version":"2012-10-17","Statement":[{"Sid":"HallpassRevokedSession","Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:userid":"AROA3XFRBF535PLBIFPI4:grt_abc"}}}]}',
      },
    ]);
  });

  it.each([
    ['AccessDenied', 403, false],
    ['LimitExceeded', 409, false],
    ['NoSuchEntity', 404, false],
    ['Throttling', 400, true],
    ['ServiceFailure', 500, true],
  ])('reports %s from PutRolePolicy with retryable %p', async (code, status, retryable) => {
    iamMock.on(PutRolePolicyCommand).rejects(iamError(code, status));

    const error = await rejection(sessions.denySession({ roleArn: ROLE, policyName: 'p', session }));

    expect(error).toMatchObject({ code, retryable });
    expect(error.message).toContain('PutRolePolicy ProdReadOnly/p failed');
  });

  it('deletes the policy by role name and policy name', async () => {
    iamMock.on(DeleteRolePolicyCommand).resolves({});

    await sessions.removeDeny({ roleArn: PATH_ROLE, policyName: 'hallpass-deny-grt_abc' });

    expect(iamMock.commandCalls(DeleteRolePolicyCommand).map((c) => c.args[0].input)).toEqual([
      { RoleName: 'ProdAdmin', PolicyName: 'hallpass-deny-grt_abc' },
    ]);
  });

  it('treats a policy already gone as removed', async () => {
    iamMock.on(DeleteRolePolicyCommand).rejects(iamError('NoSuchEntity', 404));

    await expect(sessions.removeDeny({ roleArn: ROLE, policyName: 'p' })).resolves.toBeUndefined();
  });

  it.each([
    ['AccessDenied', 403, false],
    ['Throttling', 400, true],
  ])('reports %s from DeleteRolePolicy with retryable %p', async (code, status, retryable) => {
    iamMock.on(DeleteRolePolicyCommand).rejects(iamError(code, status));

    await expect(rejection(sessions.removeDeny({ roleArn: ROLE, policyName: 'p' }))).resolves.toMatchObject({
      code,
      retryable,
    });
  });
});

describe('against the fake STS and IAM', () => {
  const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' };
  let fake: FakeStsIam;
  let realSts: STSClient;
  let realIam: IAMClient;
  let live: RoleSessions;

  beforeEach(async () => {
    fake = await startFakeStsIam({
      roles: [{ arn: ROLE }, { arn: PATH_ROLE, maxSessionDuration: 7200 }],
      now: () => clock.now(),
    });
    realSts = new STSClient({ region: 'eu-west-1', endpoint: fake.stsUrl, credentials, maxAttempts: 1 });
    realIam = new IAMClient({ region: 'us-east-1', endpoint: fake.iamUrl, credentials, maxAttempts: 1 });
    live = createStsRoleSessions({ stsFor: () => realSts, iam: realIam, clock });
  });

  afterEach(async () => {
    realSts.destroy();
    realIam.destroy();
    await fake.close();
  });

  it('starts a session STS accepts, cuts exactly it off, and removes the cut once it has expired', async () => {
    const a = await live.start({ ...startInput, durationSeconds: 300 });
    const b = await live.start({ ...startInput, grantId: 'grt_other' });
    const policyName = denyPolicyNameFor('grt_abc');

    await live.denySession({ roleArn: ROLE, policyName, session: a.session });
    await live.denySession({ roleArn: ROLE, policyName, session: a.session });
    const whileDenied = [
      fake.sessionDenied(a.session.assumedRoleId),
      fake.sessionDenied(b.session.assumedRoleId),
    ];
    await live.removeDeny({ roleArn: ROLE, policyName });
    await live.removeDeny({ roleArn: ROLE, policyName });

    expect(a.session).toEqual({
      sessionName: 'grt_abc',
      assumedRoleId: `${fake.role(ROLE).roleId}:grt_abc`,
      expiresAt: new Date('2026-11-25T12:15:00.000Z'),
    });
    expect(a.credentials.secretAccessKey).toBe(fake.sessions[0]?.secretAccessKey);
    expect(whileDenied).toEqual([true, false]);
    expect(fake.rolePolicies(ROLE)).toEqual({});
  });

  it('passes a requester identity with characters STS refuses after sanitizing it', async () => {
    await live.start({ ...startInput, requesterId: 'U<1>', sourceIdentity: 'Zoë Ærø <z@example.com>' });

    expect(fake.sessions[0]).toMatchObject({
      sourceIdentity: 'Zo___r___z@example.com_',
      tags: { 'hallpass:grant-id': 'grt_abc', 'hallpass:requester': 'U_1_' },
    });
  });

  it('reads the ceiling of a role with a path', async () => {
    await expect(live.maxSessionSeconds(PATH_ROLE)).resolves.toBe(7200);
  });

  it('reports a duration over the role’s ceiling as a non-retryable ValidationError', async () => {
    const error = await rejection(live.start({ ...startInput, durationSeconds: 3601 }));

    expect(error).toMatchObject({ code: 'ValidationError', retryable: false });
    expect(error.message).toContain('MaxSessionDuration');
  });

  it('reports a role STS will not let us assume as a non-retryable AccessDenied', async () => {
    const error = await rejection(
      live.start({ ...startInput, roleArn: 'arn:aws:iam::123456789012:role/Other' }),
    );

    expect(error).toMatchObject({ code: 'AccessDenied', retryable: false });
    expect(error.message).toContain('sts:AssumeRole on resource: arn:aws:iam::123456789012:role/Other');
  });
});
