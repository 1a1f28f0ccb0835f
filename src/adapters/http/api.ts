import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { ApiError, ApiUseCases } from '../../app/api-requests';
import type { ApiToken, Logger } from '../../app/ports';
import type { SubmitError } from '../../app/submit-request';
import { formatDuration, parseDuration } from '../../domain/duration';
import type { HttpHandler, HttpMethod, HttpRoute } from './router';

/*
 * The HTTP API under `/api/v1` (docs/api.md): automations ask for the same windows people ask for in
 * Slack, with `Authorization: Bearer <token>`. Bodies are validated with the zod schemas below, which
 * also make the OpenAPI document (`openApiDocument`, served at `/api/v1/openapi.json` and committed as
 * docs/openapi.json), so the two cannot differ.
 */

export const API_BASE = '/api/v1';

const DURATION = /^(\d+h)?(\d+m)?(\d+s)?$/;
const duration = z
  .string()
  .regex(DURATION, { error: 'must be a duration like 90s, 15m, 1h, 1h30m' })
  .refine((v) => v !== '' && (parseDuration(v) ?? 0) > 0, { error: 'must be a duration longer than zero' })
  .meta({ description: 'A duration: 90s, 15m, 1h, 1h30m', example: '15m' });

export const CreateRequestBody = z.strictObject({
  resource: z.string().regex(/^[a-z0-9-]{1,64}$/, { error: 'must be a resource id ([a-z0-9-], at most 64)' }),
  duration,
  reason: z.string().trim().min(1, { error: 'say why' }).max(1000, { error: 'at most 1000 characters' }),
  from: z.string().min(1).max(64).optional().meta({
    description: 'The address or CIDR to open for (security-group resources)',
    example: '203.0.113.7',
  }),
  lease: z
    .strictObject({ ttl: duration })
    .optional()
    .meta({ description: 'Hold the request and its grant only while renewed (10s to 10m)' }),
  agent: z
    .strictObject({
      name: z.string().trim().min(1).max(64),
      onBehalfOf: z.string().trim().min(1).max(200).optional(),
    })
    .optional()
    .meta({ description: 'An AI agent asking: its name, and the person or job it acts for' }),
});

const GrantSchema = z.object({
  id: z.string(),
  startsAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
  endedAt: z.iso.datetime().optional(),
  endReason: z.enum(['expired', 'revoked', 'done', 'failed', 'lease-expired']).optional(),
  address: z.string().optional(),
  protocol: z.string().optional(),
  ports: z.array(z.string()).optional(),
  region: z.string().optional(),
  roleArn: z.string().optional(),
});

export const RequestSchema = z.object({
  id: z.string(),
  resource: z.string(),
  status: z.enum(['pending', 'opening', 'active', 'ended', 'denied', 'cancelled', 'timed_out', 'failed']),
  duration: z.string(),
  reason: z.string(),
  from: z.string().optional(),
  createdAt: z.iso.datetime(),
  grant: GrantSchema.optional(),
  lease: z.object({ ttl: z.string(), expiresAt: z.iso.datetime() }).optional(),
  message: z.string().optional(),
});

const ResourceSchema = z.object({
  id: z.string(),
  kind: z.enum(['security-group', 'aws-role']),
  description: z.string().optional(),
  maxDuration: z.string(),
  defaultDuration: z.string().optional(),
  protocol: z.string().optional(),
  ports: z.array(z.string()).optional(),
  region: z.string().optional(),
  autoApprove: z.boolean(),
});

