import { ErrorCode, type WebAPICallResult, WebClient, type WebClientOptions } from '@slack/web-api';
import { InfraError } from '../../app/infra-error';
import type { Logger } from '../../app/ports';
import { boltLogger } from './logger';

/** Longest a single Slack Web API call may take before it is abandoned. */
export const SLACK_CALL_TIMEOUT_MS = 10_000;

/**
 * Options for every Web API client hallpass builds (notices, Home, directory, and the clients Bolt
 * hands to listeners): one attempt, a timeout, and a 429 answered at once as an error instead of a
 * pause. The WebClient's defaults would retry a failing call ten times over about half an hour and
 * pause the whole client's queue for a 429's `Retry-After`; here a failure comes back at once and the
 * caller decides (the outbox retries notices later, honouring `Retry-After`, without holding anything
 * else up). `extra` (tests) is applied last.
 */
export function singleAttemptClientOptions(opts: {
  readonly apiUrl?: string | undefined;
  readonly logger: Logger;
  readonly timeoutMs?: number | undefined;
  readonly extra?: WebClientOptions | undefined;
}): WebClientOptions {
  return {
    ...(opts.apiUrl === undefined ? {} : { slackApiUrl: opts.apiUrl }),
    logger: boltLogger(opts.logger),
    timeout: opts.timeoutMs ?? SLACK_CALL_TIMEOUT_MS,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    ...opts.extra,
  };
}

/** Slack platform errors (`ok: false`) that say Slack had a problem, not the request: worth another try. */
const TRANSIENT_PLATFORM_ERRORS: ReadonlySet<string> = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'ratelimited',
  'rate_limited',
]);

const field = (value: unknown, key: string): unknown =>
  typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined;

/**
 * Turns whatever a WebClient call threw into an `InfraError` whose `retryable` says whether the same
 * call may succeed later: a 429 (with `retryAfterMs` from `Retry-After`), a 5xx, a timeout or a network
 * failure may; a platform error such as `channel_not_found` or `invalid_blocks` never will.
 */
export function classifySlackError(error: unknown, operation: string): InfraError {
  if (error instanceof InfraError) return error;
  const code = field(error, 'code');
  const message = error instanceof Error ? error.message : String(error);
  if (code === ErrorCode.RateLimitedError) {
    const seconds = Number(field(error, 'retryAfter'));
    const retryAfterMs = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000;
    return new InfraError('throttled', true, `${operation}: rate limited by Slack`, {
      providerCode: 'slack_rate_limited',
      cause: error,
      retryAfterMs,
    });
  }
  if (code === ErrorCode.HTTPError) {
    const status = Number(field(error, 'statusCode'));
    const retryable = status >= 500 || status === 408;
    return new InfraError(retryable ? 'unavailable' : 'unknown', retryable, `${operation}: ${message}`, {
      providerCode: `slack_http_${status}`,
      cause: error,
    });
  }
  if (code === ErrorCode.PlatformError) {
    const slackError = String(field(field(error, 'data'), 'error') ?? 'unknown_error');
    const retryable = TRANSIENT_PLATFORM_ERRORS.has(slackError);
    return new InfraError(retryable ? 'unavailable' : 'unknown', retryable, `${operation}: ${slackError}`, {
      providerCode: slackError,
      cause: error,
    });
  }
  // Request errors (timeouts, refused or reset connections, DNS) and anything unexpected: try again.
  return new InfraError('unavailable', true, `${operation}: ${message}`, {
    providerCode: 'slack_request_failed',
    cause: error,
  });
}

/**
 * A WebClient that reports each failed Web API call (`chat.postMessage`, `invalid_blocks`) before
 * passing the failure on unchanged: `/metrics` counts them and `/healthz` reports recent ones.
 */
export class ObservedWebClient extends WebClient {
  constructor(
    token: string,
    options: WebClientOptions,
    private readonly onError: (method: string, error: string) => void,
  ) {
    super(token, options);
  }

  override async apiCall(method: string, options?: Record<string, unknown>): Promise<WebAPICallResult> {
    try {
      return await super.apiCall(method, options);
    } catch (error) {
      this.onError(method, classifySlackError(error, method).providerCode ?? 'request_failed');
      throw error;
    }
  }
}
