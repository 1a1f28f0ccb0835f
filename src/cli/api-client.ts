/**
 * The client of hallpass's HTTP API (`/api/v1`), shared by `hallpass run` and `hallpass mcp`.
 *
 * fetch-based; every answer is parsed with zod so a server that says something else fails loudly here,
 * not three calls later. Errors carry the server's `error.message`. Idempotent calls (reads, `done`,
 * lease renewals, credentials) are retried with backoff on network errors, 5xx and 429 (honouring
 * `Retry-After`); creating a request is retried only when the server cannot have acted on it (429, a
 * refused connection), so one call never makes two requests. The token is sent and never printed.
 */
import { z } from 'zod';

export const RESOURCE_KINDS = ['security-group', 'aws-role'] as const;

/** One resource this token may ask for (`GET /resources`). */
export const ResourceSchema = z.object({
  id: z.string(),
  kind: z.enum(RESOURCE_KINDS),
  description: z.string().optional(),
  maxDuration: z.string(),
  defaultDuration: z.string().optional(),
  protocol: z.string().optional(),
  ports: z.array(z.string()).optional(),
  region: z.string().optional(),
  autoApprove: z.boolean(),
});
export type Resource = z.infer<typeof ResourceSchema>;

export const REQUEST_STATUSES = [
  'pending',
  'opening',
  'active',
  'ended',
  'denied',
  'cancelled',
  'timed_out',
  'failed',
] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];
/** Statuses after which nothing changes any more. */
export const isFinal = (status: RequestStatus): boolean =>
  status !== 'pending' && status !== 'opening' && status !== 'active';

/** A request as the API shows it. */
export const ApiRequestSchema = z.object({
  id: z.string(),
  resource: z.string(),
  status: z.enum(REQUEST_STATUSES),
  duration: z.string(),
  reason: z.string(),
  from: z.string().optional(),
  createdAt: z.string(),
  grant: z
    .object({
      id: z.string(),
      startsAt: z.string(),
      expiresAt: z.string(),
      endedAt: z.string().optional(),
      endReason: z.string().optional(),
      address: z.string().optional(),
      protocol: z.string().optional(),
      ports: z.array(z.string()).optional(),
      region: z.string().optional(),
      roleArn: z.string().optional(),
    })
    .optional(),
  lease: z.object({ ttl: z.string(), expiresAt: z.string() }).optional(),
  message: z.string().optional(),
});
export type ApiRequest = z.infer<typeof ApiRequestSchema>;

/** STS credentials of an active role grant: never stored, never printed. */
export const CredentialsSchema = z.object({
  accessKeyId: z.string(),
  secretAccessKey: z.string(),
  sessionToken: z.string(),
  expiration: z.string(),
  region: z.string(),
});
export type Credentials = z.infer<typeof CredentialsSchema>;

const ResourcesAnswer = z.object({ resources: z.array(ResourceSchema) });
const LeaseAnswer = z.object({ leaseExpiresAt: z.string() });
const ErrorAnswer = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

/** The body of `POST /requests`. */
export type CreateRequest = {
  resource: string;
  duration: string;
  reason: string;
  from?: string;
  lease?: { ttl: string };
  agent?: { name: string; onBehalfOf?: string };
};

/** A setting the client needs is missing or malformed; the message names the variable. */
export class ClientSettingError extends Error {}

/** The server answered with an error (`status` and its `code`), or with something that is not the contract. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly issues: readonly { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

/** The server could not be reached (after the retries allowed for the call). */
export class ApiUnreachableError extends Error {}

