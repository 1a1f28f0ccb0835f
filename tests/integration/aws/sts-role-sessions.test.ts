import {
  DeleteRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  IAMServiceException,
  ListRolePoliciesCommand,
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
  INLINE_POLICY_BUDGET,
  policyBudgetChars,
  revokedSessionsPolicyDocument,
  roleNameOf,
  sessionNameFor,
  sessionTagValue,
  sourceIdentityFor,
} from '../../../src/adapters/aws/sts-role-sessions';
import { InfraError } from '../../../src/app/infra-error';
import type { RoleSessions } from '../../../src/app/ports';
import { REVOKED_SESSIONS_POLICY } from '../../../src/app/role-revocation';
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

const USER_ID = 'AROA3XFRBF535PLBIFPI4:grt_abc';
/** The revoked-sessions document for these ids, exactly as the adapter writes it. */
const listDocument = (...ids: string[]) =>
  `{"Version":"2012-10-17","Statement":[{"Sid":"HallpassRevokedSessions","Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:userid":[${ids.map((id) => `"${id}"`).join(',')}]}}}]}`;

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
        expect.objectContaining({ providerCode: 'InvalidSessionName', retryable: false }),
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
      expect.objectContaining({ providerCode: 'InvalidSourceIdentity', retryable: false }),
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
      expect.objectContaining({ providerCode: 'InvalidRoleArn', retryable: false }),
    );
  });

  it('writes one deny statement listing exactly the revoked sessions’ aws:userid, sorted, once each', () => {
    expect(revokedSessionsPolicyDocument(['AROAX:grt_b', USER_ID, 'AROAX:grt_b'])).toBe(
      '{"Version":"2012-10-17","Statement":[{"Sid":"HallpassRevokedSessions","Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:userid":["AROA3XFRBF535PLBIFPI4:grt_abc","AROAX:grt_b"]}}}]}',
    );
  });

  it('names the managed policy hallpass-revoked-sessions', () => {
    expect(REVOKED_SESSIONS_POLICY).toBe('hallpass-revoked-sessions');
  });
});

describe('policyBudgetChars: what a document takes of the role’s 10,240 characters', () => {
  it.each([
    ['compact JSON, every character', '{"a":"b"}', 9],
    ['whitespace between tokens not counted', '{ "a" :\n\t"b" }', 9],
    ['whitespace inside a string counted (IAM does not say it is free)', '{"a":"b c"}', 11],
    ['an escaped quote does not end the string', '{"a":"b\\" c"}', 13],
    ['a non-ASCII character counted by its UTF-8 bytes', '{"a":"é"}', 10],
    ['the empty document', '', 0],
  ])('%s', (_name, document, expected) => {
    expect(policyBudgetChars(document)).toBe(expected);
  });

  it('counts hallpass’s own document at exactly its length: 160 characters plus 45 per 20-character grant id', () => {
    const ids = (n: number) =>
      Array.from({ length: n }, (_, i) => `AROA3XFRBF535PLBIFPI4:grt_${String(i).padStart(16, 'a')}`);
    expect(policyBudgetChars(revokedSessionsPolicyDocument(ids(1)))).toBe(205);
    expect(policyBudgetChars(revokedSessionsPolicyDocument(ids(224)))).toBe(INLINE_POLICY_BUDGET);
    expect(policyBudgetChars(revokedSessionsPolicyDocument(ids(225)))).toBeGreaterThan(INLINE_POLICY_BUDGET);
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

    expect(failed).toMatchObject({ providerCode: 'ServiceFailure', retryable: true });
    await expect(sessions.maxSessionSeconds(ROLE)).resolves.toBe(5400);
  });

  it('reports an unknown role as NoSuchEntity, not retryable, naming the role', async () => {
    iamMock.on(GetRoleCommand).rejects(iamError('NoSuchEntity', 404));

    const error = await rejection(sessions.maxSessionSeconds(ROLE));

    expect(error).toMatchObject({ providerCode: 'NoSuchEntity', retryable: false });
    expect(error.message).toContain('GetRole ProdReadOnly failed: NoSuchEntity (HTTP 404)');
  });

  it('refuses a malformed ARN without calling IAM', async () => {
    const error = await rejection(sessions.maxSessionSeconds('arn:aws:iam::123456789012:user/alice'));

    expect(error).toMatchObject({ providerCode: 'InvalidRoleArn', retryable: false });
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
    ['AccessDenied', 403, 'denied', 'role'],
    ['ValidationError', 400, 'invalid', 'role'],
    ['RegionDisabledException', 403, 'denied', 'region'],
    ['MalformedPolicyDocument', 400, 'invalid', 'role'],
  ])('reports %s as a non-retryable %s failure naming the role', async (code, status, kind, subject) => {
    stsMock.on(AssumeRoleCommand).rejects(stsError(code, status));

    const error = await rejection(sessions.start(startInput));

    expect(error).toMatchObject({ providerCode: code, kind, subject, retryable: false });
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

    await expect(rejection(sessions.start(startInput))).resolves.toMatchObject({
      providerCode: code,
      retryable: true,
    });
  });

  it('refuses a malformed role ARN without calling STS', async () => {
    const error = await rejection(
      sessions.start({ ...startInput, roleArn: 'arn:aws:iam::123456789012:group/G' }),
    );

    expect(error).toMatchObject({ providerCode: 'InvalidRoleArn', retryable: false });
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

    expect(error).toMatchObject({ providerCode: 'IncompleteAssumeRoleResponse', retryable: true });
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

    expect(error).toMatchObject({ providerCode: 'DeserializationError' });
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

    expect(error.providerCode).toBe('AccessDenied');
    for (const secret of [SECRET, TOKEN, KEY_ID]) expect(error.message).not.toContain(secret);
  });
});

