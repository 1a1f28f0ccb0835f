/** An infrastructure failure (AWS, Slack). Retry decisions read only `retryable`. */
export class InfraError extends Error {
  /** When the service said how long to wait (Slack's `Retry-After` on a 429), in milliseconds. */
  readonly retryAfterMs: number | undefined;
  constructor(
    readonly code: string,
    readonly retryable: boolean,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number | undefined },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'InfraError';
    this.retryAfterMs = options?.retryAfterMs;
  }
}
