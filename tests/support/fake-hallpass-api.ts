import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseDuration } from '../../src/domain/duration';

/**
 * A stand-in for hallpass's HTTP API (`/api/v1`, the contract in the issue) for the clients' tests:
 * in-memory requests a test drives (approve, deny, end), every call recorded (with its bearer token and
 * body), lease renewals counted, failures injected per route. Leases are enforced when `enforceLeases`
 * is on: a live request whose lease runs out ends with `endReason: 'lease_expired'`.
 */

export type FakeResource = {
  id: string;
  kind: 'security-group' | 'aws-role';
  maxDuration: string;
  autoApprove: boolean;
  description?: string;
  protocol?: string;
  ports?: string[];
  region?: string;
  roleArn?: string;
};

export type FakeRequest = {
  id: string;
  resource: string;
  status: 'pending' | 'opening' | 'active' | 'ended' | 'denied' | 'cancelled' | 'timed_out' | 'failed';
  duration: string;
  reason: string;
  from?: string;
  createdAt: string;
  grant?: {
    id: string;
    startsAt: string;
    expiresAt: string;
    endedAt?: string;
    endReason?: string;
    address?: string;
    protocol?: string;
    ports?: string[];
    region?: string;
    roleArn?: string;
  };
  lease?: { ttl: string; expiresAt: string };
  message?: string;
  /** Not in the API: the create body as sent, and the token that sent it. */
  body: Record<string, unknown>;
  token: string;
};

export type RecordedCall = {
  method: string;
  path: string;
  token: string | undefined;
  body: unknown;
  at: number;
};

/** Credentials the fake hands out: tests look for them where they must not be. */
export const FAKE_SECRET_ACCESS_KEY = 'fake-secret-access-key-never-print';
export const FAKE_SESSION_TOKEN = 'fake-session-token-never-print';

export type FakeHallpassApi = {
  readonly url: string;
  readonly calls: RecordedCall[];
  requests(): FakeRequest[];
  request(id: string): FakeRequest | undefined;
  /** Calls to `path` (e.g. `/api/v1/requests/req_1/lease`). */
  callsTo(method: string, pathPattern: RegExp): RecordedCall[];
  approve(id: string): void;
  deny(id: string, message?: string): void;
  /** Ends an active grant server-side (expiry, revocation). */
  end(id: string, endReason: string): void;
  /** The next `times` calls matching `pathPattern` get `status` with an error body (and `Retry-After`). */
  failNext(pathPattern: RegExp, status: number, times?: number, retryAfter?: string): void;
  /** The next `times` calls matching `pathPattern` have their connection destroyed without an answer. */
  dropNext(pathPattern: RegExp, times?: number): void;
  close(): Promise<void>;
};

