import { classifyAwsError, toInfraError } from '../../../src/adapters/aws/aws-errors';
import type { InfraErrorKind, InfraErrorSubject } from '../../../src/app/infra-error';
import { awsServiceError as awsError } from '../../support/aws-service-error';

const nodeError = (code: string): Error =>
  Object.assign(new Error(`connect ${code} 127.0.0.1:443`), { code });

describe('the AWS error classification', () => {
  it.each<[string, number, InfraErrorKind, InfraErrorSubject | undefined, boolean]>([
    // EC2
    ['InvalidGroup.NotFound', 400, 'not-found', 'resource', false],
    ['InvalidPermission.NotFound', 400, 'not-found', 'resource', false],
    ['InvalidSecurityGroupRuleId.NotFound', 400, 'not-found', 'resource', false],
    ['InvalidNetworkAclID.NotFound', 400, 'not-found', 'resource', false],
    ['InvalidGroupId.Malformed', 400, 'invalid', 'resource', false],
    ['InvalidParameterValue', 400, 'invalid', 'resource', false],
    ['InvalidParameterCombination', 400, 'invalid', 'resource', false],
    ['MissingParameter', 400, 'invalid', 'resource', false],
    ['UnauthorizedOperation', 403, 'denied', 'resource', false],
    ['RulesPerSecurityGroupLimitExceeded', 400, 'limit-exceeded', 'resource', false],
    ['SecurityGroupLimitExceeded', 400, 'limit-exceeded', 'resource', false],
    ['NetworkAclEntryLimitExceeded', 400, 'limit-exceeded', 'resource', false],
    ['RequestLimitExceeded', 503, 'throttled', undefined, true],
    // STS and IAM
    ['AccessDenied', 403, 'denied', 'role', false],
    ['RegionDisabledException', 403, 'denied', 'region', false],
    ['ValidationError', 400, 'invalid', 'role', false],
    ['MalformedPolicyDocument', 400, 'invalid', 'role', false],
    ['MalformedPolicyDocumentException', 400, 'invalid', 'role', false],
    ['NoSuchEntity', 404, 'not-found', 'role', false],
    ['NoSuchEntityException', 404, 'not-found', 'role', false],
    ['LimitExceeded', 409, 'limit-exceeded', 'role', false],
    ['LimitExceededException', 409, 'limit-exceeded', 'role', false],
    ['Throttling', 400, 'throttled', undefined, true],
    // Scheduler and other JSON-protocol services
    ['AccessDeniedException', 403, 'denied', 'resource', false],
    ['ResourceNotFoundException', 404, 'not-found', 'resource', false],
    ['ServiceQuotaExceededException', 402, 'limit-exceeded', 'resource', false],
    ['ValidationException', 400, 'invalid', 'resource', false],
    ['ThrottlingException', 400, 'throttled', undefined, true],
    ['TooManyRequestsException', 429, 'throttled', undefined, true],
    // Whatever service: throttled by status, server failures, and the rest
    ['SomethingNew', 429, 'throttled', undefined, true],
    ['InternalError', 500, 'unavailable', undefined, true],
    ['InternalFailure', 500, 'unavailable', undefined, true],
    ['ServiceUnavailable', 503, 'unavailable', undefined, true],
    ['SomethingNew', 502, 'unavailable', undefined, true],
    ['SomethingNew', 400, 'unknown', undefined, false],
    ['AuthFailure', 401, 'unknown', undefined, false],
  ])('files %s (HTTP %i) as %s about %s, retryable %s', (code, status, kind, subject, retryable) => {
    const error = toInfraError(awsError(code, status), 'Operation');

    expect({
      kind: error.kind,
      subject: error.subject,
      retryable: error.retryable,
      providerCode: error.providerCode,
    }).toEqual({ kind, subject, retryable, providerCode: code });
  });

  it.each(['ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'TimeoutError'])(
    'files the network failure %s as unavailable, retryable',
    (code) => {
      const error = toInfraError(nodeError(code), 'Operation');

      expect(error).toMatchObject({
        kind: 'unavailable',
        subject: undefined,
        retryable: true,
        providerCode: code,
      });
    },
  );

  it('files a value that says nothing as unknown, not retryable', () => {
    expect(classifyAwsError(new Error('boom'))).toEqual({ kind: 'unknown' });
    expect(toInfraError('weird', 'Operation')).toMatchObject({ kind: 'unknown', retryable: false });
  });

  it('keeps kind, subject and provider code when it drops the cause', () => {
    const error = toInfraError(awsError('AccessDenied', 403), 'AssumeRole');

    const bare = error.withoutCause();

    expect(bare.cause).toBeUndefined();
    expect(bare).toMatchObject({
      kind: 'denied',
      subject: 'role',
      retryable: false,
      providerCode: 'AccessDenied',
      message: error.message,
    });
  });
});