describe('sessionUserId', () => {
  it('is the role’s id from GetRole and the session name of the grant', async () => {
    iamMock.on(GetRoleCommand).resolves({
      Role: {
        RoleName: 'ProdAdmin',
        Path: '/team/db/',
        RoleId: 'AROA3XFRBF535PLBIFPI4',
        Arn: PATH_ROLE,
        CreateDate: new Date(),
      },
    });

    await expect(sessions.sessionUserId({ roleArn: PATH_ROLE, grantId: 'grt_a/b' })).resolves.toBe(
      'AROA3XFRBF535PLBIFPI4:grt_ab',
    );
    expect(iamMock.commandCalls(GetRoleCommand).map((c) => c.args[0].input)).toEqual([
      { RoleName: 'ProdAdmin' },
    ]);
  });

  it('shares one GetRole with maxSessionSeconds within five minutes', async () => {
    iamMock.on(GetRoleCommand).resolves({
      Role: { RoleName: 'R', Path: '/', RoleId: 'AROAR', Arn: ROLE, CreateDate: new Date() },
    });

    await sessions.maxSessionSeconds(ROLE);
    await sessions.sessionUserId({ roleArn: ROLE, grantId: 'grt_1' });
    clock.advance(5 * 60_000);
    await sessions.sessionUserId({ roleArn: ROLE, grantId: 'grt_2' });

    expect(iamMock.commandCalls(GetRoleCommand)).toHaveLength(2);
  });

  it('reports a role without a RoleId as an incomplete answer', async () => {
    iamMock
      .on(GetRoleCommand)
      .resolves({ Role: { RoleName: 'R', Path: '/', RoleId: '', Arn: ROLE, CreateDate: new Date() } });

    await expect(
      rejection(sessions.sessionUserId({ roleArn: ROLE, grantId: 'grt_1' })),
    ).resolves.toMatchObject({ providerCode: 'IncompleteGetRoleResponse', retryable: true });
  });
});

