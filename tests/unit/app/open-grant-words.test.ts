import { toInfraError } from '../../../src/adapters/aws/aws-errors';
import { InfraError, reasonInWords } from '../../../src/app/infra-error';
import { plainWords } from '../../../src/app/open-grant';
import { RevocationRoomError, RevocationRoomUnknownError } from '../../../src/app/role-revocation';
import { awsServiceError } from '../../support/aws-service-error';

const NO_GROUP = 'the security group does not exist in AWS (check securityGroupId and region in the policy)';
const NO_PERMISSION =
  'hallpass is not allowed to change this security group (its AWS permissions are missing)';
const ROLE_DENIED =
  'AWS denied access (hallpass may not assume this role or change this resource: check its IAM permissions and the role trust policy)';
const RULES_FULL = 'the security group has reached its AWS limit of rules';
const NO_STS = 'STS is not enabled in this region for the account';
const THROTTLED =
  'AWS kept throttling hallpass and the request could not be completed; please try again in a few minutes';
const invalidSession = (error: unknown) =>
  `AWS refused the session request as invalid (${reasonInWords(error)})`;
const refused = (error: unknown) => `AWS refused to open the rule (${reasonInWords(error)})`;

describe('the words for a failed open follow the kind, not the provider code', () => {
  it.each<[string, InfraError, string]>([
    ['not-found', new InfraError('not-found', false, 'x'), NO_GROUP],
    ['denied, the resource', new InfraError('denied', false, 'x', { subject: 'resource' }), NO_PERMISSION],
    ['denied, the role', new InfraError('denied', false, 'x', { subject: 'role' }), ROLE_DENIED],
    ['denied, the region', new InfraError('denied', false, 'x', { subject: 'region' }), NO_STS],
    ['limit-exceeded', new InfraError('limit-exceeded', false, 'x'), RULES_FULL],
    ['throttled', new InfraError('throttled', true, 'x'), THROTTLED],
  ])('%s', (_kind, error, words) => {
    expect(plainWords(error)).toBe(words);
  });

  it('tells an invalid request STS or IAM refused as such, and one refused elsewhere as it is', () => {
    const session = new InfraError('invalid', false, 'AssumeRole failed: ValidationError', {
      subject: 'role',
    });
    const rule = new InfraError('invalid', false, 'Authorize failed: InvalidParameterValue', {
      subject: 'resource',
    });

    expect(plainWords(session)).toBe('AWS refused the session request as invalid (AssumeRole failed)');
    expect(plainWords(rule)).toBe('AWS refused to open the rule (Authorize failed: InvalidParameterValue)');
  });

  it('says no credentials in words, without the SDK’s class name', () => {
    const error = toInfraError(
      Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      }),
      'AuthorizeSecurityGroupIngress',
    );

    expect(plainWords(error)).toMatch(
      /^hallpass has no AWS credentials \(set AWS_PROFILE, or AWS_ACCESS_KEY_ID/,
    );
    expect(reasonInWords(error)).toBe(
      'AuthorizeSecurityGroupIngress failed: Could not load credentials from any providers',
    );
  });

  it('never reads the provider code', () => {
    const error = new InfraError('unknown', false, 'odd', { providerCode: 'InvalidGroup.NotFound' });

    expect(plainWords(error)).toBe('AWS refused to open the rule (odd)');
  });

  it.each<[string, unknown, string]>([
    ['unavailable', new InfraError('unavailable', true, 'down'), 'down'],
    ['unknown', new InfraError('unknown', false, 'odd'), 'odd'],
    ['a plain Error', new Error('boom'), 'boom'],
    ['a string', 'gone', 'gone'],
  ])('falls back to the failure itself for %s', (_what, error, detail) => {
    expect(plainWords(error)).toBe(`AWS refused to open the rule (${detail})`);
  });

  it('says what to do when the role has no room to revoke another session', () => {
    const error = new RevocationRoomError({
      roleArn: 'arn:aws:iam::123456789012:role/R',
      liveSessions: 1,
      nextExpiry: undefined,
      limit: 10_240,
      usedByOthers: 10_000,
      needed: 300,
    });

    expect(plainWords(error)).toContain(
      'no session was issued, because hallpass could not have cut it short',
    );
  });

  it('says why no session was issued when the role could not be read, whatever the cause’s kind', () => {
    const cause = new InfraError('denied', false, 'ListRolePolicies R failed: AccessDenied', {
      subject: 'role',
      providerCode: 'AccessDenied',
    });

    const words = plainWords(new RevocationRoomUnknownError('arn:aws:iam::123456789012:role/R', cause));

    expect(words).toBe(
      'no session was issued, because hallpass could not check that it could cut the session short if needed ' +
        '(could not read the inline policies of arn:aws:iam::123456789012:role/R: ListRolePolicies R ' +
        'failed). It needs iam:GetRole, iam:ListRolePolicies and iam:GetRolePolicy on the role; ' +
        'please try again or ask an admin',
    );
  });
});

describe('the words for each AWS code plainWords once switched on', () => {
  it.each<[string, number, (error: InfraError) => string]>([
    ['InvalidGroup.NotFound', 400, () => NO_GROUP],
    ['UnauthorizedOperation', 403, () => NO_PERMISSION],
    ['AccessDeniedException', 403, () => NO_PERMISSION],
    ['AccessDenied', 403, () => ROLE_DENIED],
    ['RulesPerSecurityGroupLimitExceeded', 400, () => RULES_FULL],
    ['MalformedPolicyDocument', 400, (e) => invalidSession(e)],
    ['ValidationError', 400, (e) => invalidSession(e)],
    ['RegionDisabledException', 403, () => NO_STS],
    ['Throttling', 400, () => THROTTLED],
    ['ThrottlingException', 400, () => THROTTLED],
    ['RequestLimitExceeded', 503, () => THROTTLED],
    ['InvalidParameterValue', 400, (e) => refused(e)],
    ['InternalError', 500, (e) => refused(e)],
  ])('%s (HTTP %i) gives the same words as before', (code, status, words) => {
    const error = toInfraError(awsServiceError(code, status), 'Operation');

    expect(plainWords(error)).toBe(words(error));
    // The provider's code and error class names are for the logs: never in the words people read.
    expect(plainWords(error)).not.toContain(code);
    expect(plainWords(error)).not.toMatch(/\w+(?:Error|Exception)\b/);
  });
});