export async function startFakeHallpassApi(opts: {
  tokens: string[];
  resources: FakeResource[];
  /** Approve new requests at once (as the policy's auto-approve would). */
  autoApprove?: boolean;
  enforceLeases?: boolean;
}): Promise<FakeHallpassApi> {
  const requests = new Map<string, FakeRequest>();
  const calls: RecordedCall[] = [];
  const failures: { pattern: RegExp; status: number; left: number; retryAfter?: string; drop?: boolean }[] =
    [];
  let seq = 0;
  const now = () => Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();

  const activate = (r: FakeRequest) => {
    const res = opts.resources.find((x) => x.id === r.resource);
    const startsAt = now();
    seq += 1;
    r.status = 'active';
    r.grant = {
      id: `grt_${seq}`,
      startsAt: iso(startsAt),
      expiresAt: iso(startsAt + (parseDuration(r.duration) ?? 0)),
      ...(res?.kind === 'security-group'
        ? {
            address: r.from ?? '203.0.113.7/32',
            protocol: res.protocol ?? 'tcp',
            ports: res.ports ?? ['5432'],
          }
        : {
            roleArn: res?.roleArn ?? 'arn:aws:iam::123456789012:role/fake',
            region: res?.region ?? 'eu-west-1',
          }),
    };
  };
  const finish = (r: FakeRequest, endReason: string) => {
    if (r.status === 'active' && r.grant !== undefined) {
      r.status = 'ended';
      r.grant.endedAt = iso(now());
      r.grant.endReason = endReason;
    } else if (r.status === 'pending' || r.status === 'opening') {
      r.status = 'cancelled';
      r.message = endReason;
    }
  };
  const live = (r: FakeRequest) => r.status === 'pending' || r.status === 'opening' || r.status === 'active';
  const expireDue = () => {
    const t = now();
    for (const r of requests.values()) {
      if (!live(r)) continue;
      if (r.grant !== undefined && Date.parse(r.grant.expiresAt) <= t) finish(r, 'expired');
      else if (opts.enforceLeases && r.lease !== undefined && Date.parse(r.lease.expiresAt) <= t)
        finish(r, 'lease_expired');
    }
  };
  const timer = setInterval(expireDue, 100);

  const view = (r: FakeRequest) => {
    const { body: _b, token: _t, ...rest } = r;
    return rest;
  };
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, code: string, message: string, headers = {}) =>
    send(res, status, { error: { code, message } }, headers);

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let text = '';
      req.on('data', (c: Buffer) => {
        text += c.toString();
      });
      req.on('end', () => resolve(text));
    });

  const server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const method = req.method ?? 'GET';
      const text = await readBody(req);
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        body = text;
      }
      const auth = req.headers.authorization;
      const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
      calls.push({ method, path, token, body, at: now() });
      expireDue();

      const failure = failures.find((f) => f.left > 0 && f.pattern.test(path));
      if (failure !== undefined) {
        failure.left -= 1;
        if (failure.drop) {
          req.socket.destroy();
          return;
        }
        return error(
          res,
          failure.status,
          failure.status === 429 ? 'rate_limited' : 'internal',
          `injected ${failure.status}`,
          failure.retryAfter === undefined ? {} : { 'Retry-After': failure.retryAfter },
        );
      }
      if (token === undefined || !opts.tokens.includes(token))
        return error(res, 401, 'unauthorized', 'The token is missing, unknown, expired or revoked.');

      if (method === 'GET' && path === '/api/v1/resources')
        return send(res, 200, {
          resources: opts.resources.map(({ roleArn: _r, ...r }) => r),
        });

      if (method === 'POST' && path === '/api/v1/requests') {
        const b = (body ?? {}) as Record<string, unknown>;
        const resource = opts.resources.find((r) => r.id === b['resource']);
        if (
          typeof b['resource'] !== 'string' ||
          typeof b['duration'] !== 'string' ||
          typeof b['reason'] !== 'string'
        )
          return send(res, 400, {
            error: {
              code: 'invalid_request',
              message: 'The body is not a request.',
              issues: [{ path: 'resource', message: 'Required' }],
            },
          });
        if (resource === undefined)
          return error(res, 403, 'forbidden', `This token may not ask for ${String(b['resource'])}.`);
        if (parseDuration(b['duration']) === undefined)
          return send(res, 400, {
            error: {
              code: 'invalid_request',
              message: 'The body is not a request.',
              issues: [{ path: 'duration', message: `${b['duration']} is not a duration` }],
            },
          });
        seq += 1;
        const lease = b['lease'] as { ttl?: string } | undefined;
        const r: FakeRequest = {
          id: `req_${seq}`,
          resource: resource.id,
          status: 'pending',
          duration: b['duration'],
          reason: b['reason'],
          ...(typeof b['from'] === 'string' ? { from: b['from'] } : {}),
          createdAt: iso(now()),
          ...(lease?.ttl !== undefined
            ? { lease: { ttl: lease.ttl, expiresAt: iso(now() + (parseDuration(lease.ttl) ?? 30_000)) } }
            : {}),
          body: b,
          token,
        };
        requests.set(r.id, r);
        if (opts.autoApprove || resource.autoApprove) activate(r);
        return send(res, 201, view(r));
      }

      const m = /^\/api\/v1\/requests\/([^/]+)(?:\/(done|lease|credentials))?$/.exec(path);
      const r = m?.[1] === undefined ? undefined : requests.get(decodeURIComponent(m[1]));
      if (m === null) return error(res, 404, 'not_found', `No route ${method} ${path}.`);
      if (r === undefined) return error(res, 404, 'not_found', `No request ${m[1]}.`);
      const action = m[2];
      if (method === 'GET' && action === undefined) return send(res, 200, view(r));
      if (method === 'POST' && action === 'done') {
        finish(r, 'done');
        return send(res, 200, view(r));
      }
      if (method === 'POST' && action === 'lease') {
        if (!live(r) || r.lease === undefined)
          return error(res, 409, 'conflict', `Request ${r.id} is ${r.status}: there is no lease to renew.`);
        r.lease.expiresAt = iso(now() + (parseDuration(r.lease.ttl) ?? 30_000));
        return send(res, 200, { leaseExpiresAt: r.lease.expiresAt });
      }
      if (method === 'POST' && action === 'credentials') {
        if (r.status !== 'active' || r.grant?.roleArn === undefined)
          return error(res, 409, 'conflict', `Request ${r.id} has no active role grant.`);
        return send(res, 200, {
          accessKeyId: 'ASIAFAKEKEYID',
          secretAccessKey: FAKE_SECRET_ACCESS_KEY,
          sessionToken: FAKE_SESSION_TOKEN,
          expiration: r.grant.expiresAt,
          region: r.grant.region ?? 'eu-west-1',
        });
      }
      return error(res, 404, 'not_found', `No route ${method} ${path}.`);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const must = (id: string) => {
    const r = requests.get(id);
    if (r === undefined) throw new Error(`fake API: no request ${id}`);
    return r;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    requests: () => [...requests.values()],
    request: (id) => requests.get(id),
    callsTo: (method, pattern) => calls.filter((c) => c.method === method && pattern.test(c.path)),
    approve: (id) => activate(must(id)),
    deny: (id, message = 'Denied by @approver.') => {
      const r = must(id);
      r.status = 'denied';
      r.message = message;
    },
    end: (id, endReason) => finish(must(id), endReason),
    failNext: (pattern, status, times = 1, retryAfter) => {
      failures.push({ pattern, status, left: times, ...(retryAfter === undefined ? {} : { retryAfter }) });
    },
    dropNext: (pattern, times = 1) => {
      failures.push({ pattern, status: 0, left: times, drop: true });
    },
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
