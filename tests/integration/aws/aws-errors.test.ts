import {
  awsErrorCode,
  awsHttpStatus,
  hasAwsErrorCode,
  isRetryableAwsError,
  redactSecrets,
  toInfraError,
} from '../../../src/adapters/aws/aws-errors';
import { InfraError } from '../../../src/app/infra-error';
import { awsServiceError as awsError } from '../../support/aws-service-error';

const nodeError = (code: string): Error =>
  Object.assign(new Error(`connect ${code} 127.0.0.1:443`), { code });

describe('awsErrorCode', () => {
  it('reads the AWS error code of an SDK error', () => {
    expect(awsErrorCode(awsError('InvalidPermission.Duplicate', 400))).toBe('InvalidPermission.Duplicate');
  });

  it('reads the Node code of a socket error', () => {
    expect(awsErrorCode(nodeError('ECONNRESET'))).toBe('ECONNRESET');
  });

  it('reads the name of an SDK timeout', () => {
    expect(awsErrorCode(Object.assign(new Error('timed out'), { name: 'TimeoutError' }))).toBe(
      'TimeoutError',
    );
  });

  it.each([[new Error('plain')], ['a string'], [undefined], [null], [42]])('finds no code in %p', (value) => {
    expect(awsErrorCode(value)).toBeUndefined();
  });

  it('reads the HTTP status of an SDK error', () => {
    expect(awsHttpStatus(awsError('RequestLimitExceeded', 503))).toBe(503);
    expect(awsHttpStatus(new Error('x'))).toBeUndefined();
  });

  it('matches one of several codes', () => {
    const error = awsError('InvalidGroup.NotFound', 400);
    expect(hasAwsErrorCode(error, 'InvalidPermission.NotFound', 'InvalidGroup.NotFound')).toBe(true);
    expect(hasAwsErrorCode(error, 'InvalidPermission.NotFound')).toBe(false);
  });
});

describe('isRetryableAwsError', () => {
  it.each([
    ['RequestLimitExceeded', 503],
    ['Throttling', 400],
    ['ThrottlingException', 400],
    ['RequestThrottled', 400],
    ['TooManyRequestsException', 429],
    ['InternalError', 500],
    ['InternalFailure', 500],
    ['ServiceUnavailable', 503],
    ['Unavailable', 503],
    ['SomethingNew', 502],
  ])('retries %s (HTTP %i)', (code, status) => {
    expect(isRetryableAwsError(awsError(code, status))).toBe(true);
  });

  it.each(['ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'EPIPE', 'EAI_AGAIN'])(
    'retries the socket error %s',
    (code) => {
      expect(isRetryableAwsError(nodeError(code))).toBe(true);
    },
  );

  it('retries an SDK timeout', () => {
    expect(isRetryableAwsError(Object.assign(new Error('timed out'), { name: 'TimeoutError' }))).toBe(true);
  });

  it.each([
    ['UnauthorizedOperation', 403],
    ['AccessDenied', 403],
    ['AuthFailure', 401],
    ['InvalidPermission.Duplicate', 400],
    ['InvalidParameterValue', 400],
    ['RulesPerSecurityGroupLimitExceeded', 400],
  ])('does not retry %s (HTTP %i)', (code, status) => {
    expect(isRetryableAwsError(awsError(code, status))).toBe(false);
  });

  it('does not retry an error it knows nothing about', () => {
    expect(isRetryableAwsError(new Error('boom'))).toBe(false);
  });
});

describe('toInfraError', () => {
  it('keeps the code, classifies it, decides retryable, names the operation and keeps the cause', () => {
    const cause = awsError('RequestLimitExceeded', 503, 'Request limit exceeded.');

    const error = toInfraError(cause, 'AuthorizeSecurityGroupIngress');

    expect(error).toBeInstanceOf(InfraError);
    expect(error.providerCode).toBe('RequestLimitExceeded');
    expect(error.kind).toBe('throttled');
    expect(error.retryable).toBe(true);
    expect(error.message).toBe(
      'AuthorizeSecurityGroupIngress failed: RequestLimitExceeded (HTTP 503): Request limit exceeded.',
    );
    expect(error.cause).toBe(cause);
  });

  it('uses Unknown for a value without a code', () => {
    const error = toInfraError('weird', 'CreateTags');

    expect(error.providerCode).toBe('Unknown');
    expect(error.retryable).toBe(false);
    expect(error.message).toBe('CreateTags failed: Unknown: weird');
  });

  it('passes an InfraError through unchanged', () => {
    const original = new InfraError('unknown', true, 'x', { providerCode: 'X' });

    expect(toInfraError(original, 'CreateTags')).toBe(original);
  });

  it('never carries credentials in its message', () => {
    const leaky = awsError(
      'AuthFailure',
      401,
      'bad key AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY ' +
        'Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/ec2/aws4_request, Signature=abcdef0123 ' +
        'sessionToken: FwoGZXIvYXdzEJr',
    );

    const { message } = toInfraError(leaky, 'AuthorizeSecurityGroupIngress');

    expect(message).not.toContain('AKIAIOSFODNN7EXAMPLE');
    expect(message).not.toContain('wJalrXUtnFEMI');
    expect(message).not.toContain('abcdef0123');
    expect(message).not.toContain('FwoGZXIvYXdzEJr');
    expect(message).toContain('AuthFailure');
  });

  it('cuts a very long AWS message', () => {
    expect(redactSecrets('word '.repeat(200)).length).toBeLessThanOrEqual(401);
  });
});