const ErrorSchema = z.object({
  error: z.object({
    code: z.enum([
      'invalid_request',
      'unauthorized',
      'forbidden',
      'not_found',
      'method_not_allowed',
      'conflict',
      'unsupported_media_type',
      'rate_limited',
    ]),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

const CredentialsSchema = z.object({
  accessKeyId: z.string(),
  secretAccessKey: z.string(),
  sessionToken: z.string(),
  expiration: z.iso.datetime(),
  region: z.string(),
});

const LeaseSchema = z.object({ leaseExpiresAt: z.iso.datetime() });
const ResourcesSchema = z.object({ resources: z.array(ResourceSchema) });

/**
 * Every route of the API: what the handler serves (its table is built from this list) and what the
 * OpenAPI document must list; a unit test holds the two equal.
 */
export const API_ROUTES = [
  { method: 'GET', path: '/api/v1/openapi.json', op: 'openapi' },
  { method: 'GET', path: '/api/v1/resources', op: 'resources' },
  { method: 'POST', path: '/api/v1/requests', op: 'create' },
  { method: 'GET', path: '/api/v1/requests/{id}', op: 'get' },
  { method: 'POST', path: '/api/v1/requests/{id}/done', op: 'done' },
  { method: 'POST', path: '/api/v1/requests/{id}/lease', op: 'lease' },
  { method: 'POST', path: '/api/v1/requests/{id}/credentials', op: 'credentials' },
] as const satisfies readonly { method: HttpMethod; path: string; op: string }[];

type Op = (typeof API_ROUTES)[number]['op'];

type Status = 400 | 401 | 403 | 404 | 405 | 409 | 415 | 429;
const CODES: Record<Status, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

const schemaOf = (s: z.ZodType) =>
  z.toJSONSchema(s, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any' });

/** The OpenAPI 3.1 document of the API, from the same zod schemas that validate it. */
export function openApiDocument(): Record<string, unknown> {
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const json = (schema: unknown) => ({ 'application/json': { schema } });
  const errors = (...statuses: Status[]) =>
    Object.fromEntries(
      statuses.map((s) => [String(s), { description: CODES[s], content: json(ref('Error')) }]),
    );
  const idParam = [
    { name: 'id', in: 'path', required: true, schema: { type: 'string' }, example: 'req_abc123' },
  ];
  const secured = [{ bearer: [] }];
  const strip = (s: Record<string, unknown>) => {
    const { $schema: _drop, ...rest } = s;
    return rest;
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'hallpass API',
      version: '1',
      description:
        'Temporary production access for automations: the same approved, announced, audited, time-bound windows people get in Slack. See docs/api.md.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token from `/access token create`' },
      },
      schemas: {
        CreateRequest: strip(schemaOf(CreateRequestBody)),
        Request: strip(schemaOf(RequestSchema)),
        Resource: strip(schemaOf(ResourceSchema)),
        Resources: strip(schemaOf(ResourcesSchema)),
        Lease: strip(schemaOf(LeaseSchema)),
        Credentials: strip(schemaOf(CredentialsSchema)),
        Error: strip(schemaOf(ErrorSchema)),
      },
    },
    paths: {
      '/api/v1/openapi.json': {
        get: {
          operationId: 'openapi',
          summary: 'This document',
          responses: { '200': { description: 'The OpenAPI document', content: json({ type: 'object' }) } },
        },
      },
      '/api/v1/resources': {
        get: {
          operationId: 'listResources',
          summary: 'What this token may ask for',
          security: secured,
          responses: {
            '200': { description: 'Resources', content: json(ref('Resources')) },
            ...errors(401, 429),
          },
        },
      },
      '/api/v1/requests': {
        post: {
          operationId: 'createRequest',
          summary: 'Ask for a window of access (the same policy and approvals as in Slack)',
          security: secured,
          requestBody: { required: true, content: json(ref('CreateRequest')) },
          responses: {
            '201': { description: 'The request as made', content: json(ref('Request')) },
            ...errors(400, 401, 403, 415, 429),
          },
        },
      },
      '/api/v1/requests/{id}': {
        get: {
          operationId: 'getRequest',
          summary: 'A request as it stands (status, grant, expiresAt)',
          security: secured,
          parameters: idParam,
          responses: {
            '200': { description: 'The request', content: json(ref('Request')) },
            ...errors(401, 404, 429),
          },
        },
      },
      '/api/v1/requests/{id}/done': {
        post: {
          operationId: 'done',
          summary: 'End the grant now, or cancel the request while pending (idempotent)',
          security: secured,
          parameters: idParam,
          responses: {
            '200': { description: 'The request', content: json(ref('Request')) },
            ...errors(401, 404, 429),
          },
        },
      },
      '/api/v1/requests/{id}/lease': {
        post: {
          operationId: 'renewLease',
          summary: 'Renew the lease; when renewals stop, the grant ends within the lease time',
          security: secured,
          parameters: idParam,
          responses: {
            '200': { description: 'The new end of the lease', content: json(ref('Lease')) },
            ...errors(401, 404, 409, 429),
          },
        },
      },
      '/api/v1/requests/{id}/credentials': {
        post: {
          operationId: 'credentials',
          summary: 'STS credentials for an active aws-role grant (never stored; each issue audited)',
          security: secured,
          parameters: idParam,
          responses: {
            '200': { description: 'Credentials for the time left', content: json(ref('Credentials')) },
            ...errors(401, 404, 409, 429),
          },
        },
      },
    },
  };
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

function fail(
  res: ServerResponse,
  status: Status,
  message: string,
  extra: { issues?: { path: string; message: string }[]; headers?: Record<string, string> } = {},
): void {
  send(
    res,
    status,
    {
      error: {
        code: CODES[status],
        message,
        ...(extra.issues === undefined ? {} : { issues: extra.issues }),
      },
    },
    extra.headers,
  );
}

function answerError(res: ServerResponse, e: ApiError): void {
  switch (e.error) {
    case 'UNAUTHORIZED':
      fail(res, 401, e.detail.message, { headers: { 'WWW-Authenticate': 'Bearer realm="hallpass"' } });
      return;
    case 'FORBIDDEN':
      fail(res, 403, e.detail.message);
      return;
    case 'NOT_FOUND':
      fail(res, 404, e.detail.message);
      return;
    case 'CONFLICT':
      send(res, 409, {
        error: { code: 'conflict', message: e.detail.message },
        ...(e.detail.request === undefined ? {} : { request: e.detail.request }),
      });
      return;
    case 'RATE_LIMITED':
      fail(
        res,
        429,
        `too many calls with this token: at most the limit per minute; retry after ${e.detail.retryAfterSeconds}s`,
        {
          headers: { 'Retry-After': String(e.detail.retryAfterSeconds) },
        },
      );
      return;
    case 'INVALID':
      fail(res, 400, e.detail.message, {
        ...(e.detail.path === undefined
          ? {}
          : { issues: [{ path: e.detail.path, message: e.detail.message }] }),
      });
  }
}

/** A policy refusal of a request, in words, and the field it is about. */
export function submitErrorText(e: SubmitError): { path: string; message: string } {
  const d = (ms: number) => formatDuration(ms);
  switch (e.error) {
    case 'UNKNOWN_RESOURCE':
      return { path: 'resource', message: `there is no resource ${e.detail.resourceId}` };
    case 'DURATION_TOO_SHORT':
      return {
        path: 'duration',
        message: `${d(e.detail.requested)} is shorter than ${e.detail.resourceId}'s minimum ${d(e.detail.min)}`,
      };
    case 'DURATION_TOO_LONG':
      return {
        path: 'duration',
        message: `${d(e.detail.requested)} is longer than the ${d(e.detail.max)} allowed here${e.detail.role === undefined ? '' : " (the role's MaxSessionDuration)"}`,
      };
    case 'DURATION_REQUIRED':
      return { path: 'duration', message: 'say how long' };
    case 'ADDRESS_REQUIRED':
      return {
        path: 'from',
        message: `${e.detail.resourceId} is a security group: say which address to open for (from)`,
      };
    case 'ADDRESS_NOT_APPLICABLE':
      return {
        path: 'from',
        message: `${e.detail.resourceId} is a role: it takes no address (leave out from)`,
      };
    case 'INVALID_ADDRESS':
      return { path: 'from', message: `${e.detail.input} is not an IP address or CIDR` };
    case 'ADDRESS_HOST_BITS_SET':
      return {
        path: 'from',
        message: `${e.detail.input} has host bits set: did you mean ${e.detail.suggestion}?`,
      };
    case 'ADDRESS_TOO_WIDE':
      return {
        path: 'from',
        message: `${e.detail.cidr} is wider than allowed: at most /${e.detail.required}`,
      };
    case 'BREAK_GLASS_REASON_TOO_SHORT':
      return { path: 'reason', message: `at least ${e.detail.min} characters` };
    default:
      return { path: 'resource', message: `refused by the policy (${e.error.toLowerCase()})` };
  }
}

/** Bounds of the JSON a request body may hold; the router's body limit bounds its size. */
function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}

const isJson = (req: IncomingMessage): boolean =>
  /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(req.headers['content-type'] ?? '');

const bearerOf = (req: IncomingMessage): string | undefined => {
  const h = req.headers.authorization;
  const m = h === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
};

/** `/api/v1/…` as one prefix route: matches its own paths, answers anything else 404/405 in the API's error form. */
export function apiRoute(deps: {
  readonly api: ApiUseCases;
  readonly logger: Logger;
  readonly callsPerMinute: number;
}): HttpRoute {
  const { api } = deps;
  const document = JSON.stringify(openApiDocument(), null, 2);

  // One pattern per path of API_ROUTES (`{id}` a request id), with the methods it serves.
  const table = [...new Set(API_ROUTES.map((r) => r.path))].map((path) => ({
    re: new RegExp(`^${path.replace(/[.]/g, '\\.').replace('{id}', '([a-z]{3}_[A-Za-z0-9]{1,64})')}$`),
    methods: Object.fromEntries(
      API_ROUTES.filter((r) => r.path === path).map((r) => [r.method, r.op]),
    ) as Partial<Record<HttpMethod, Op>>,
  }));

  const handle: HttpHandler = async (req, res, body) => {
    const path = (req.url ?? '').split('?', 1)[0] ?? '';
    const method = (req.method === 'HEAD' ? 'GET' : req.method) as HttpMethod;
    const row = table.map((t) => ({ t, m: t.re.exec(path) })).find((x) => x.m !== null);
    if (row === undefined)
      return fail(res, 404, `no such API route: ${req.method} ${path} (see ${API_BASE}/openapi.json)`);
    const op = row.t.methods[method];
    if (op === undefined) {
      res.setHeader('Allow', Object.keys(row.t.methods).join(', '));
      return fail(res, 405, `${req.method} is not served on ${path}`);
    }
    const matched = { op, id: row.m?.[1] };
    if (matched.op === 'openapi') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(document);
      return;
    }
    // A body that says it is something other than JSON is refused before anything else is read.
    if (matched.op === 'create' && !isJson(req))
      return fail(res, 415, 'send the body as JSON with Content-Type: application/json');
    const auth = await api.authenticate(
      bearerOf(req),
      deps.callsPerMinute,
      matched.op === 'done' ? 'ending' : 'any',
    );
    if (!auth.ok) return answerError(res, auth);
    const token: ApiToken = auth.value;
    const id = matched.id ?? '';
    switch (matched.op) {
      case 'resources':
        return send(res, 200, { resources: api.resources(token) });
      case 'create': {
        const parsed = parseJson(body);
        if (!parsed.ok) return fail(res, 400, 'the body is not valid JSON');
        const checked = CreateRequestBody.safeParse(parsed.value);
        if (!checked.success) {
          const issues = checked.error.issues.map((i) => ({
            path: i.path.map(String).join('.') || '(body)',
            message: i.message,
          }));
          return fail(
            res,
            400,
            `the request body is not valid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
            {
              issues,
            },
          );
        }
        const b = checked.data;
        const created = await api.create(token, {
          resource: b.resource,
          durationMs: parseDuration(b.duration) ?? 0,
          reason: b.reason,
          from: b.from,
          leaseTtlMs: b.lease === undefined ? undefined : parseDuration(b.lease.ttl),
          agent: b.agent,
        });
        if (created.ok)
          return send(res, 201, created.value, { Location: `${API_BASE}/requests/${created.value.id}` });
        if (isApiError(created)) return answerError(res, created);
        const why = submitErrorText(created);
        return fail(res, 400, why.message, { issues: [why] });
      }
      case 'get': {
        const r = await api.get(token, id);
        return r.ok ? send(res, 200, r.value) : answerError(res, r);
      }
      case 'done': {
        const r = await api.done(token, id);
        return r.ok ? send(res, 200, r.value) : answerError(res, r);
      }
      case 'lease': {
        const r = await api.renew(token, id);
        return r.ok ? send(res, 200, r.value) : answerError(res, r);
      }
      case 'credentials': {
        const r = await api.credentials(token, id);
        if (!r.ok) return answerError(res, r);
        const c = r.value;
        return send(res, 200, {
          accessKeyId: c.accessKeyId,
          secretAccessKey: c.secretAccessKey,
          sessionToken: c.sessionToken,
          expiration: c.expiration.toISOString(),
          region: c.region,
        });
      }
    }
    return fail(res, 404, `no such API route: ${req.method} ${path}`);
  };
  const all: Partial<Record<HttpMethod, HttpHandler>> = {
    GET: handle,
    POST: handle,
    PUT: handle,
    PATCH: handle,
    DELETE: handle,
  };
  return { path: `${API_BASE}/`, prefix: true, methods: all };
}

const API_CODES = new Set(['UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'RATE_LIMITED', 'INVALID']);
const isApiError = (e: ApiError | SubmitError): e is ApiError => API_CODES.has(e.error);