describe('revocationRoom', () => {
  const other =
    '{ "Version": "2012-10-17",\n  "Statement": [ { "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" } ] }';

  it('reads every other inline policy, all pages, URL-decoded, and measures the list it would write', async () => {
    iamMock
      .on(ListRolePoliciesCommand)
      .resolvesOnce({ PolicyNames: ['a', REVOKED_SESSIONS_POLICY], IsTruncated: true, Marker: 'm1' })
      .resolvesOnce({ PolicyNames: ['b'], IsTruncated: false });
    iamMock.on(GetRolePolicyCommand).callsFake((input: { PolicyName: string }) => ({
      RoleName: 'ProdAdmin',
      PolicyName: input.PolicyName,
      PolicyDocument: encodeURIComponent(other),
    }));

    const room = await sessions.revocationRoom({ roleArn: PATH_ROLE, assumedRoleIds: [USER_ID, 'AROAX:y'] });

    expect(iamMock.commandCalls(ListRolePoliciesCommand).map((c) => c.args[0].input)).toEqual([
      { RoleName: 'ProdAdmin' },
      { RoleName: 'ProdAdmin', Marker: 'm1' },
    ]);
    // Its own list is not "other": it is rewritten whole.
    expect(iamMock.commandCalls(GetRolePolicyCommand).map((c) => c.args[0].input)).toEqual([
      { RoleName: 'ProdAdmin', PolicyName: 'a' },
      { RoleName: 'ProdAdmin', PolicyName: 'b' },
    ]);
    const otherChars = other.replace(/\s/g, '').length;
    expect(room).toEqual({
      limit: 10_240,
      usedByOthers: 2 * otherChars,
      needed: listDocument(USER_ID, 'AROAX:y').length,
    });
  });

  it('needs nothing for an empty list, and counts a policy deleted meanwhile as gone', async () => {
    iamMock.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['gone'], IsTruncated: false });
    iamMock.on(GetRolePolicyCommand).rejects(iamError('NoSuchEntity', 404));

    await expect(sessions.revocationRoom({ roleArn: ROLE, assumedRoleIds: [] })).resolves.toEqual({
      limit: 10_240,
      usedByOthers: 0,
      needed: 0,
    });
  });

  it.each([
    ['ListRolePolicies', 'ListRolePolicies ProdReadOnly failed: AccessDenied'],
    ['GetRolePolicy', 'GetRolePolicy ProdReadOnly/a failed: AccessDenied'],
  ])('reports a refused %s naming the call', async (refused, message) => {
    iamMock.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['a'], IsTruncated: false });
    iamMock.on(GetRolePolicyCommand).resolves({ RoleName: 'R', PolicyName: 'a', PolicyDocument: '%7B%7D' });
    if (refused === 'ListRolePolicies')
      iamMock.on(ListRolePoliciesCommand).rejects(iamError('AccessDenied', 403));
    else iamMock.on(GetRolePolicyCommand).rejects(iamError('AccessDenied', 403));

    const error = await rejection(sessions.revocationRoom({ roleArn: ROLE, assumedRoleIds: [USER_ID] }));

    expect(error).toMatchObject({ providerCode: 'AccessDenied', retryable: false });
    expect(error.message).toContain(message);
  });
});