export type ApiClientOptions = {
  /** Base URL of hallpass (`HALLPASS_URL`), without `/api/v1`. */
  readonly url: string;
  /** The API token (`HALLPASS_TOKEN`). */
  readonly token: string;
  /** Attempts per idempotent call, the first included. Default 4. */
  readonly attempts?: number;
  /** First backoff delay in ms (doubled each retry, with jitter). Default 250. */
  readonly backoffMs?: number;
  /** Longest wait honoured from `Retry-After`, in ms. Default 30 000. */
  readonly maxRetryAfterMs?: number;
  /** Per-attempt time limit in ms. Default 15 000. */
  readonly timeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
};

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Reads `HALLPASS_URL` and `HALLPASS_TOKEN`; a missing or malformed one is named. */
export function clientSettingsFrom(env: NodeJS.ProcessEnv): { url: string; token: string } {
  const url = env['HALLPASS_URL']?.trim();
  const token = env['HALLPASS_TOKEN']?.trim();
  if (url === undefined || url === '')
    throw new ClientSettingError('HALLPASS_URL is not set: set it to the base URL of hallpass (https://…).');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ClientSettingError(`HALLPASS_URL is not a URL: ${JSON.stringify(url)}.`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
    throw new ClientSettingError('HALLPASS_URL must start with https:// (or http://).');
  // The token is a bearer secret: over plain HTTP only to this machine, unless said explicitly.
  if (parsed.protocol === 'http:' && !LOOPBACK.has(parsed.hostname) && env['HALLPASS_ALLOW_HTTP'] !== 'true')
    throw new ClientSettingError(
      `HALLPASS_URL is http:// to ${parsed.hostname}: the token would cross the network in the clear. Use https://, or set HALLPASS_ALLOW_HTTP=true on a network you trust.`,
    );
  if (token === undefined || token === '')
    throw new ClientSettingError(
      'HALLPASS_TOKEN is not set: set it to an API token (an admin makes one with `/access token create`).',
    );
  return { url, token };
}

const sleepReal = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `Retry-After` as milliseconds (seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Whether a fetch failure means the request never reached a server (so even a POST may be retried). */
function neverSent(error: unknown): boolean {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
  const code = cause !== undefined && 'code' in cause ? String(cause.code) : '';
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
}

/** Retry policy of one call. */
type Retry = 'idempotent' | 'create';

export class ApiClient {
  private readonly base: string;
  private readonly token: string;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly timeoutMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(opts: ApiClientOptions) {
    this.base = `${opts.url.replace(/\/+$/, '')}/api/v1`;
    this.token = opts.token;
    this.attempts = Math.max(1, opts.attempts ?? 4);
    this.backoffMs = opts.backoffMs ?? 250;
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 30_000;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.sleep = opts.sleep ?? sleepReal;
  }

  /** What this token may ask for. */
  async resources(): Promise<Resource[]> {
    return (await this.call('GET', '/resources', undefined, ResourcesAnswer, 'idempotent')).resources;
  }

  /** Asks for access; the answer is the request, usually `pending` (or `active` when auto-approved). */
  createRequest(body: CreateRequest): Promise<ApiRequest> {
    return this.call('POST', '/requests', body, ApiRequestSchema, 'create');
  }

  getRequest(id: string): Promise<ApiRequest> {
    return this.call('GET', `/requests/${encodeURIComponent(id)}`, undefined, ApiRequestSchema, 'idempotent');
  }

  /** Ends the grant, or cancels the request while pending; idempotent on something already ended. */
  done(id: string): Promise<ApiRequest> {
    return this.call('POST', `/requests/${encodeURIComponent(id)}/done`, {}, ApiRequestSchema, 'idempotent');
  }

  /** Renews the lease; an `ApiError` with status 409 means nothing is live any more. */
  async renewLease(id: string): Promise<{ leaseExpiresAt: string }> {
    return this.call('POST', `/requests/${encodeURIComponent(id)}/lease`, {}, LeaseAnswer, 'idempotent');
  }

  /** STS credentials for an active role grant (assumed anew by the server at each call). */
  credentials(id: string): Promise<Credentials> {
    return this.call(
      'POST',
      `/requests/${encodeURIComponent(id)}/credentials`,
      {},
      CredentialsSchema,
      'idempotent',
    );
  }

  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    schema: z.ZodType<T>,
    retry: Retry,
  ): Promise<T> {
    const what = `${method} /api/v1${path}`;
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= this.attempts;
      let response: Response;
      try {
        response = await fetch(`${this.base}${path}`, {
          method,
          headers: {
            Authorization: `Bearer ${this.token}`,
            Accept: 'application/json',
            ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        const retryable = retry === 'idempotent' || neverSent(error);
        if (!retryable || last) {
          const reason =
            error instanceof Error
              ? error.cause instanceof Error
                ? error.cause.message
                : error.message
              : String(error);
          throw new ApiUnreachableError(`could not reach hallpass at ${this.base} (${what}): ${reason}`);
        }
        await this.sleep(this.backoff(attempt));
        continue;
      }
      if (response.ok) {
        const json: unknown = await response.json().catch(() => undefined);
        const parsed = schema.safeParse(json);
        if (!parsed.success)
          throw new ApiError(
            `hallpass answered ${what} with something this client does not understand: ${parsed.error.issues
              .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
              .join('; ')}`,
            response.status,
            'bad_answer',
          );
        return parsed.data;
      }
      const retryable =
        response.status === 429 ||
        (retry === 'idempotent' && response.status >= 500 && response.status <= 599);
      if (retryable && !last) {
        const hinted = retryAfterMs(response.headers.get('retry-after'));
        await response.body?.cancel().catch(() => undefined);
        await this.sleep(Math.min(hinted ?? this.backoff(attempt), this.maxRetryAfterMs));
        continue;
      }
      throw await this.errorOf(response, what);
    }
  }

  /** Exponential backoff with full jitter over the doubled base. */
  private backoff(attempt: number): number {
    const cap = this.backoffMs * 2 ** (attempt - 1);
    return cap / 2 + Math.random() * (cap / 2);
  }

  private async errorOf(response: Response, what: string): Promise<ApiError> {
    const text = await response.text().catch(() => '');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = ErrorAnswer.safeParse(json);
    if (parsed.success) {
      const { code, message, issues } = parsed.data.error;
      const detail = issues?.length ? ` (${issues.map((i) => `${i.path}: ${i.message}`).join('; ')})` : '';
      return new ApiError(`${message}${detail}`, response.status, code, issues ?? []);
    }
    return new ApiError(
      `hallpass answered ${what} with HTTP ${response.status}${text === '' ? '' : `: ${text.slice(0, 200)}`}`,
      response.status,
      'http_error',
    );
  }
}
