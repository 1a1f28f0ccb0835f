import { InfraError, type InfraErrorKind, type InfraErrorSubject } from '../../app/infra-error';

/** AWS error codes that mean "slow down": the same call succeeds later. */
const THROTTLING_CODES: ReadonlySet<string> = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'SlowDown',
  'EC2ThrottledException',
  'BandwidthLimitExceeded',
  'PriorRequestNotComplete',
]);

/** Server-side failures: AWS had a problem, not the request. */
const SERVER_CODES: ReadonlySet<string> = new Set([
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'Unavailable',
]);

/** Timeouts and socket failures raised by the SDK's HTTP handler (Node error codes or SDK names). */
const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ECONNRESET',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
]);

/** How an AWS error code is filed: its kind, and what it is about where the code tells. */
type Classification = { readonly kind: InfraErrorKind; readonly subject?: InfraErrorSubject };

/**
 * AWS error codes with a kind of their own (throttling, server and network codes are in the sets above;
 * EC2's many `<Thing>.NotFound` and `<Thing>.Malformed` codes are matched by their suffix). The subject
 * follows the service that answers the code: EC2 and Scheduler about the resource, STS and IAM about the role.
 */
const CLASSIFIED: ReadonlyMap<string, Classification> = new Map<string, Classification>([
  ['UnauthorizedOperation', { kind: 'denied', subject: 'resource' }],
  // The SDK's credential chain found nothing: no call was made.
  ['CredentialsProviderError', { kind: 'denied', subject: 'credentials' }],
  ['AccessDeniedException', { kind: 'denied', subject: 'resource' }],
  // STS (AssumeRole, also for a cross-account EC2 client's credentials) and IAM.
  ['AccessDenied', { kind: 'denied', subject: 'role' }],
  ['RegionDisabledException', { kind: 'denied', subject: 'region' }],
  ['NoSuchEntity', { kind: 'not-found', subject: 'role' }],
  ['NoSuchEntityException', { kind: 'not-found', subject: 'role' }],
  ['ResourceNotFoundException', { kind: 'not-found', subject: 'resource' }],
  ['RulesPerSecurityGroupLimitExceeded', { kind: 'limit-exceeded', subject: 'resource' }],
  ['SecurityGroupLimitExceeded', { kind: 'limit-exceeded', subject: 'resource' }],
  ['NetworkAclEntryLimitExceeded', { kind: 'limit-exceeded', subject: 'resource' }],
  ['ServiceQuotaExceededException', { kind: 'limit-exceeded', subject: 'resource' }],
  ['LimitExceeded', { kind: 'limit-exceeded', subject: 'role' }],
  ['LimitExceededException', { kind: 'limit-exceeded', subject: 'role' }],
  ['ValidationError', { kind: 'invalid', subject: 'role' }],
  ['MalformedPolicyDocument', { kind: 'invalid', subject: 'role' }],
  ['MalformedPolicyDocumentException', { kind: 'invalid', subject: 'role' }],
  ['ValidationException', { kind: 'invalid', subject: 'resource' }],
  ['InvalidParameterValue', { kind: 'invalid', subject: 'resource' }],
  ['InvalidParameterCombination', { kind: 'invalid', subject: 'resource' }],
  ['MissingParameter', { kind: 'invalid', subject: 'resource' }],
]);

/** Longest AWS message carried into an InfraError (UnauthorizedOperation carries a long encoded blob). */
const MAX_MESSAGE_LENGTH = 400;

const readString = (value: unknown, key: string): string | undefined => {
  if (typeof value !== 'object' || value === null) return undefined;
  const field: unknown = Reflect.get(value, key);
  return typeof field === 'string' && field.length > 0 ? field : undefined;
};

/**
 * The AWS error code of an SDK error (`InvalidPermission.Duplicate`, `RequestLimitExceeded`, …), or
 * the Node error code of a socket failure (`ECONNRESET`). `undefined` when the value carries none.
 */
export function awsErrorCode(error: unknown): string | undefined {
  const code = readString(error, 'Code') ?? readString(error, 'code');
  if (code !== undefined) return code;
  const name = readString(error, 'name');
  // A plain Error's name says nothing about what failed.
  return name === undefined || name === 'Error' ? undefined : name;
}