describe('writeRevokedSessions and removeDeny', () => {
  it('puts the role’s one list policy, by role name, with every session given', async () => {
    iamMock.on(PutRolePolicyCommand).resolves({});

    await sessions.writeRevokedSessions({ roleArn: PATH_ROLE, assumedRoleIds: ['AROAX:z', USER_ID] });

    expect(iamMock.commandCalls(PutRolePolicyCommand).map((c) => c.args[0].input)).toEqual([
      {
        RoleName: 'ProdAdmin',
        PolicyName: 'hallpass-revoked-sessions',
        PolicyDocument: listDocument(USER_ID, 'AROAX:z'),
      },
    ]);
  });

  it('deletes the list policy when no session is left, and takes a policy already gone as done', async () => {
    iamMock.on(DeleteRolePolicyCommand).resolvesOnce({}).rejects(iamError('NoSuchEntity', 404));

    await sessions.writeRevokedSessions({ roleArn: ROLE, assumedRoleIds: [] });
    await sessions.writeRevokedSessions({ roleArn: ROLE, assumedRoleIds: [] });

    expect(iamMock.commandCalls(DeleteRolePolicyCommand).map((c) => c.args[0].input)).toEqual([
      { RoleName: 'ProdReadOnly', PolicyName: 'hallpass-revoked-sessions' },
      { RoleName: 'ProdReadOnly', PolicyName: 'hallpass-revoked-sessions' },
    ]);
    expect(iamMock.commandCalls(PutRolePolicyCommand)).toHaveLength(0);
  });

  it.each([
    ['LimitExceeded', 409],
    ['LimitExceededException', 409],
  ])('reports %s as a non-retryable LimitExceeded that says what is full', async (code, status) => {
    iamMock.on(PutRolePolicyCommand).rejects(iamError(code, status));

    const error = await rejection(
      sessions.writeRevokedSessions({ roleArn: ROLE, assumedRoleIds: [USER_ID] }),
    );

    expect(error).toMatchObject({ providerCode: 'LimitExceeded', retryable: false });
    expect(error.message).toContain(
      'PutRolePolicy ProdReadOnly/hallpass-revoked-sessions failed: LimitExceeded',
    );
    expect(error.message).toContain(
      "the role's inline policies would pass IAM's 10,240 characters with this list of 1 revoked session (192 characters)",
    );
  });

  it.each([
    ['AccessDenied', 403, false],
    ['NoSuchEntity', 404, false],
    ['Throttling', 400, true],
    ['ServiceFailure', 500, true],
  ])('reports %s from PutRolePolicy with retryable %p', async (code, status, retryable) => {
    iamMock.on(PutRolePolicyCommand).rejects(iamError(code, status));

    const error = await rejection(
      sessions.writeRevokedSessions({ roleArn: ROLE, assumedRoleIds: [USER_ID] }),
    );

    expect(error).toMatchObject({ providerCode: code, retryable });
    expect(error.message).toContain('PutRolePolicy ProdReadOnly/hallpass-revoked-sessions failed');
  });

  it('reports a failing DeleteRolePolicy of an emptied list', async () => {
    iamMock.on(DeleteRolePolicyCommand).rejects(iamError('Throttling', 400));

    await expect(
      rejection(sessions.writeRevokedSessions({ roleArn: ROLE, assumedRoleIds: [] })),
    ).resolves.toMatchObject({ providerCode: 'Throttling', retryable: true });
  });

  it('deletes an old per-grant policy by role name and policy name', async () => {
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
      providerCode: code,
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

  it('starts a session STS accepts, cuts exactly the listed ones off, and deletes the list once empty', async () => {
    const a = await live.start({ ...startInput, durationSeconds: 300 });
    const b = await live.start({ ...startInput, grantId: 'grt_other' });
    const c = await live.start({ ...startInput, grantId: 'grt_third' });
    const denied = () => [a, b, c].map((s) => fake.sessionDenied(s.session.assumedRoleId));

    await live.writeRevokedSessions({ roleArn: ROLE, assumedRoleIds: [a.session.assumedRoleId] });
    await live.writeRevokedSessions({ roleArn: ROLE, assumedRoleIds: [a.session.assumedRoleId] });
    const oneListed = denied();
    await live.writeRevokedSessions({
      roleArn: ROLE,
      assumedRoleIds: [a.session.assumedRoleId, c.session.assumedRoleId],
    });
    const twoListed = denied();
    const policies = Object.keys(fake.rolePolicies(ROLE));
    await live.writeRevokedSessions({ roleArn: ROLE, assumedRoleIds: [] });
    await live.writeRevokedSessions({ roleArn: ROLE, assumedRoleIds: [] });

    expect(a.session).toEqual({
      sessionName: 'grt_abc',
      assumedRoleId: `${fake.role(ROLE).roleId}:grt_abc`,
      expiresAt: new Date('2026-11-25T12:15:00.000Z'),
    });
    await expect(live.sessionUserId({ roleArn: ROLE, grantId: 'grt_abc' })).resolves.toBe(
      a.session.assumedRoleId,
    );
    expect(a.credentials.secretAccessKey).toBe(fake.sessions[0]?.secretAccessKey);
    expect([oneListed, twoListed]).toEqual([
      [true, false, false],
      [true, false, true],
    ]);
    expect(policies).toEqual(['hallpass-revoked-sessions']);
    expect(fake.rolePolicies(ROLE)).toEqual({});
    expect(denied()).toEqual([false, false, false]);
  });

  it('measures the budget as IAM enforces it: what revocationRoom says fits, IAM accepts, one more it refuses', async () => {
    // Another inline policy, written by someone else, with whitespace IAM does not count.
    const other = JSON.stringify(
      { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] },
      null,
      2,
    );
    fake.putRolePolicy(ROLE, 'ReadBuckets', other);
    const roleId = fake.role(ROLE).roleId;
    const ids = (n: number) =>
      Array.from({ length: n }, (_, i) => `${roleId}:grt_${String(i).padStart(16, 'a')}`);

    const room = await live.revocationRoom({ roleArn: ROLE, assumedRoleIds: ids(1) });
    const otherChars = other.replace(/\s/g, '').length;
    // 160 characters of frame plus 45 per session (a 21-character role id, ':', a 20-character grant id, quotes, comma).
    const fits = Math.floor((INLINE_POLICY_BUDGET - otherChars - 160) / 45);
    const atFit = await live.revocationRoom({ roleArn: ROLE, assumedRoleIds: ids(fits) });
    const overFit = await live.revocationRoom({ roleArn: ROLE, assumedRoleIds: ids(fits + 1) });
    await live.writeRevokedSessions({ roleArn: ROLE, assumedRoleIds: ids(fits) });
    const refused = await rejection(
      live.writeRevokedSessions({ roleArn: ROLE, assumedRoleIds: ids(fits + 1) }),
    );

    expect(room).toEqual({ limit: 10_240, usedByOthers: otherChars, needed: 205 });
    expect(otherChars).toBe(96);
    expect(fits).toBe(221);
    expect(atFit.usedByOthers + atFit.needed).toBeLessThanOrEqual(INLINE_POLICY_BUDGET);
    expect(overFit.usedByOthers + overFit.needed).toBeGreaterThan(INLINE_POLICY_BUDGET);
    expect(refused).toMatchObject({ providerCode: 'LimitExceeded', retryable: false });
    // The list IAM refused left the one it had accepted in place.
    expect(fake.rolePolicies(ROLE)['hallpass-revoked-sessions']).toEqual(
      JSON.parse(revokedSessionsPolicyDocument(ids(fits))),
    );
    expect(fake.sessionDenied(ids(fits)[fits - 1] ?? '')).toBe(true);
  });

  it('removes an old per-grant deny policy and leaves the list alone', async () => {
    const a = await live.start({ ...startInput, grantId: 'grt_old' });
    const b = await live.start({ ...startInput, grantId: 'grt_new' });
    fake.putRolePolicy(
      ROLE,
      'hallpass-deny-grt_old',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'HallpassRevokedSession',
            Effect: 'Deny',
            Action: '*',
            Resource: '*',
            Condition: { StringLike: { 'aws:userid': a.session.assumedRoleId } },
          },
        ],
      }),
    );
    await live.writeRevokedSessions({ roleArn: ROLE, assumedRoleIds: [b.session.assumedRoleId] });
    const before = [fake.sessionDenied(a.session.assumedRoleId), fake.sessionDenied(b.session.assumedRoleId)];

    await live.removeDeny({ roleArn: ROLE, policyName: 'hallpass-deny-grt_old' });

    expect(before).toEqual([true, true]);
    expect(Object.keys(fake.rolePolicies(ROLE))).toEqual(['hallpass-revoked-sessions']);
    expect(fake.sessionDenied(a.session.assumedRoleId)).toBe(false);
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

    expect(error).toMatchObject({ providerCode: 'ValidationError', retryable: false });
    expect(error.message).toContain('MaxSessionDuration');
  });

  it('reports a role STS will not let us assume as a non-retryable AccessDenied', async () => {
    const error = await rejection(
      live.start({ ...startInput, roleArn: 'arn:aws:iam::123456789012:role/Other' }),
    );

    expect(error).toMatchObject({ providerCode: 'AccessDenied', retryable: false });
    expect(error.message).toContain('sts:AssumeRole on resource: arn:aws:iam::123456789012:role/Other');
  });
});
