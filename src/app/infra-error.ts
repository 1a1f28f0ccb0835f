/**
 * What kind of failure an `InfraError` is, classified by the adapter that met it. The app decides on
 * this (and on `retryable`), never on a provider's own error code.
 */
export type InfraErrorKind =
  /** The service asked us to slow down; the same call succeeds later. */
  | 'throttled'
  /** Refused for lack of permission, or by the account's settings (see `subject`). */
  | 'denied'
  /** What the call names does not exist (a security group, a rule, a message). */
  | 'not-found'
  /** A quota or size limit is full; asking again changes nothing until room is made. */
  | 'limit-exceeded'
  /** The request itself was refused as malformed or invalid; asking again cannot fix it. */
  | 'invalid'
  /** The service failed or could not be reached (5xx, timeout, network, lock held); may succeed later. */
  | 'unavailable'
  /** Anything else. */
  | 'unknown';

/**
 * What a failure is about, when the adapter can tell: `role` — assuming or reading an IAM role (STS or
 * IAM answered: hallpass's permissions or the role's trust policy); `resource` — the resource being
 * changed (EC2 or Scheduler answered); `region` — the service is not enabled in the region for the account;
 * `credentials` — hallpass has no credentials to call with at all.
 */
export type InfraErrorSubject = 'role' | 'resource' | 'region' | 'credentials';

/** An infrastructure failure (AWS, Slack, the database). Retry decisions read only `retryable`. */
export class InfraError extends Error {
  /** When the service said how long to wait (Slack's `Retry-After` on a 429), in milliseconds. */
  readonly retryAfterMs: number | undefined;
  /**
   * The code the provider gave the failure (`InvalidGroup.NotFound`, `channel_not_found`, `SQLITE_BUSY`),
   * or the adapter's own name for one it detected itself. For logs, never for decisions: decide on `kind`.
   */
  readonly providerCode: string | undefined;
  /** What the failure is about, when the adapter could tell; see {@link InfraErrorSubject}. */
  readonly subject: InfraErrorSubject | undefined;
  /**
   * The rules a revoke failed for, when it failed for some of the rules it named only (the others were
   * revoked). Absent when the call failed whole (throttled, unreachable): then nothing is known revoked.
   */
  readonly ruleIds: readonly string[] | undefined;
  constructor(
    readonly kind: InfraErrorKind,
    readonly retryable: boolean,
    message: string,
    options?: {
      providerCode?: string | undefined;
      subject?: InfraErrorSubject | undefined;
      cause?: unknown;
      retryAfterMs?: number | undefined;
      ruleIds?: readonly string[] | undefined;
    },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'InfraError';
    this.retryAfterMs = options?.retryAfterMs;
    this.providerCode = options?.providerCode;
    this.subject = options?.subject;
    this.ruleIds = options?.ruleIds;
  }

  /** The same failure without its `cause`, for a failed request that carried secrets (credentials). */
  withoutCause(): InfraError {
    const { providerCode, subject, retryAfterMs } = this;
    return new InfraError(this.kind, this.retryable, this.message, { providerCode, subject, retryAfterMs });
  }
}

/** Any thrown value as one line for a log or a notice: `Name: message` for an Error, else its string form. */
export const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/** Error class names (`CredentialsProviderError`, `TimeoutError`, `InfraError`) in a message. */
const CLASS_NAME = /\b[A-Z][A-Za-z0-9]*(?:Error|Exception)\b:?\s*/g;

/**
 * A failure in words for people (Slack): its message without the error's class name or the provider's
 * code (`UnauthorizedOperation`, `CredentialsProviderError`) — those are for the logs, which keep them.
 */
export function reasonInWords(error: unknown): string {
  let text = error instanceof Error ? error.message : String(error);
  // The codes of the error and of the failures it wraps (a message may quote its cause's).
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = e instanceof InfraError ? e.providerCode : undefined;
    if (code !== undefined && code !== '' && code !== 'Unknown') text = text.split(code).join('');
  }
  const cleaned = text
    .replace(CLASS_NAME, '')
    // Only the gaps the removals leave (`failed: : …`, `failed:  (HTTP …`): an ARN's `::` stays.
    .replace(/:\s+(?=\()/g, ' ')
    .replace(/:\s+:/g, ':')
    .replace(/:\s*$/g, '')
    .replace(/\(\s*\)/g, '')
    .replace(/\s{2,}/g, ' ')
    .trim()
    .replace(/:$/, '');
  return cleaned === '' ? 'an error without a description (see the log)' : cleaned;
}