/** The HTTP status AWS answered with, when the error came from a response. */
export function awsHttpStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const metadata: unknown = Reflect.get(error, '$metadata');
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  const status: unknown = Reflect.get(metadata, 'httpStatusCode');
  return typeof status === 'number' ? status : undefined;
}

/** True when the error carries one of `codes`. */
export function hasAwsErrorCode(error: unknown, ...codes: readonly string[]): boolean {
  const code = awsErrorCode(error);
  return code !== undefined && codes.includes(code);
}

/** Throttling: AWS asks us to slow down. */
export function isThrottlingError(error: unknown): boolean {
  const code = awsErrorCode(error);
  return (code !== undefined && THROTTLING_CODES.has(code)) || awsHttpStatus(error) === 429;
}

/**
 * Whether the same call may succeed if tried again: throttling, AWS server errors (5xx), timeouts and
 * network failures. Client errors (4xx: bad input, AccessDenied, UnauthorizedOperation, NotFound) are not.
 */
export function isRetryableAwsError(error: unknown): boolean {
  if (error instanceof InfraError) return error.retryable;
  if (isThrottlingError(error)) return true;
  const code = awsErrorCode(error);
  if (code !== undefined && (SERVER_CODES.has(code) || TRANSIENT_NETWORK_CODES.has(code))) return true;
  const status = awsHttpStatus(error);
  return status !== undefined && status >= 500;
}

/**
 * The kind of failure an AWS error is, and what it is about where its code tells: throttling first
 * (codes and HTTP 429), then the codes filed in {@link CLASSIFIED}, then `unavailable` for anything
 * else worth retrying (5xx, timeouts, network failures) and `unknown` for the rest.
 */
export function classifyAwsError(error: unknown): Classification {
  if (isThrottlingError(error)) return { kind: 'throttled' };
  const code = awsErrorCode(error);
  const known = code === undefined ? undefined : CLASSIFIED.get(code);
  if (known !== undefined) return known;
  if (code?.endsWith('.NotFound')) return { kind: 'not-found', subject: 'resource' };
  if (code?.endsWith('.Malformed')) return { kind: 'invalid', subject: 'resource' };
  return { kind: isRetryableAwsError(error) ? 'unavailable' : 'unknown' };
}

/**
 * Removes anything credential-shaped from a message before it can reach a log or a channel: access key
 * ids, SigV4 fragments, and long base64 runs (secret keys and session tokens are such runs).
 */
export function redactSecrets(text: string): string {
  const redacted = text
    .replace(/\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, '[redacted-key-id]')
    .replace(
      /(Credential|Signature|X-Amz-Security-Token|X-Amz-Credential|X-Amz-Signature)=[^\s,&]+/gi,
      '$1=[redacted]',
    )
    .replace(
      /(aws_secret_access_key|secretAccessKey|sessionToken|aws_session_token)(["']?\s*[:=]\s*["']?)[^\s"',]+/gi,
      '$1$2[redacted]',
    )
    .replace(/[A-Za-z0-9/+=]{40,}/g, '[redacted]');
  return redacted.length > MAX_MESSAGE_LENGTH ? `${redacted.slice(0, MAX_MESSAGE_LENGTH)}…` : redacted;
}

/**
 * Turns anything an AWS call threw into an `InfraError` naming the operation. Its kind and subject
 * follow {@link classifyAwsError}; `retryable` follows {@link isRetryableAwsError}; the provider code
 * is the AWS error code (or `Unknown`), for logs; the message is the AWS message with credentials
 * redacted; the original error is kept as `cause` for diagnosis. An `InfraError` passes through unchanged.
 */
export function toInfraError(error: unknown, operation: string): InfraError {
  if (error instanceof InfraError) return error;
  const code = awsErrorCode(error) ?? 'Unknown';
  const status = awsHttpStatus(error);
  const detail = readString(error, 'message') ?? (typeof error === 'string' ? error : undefined);
  const parts = [`${operation} failed: ${code}`];
  if (status !== undefined) parts.push(` (HTTP ${status})`);
  if (detail !== undefined && detail !== code) parts.push(`: ${detail}`);
  const { kind, subject } = classifyAwsError(error);
  return new InfraError(kind, isRetryableAwsError(error), redactSecrets(parts.join('')), {
    providerCode: code,
    subject,
    cause: error,
  });
}
