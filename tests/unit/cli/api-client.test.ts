import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ApiClient,
  ApiError,
  ApiUnreachableError,
  ClientSettingError,
  clientSettingsFrom,
  retryAfterMs,
} from '../../../src/cli/api-client';
import { type FakeHallpassApi, startFakeHallpassApi } from '../../support/fake-hallpass-api';

const TOKEN = 'hp_test_token_never_print';
let api: FakeHallpassApi;
let slept: number[];
const client = (overrides: Partial<ConstructorParameters<typeof ApiClient>[0]> = {}) =>
  new ApiClient({
    url: api.url,
    token: TOKEN,
    sleep: async (ms) => {
      slept.push(ms);
    },
    ...overrides,
  });

beforeEach(async () => {
  slept = [];
  api = await startFakeHallpassApi({
    tokens: [TOKEN],
    resources: [
      { id: 'prod-db', kind: 'security-group', maxDuration: '1h', autoApprove: false, ports: ['5432'] },
      { id: 'prod-admin', kind: 'aws-role', maxDuration: '1h', autoApprove: true },
    ],
  });
});
afterEach(() => api.close());

describe('clientSettingsFrom', () => {
  it('names HALLPASS_URL when it is missing', () => {
    expect(() => clientSettingsFrom({ HALLPASS_TOKEN: 'x' })).toThrow(
      new ClientSettingError('HALLPASS_URL is not set: set it to the base URL of hallpass (https://…).'),
    );
  });
  it('names HALLPASS_TOKEN when it is missing, and HALLPASS_URL when it is not a URL', () => {
    expect(() => clientSettingsFrom({ HALLPASS_URL: 'https://h.example' })).toThrow(
      /HALLPASS_TOKEN is not set/,
    );
    expect(() => clientSettingsFrom({ HALLPASS_URL: 'h.example', HALLPASS_TOKEN: 'x' })).toThrow(
      /HALLPASS_URL is not a URL/,
    );
    expect(() => clientSettingsFrom({ HALLPASS_URL: 'ftp://h.example', HALLPASS_TOKEN: 'x' })).toThrow(
      /HALLPASS_URL must start with https/,
    );
  });
  it('refuses plain http to another machine unless HALLPASS_ALLOW_HTTP=true', () => {
    expect(() =>
      clientSettingsFrom({ HALLPASS_URL: 'http://hallpass.example', HALLPASS_TOKEN: 'x' }),
    ).toThrow(/http:\/\/ to hallpass.example: the token would cross the network in the clear/);
    expect(
      clientSettingsFrom({
        HALLPASS_URL: 'http://hallpass.example',
        HALLPASS_TOKEN: 'x',
        HALLPASS_ALLOW_HTTP: 'true',
      }),
    ).toEqual({ url: 'http://hallpass.example', token: 'x' });
    expect(clientSettingsFrom({ HALLPASS_URL: 'http://127.0.0.1:3000', HALLPASS_TOKEN: 'x' }).url).toBe(
      'http://127.0.0.1:3000',
    );
    expect(clientSettingsFrom({ HALLPASS_URL: 'http://localhost:3000', HALLPASS_TOKEN: 'x' }).url).toBe(
      'http://localhost:3000',
    );
  });

  it('never puts the token in its messages', () => {
    try {
      clientSettingsFrom({ HALLPASS_URL: 'nope', HALLPASS_TOKEN: TOKEN });
    } catch (e) {
      expect(String(e)).not.toContain(TOKEN);
    }
  });
});

describe('ApiClient', () => {
  it('sends the bearer token and parses the resources', async () => {
    const resources = await client().resources();
    expect(resources.map((r) => r.id)).toEqual(['prod-db', 'prod-admin']);
    expect(api.calls[0]).toMatchObject({ method: 'GET', path: '/api/v1/resources', token: TOKEN });
  });

  it('creates a request, reads it, renews its lease and ends it', async () => {
    const c = client();
    const created = await c.createRequest({
      resource: 'prod-db',
      duration: '15m',
      reason: 'fix it',
      from: '198.51.100.4',
      lease: { ttl: '30s' },
    });
    expect(created).toMatchObject({ resource: 'prod-db', status: 'pending', lease: { ttl: '30s' } });
    api.approve(created.id);
    const read = await c.getRequest(created.id);
    expect(read.status).toBe('active');
    expect(read.grant?.address).toBe('198.51.100.4');
    const lease = await c.renewLease(created.id);
    expect(Date.parse(lease.leaseExpiresAt)).toBeGreaterThan(Date.now());
    const done = await c.done(created.id);
    expect(done.status).toBe('ended');
    expect(done.grant?.endReason).toBe('done');
  });

  it("surfaces the server's message, status and code, with the issues", async () => {
    const c = client();
    await expect(
      c.createRequest({ resource: 'prod-db', duration: 'soon', reason: 'x' }),
    ).rejects.toMatchObject({
      status: 400,
      code: 'invalid_request',
      message: 'The body is not a request. (duration: soon is not a duration)',
    });
    await expect(c.createRequest({ resource: 'billing', duration: '5m', reason: 'x' })).rejects.toMatchObject(
      {
        status: 403,
        code: 'forbidden',
        message: 'This token may not ask for billing.',
      },
    );
    await expect(client({ token: 'wrong' }).resources()).rejects.toMatchObject({
      status: 401,
      code: 'unauthorized',
    });
  });

  it('says 409 on a lease renewal once nothing is live', async () => {
    const c = client();
    const r = await c.createRequest({
      resource: 'prod-db',
      duration: '5m',
      reason: 'x',
      lease: { ttl: '30s' },
    });
    api.deny(r.id);
    await expect(c.renewLease(r.id)).rejects.toMatchObject({ status: 409, code: 'conflict' });
  });

  it('retries a read on 5xx and on a dropped connection, with growing backoff', async () => {
    api.failNext(/\/resources$/, 503, 2);
    await expect(client().resources()).resolves.toHaveLength(2);
    expect(api.callsTo('GET', /\/resources$/)).toHaveLength(3);
    expect(slept).toHaveLength(2);
    expect(slept[1]).toBeGreaterThanOrEqual(250);

    api.dropNext(/\/resources$/, 1);
    await expect(client().resources()).resolves.toHaveLength(2);
  });

  it('honours Retry-After on 429, capped', async () => {
    api.failNext(/\/resources$/, 429, 1, '2');
    await client().resources();
    expect(slept).toEqual([2000]);
    slept = [];
    api.failNext(/\/resources$/, 429, 1, '3600');
    await client({ maxRetryAfterMs: 5000 }).resources();
    expect(slept).toEqual([5000]);
  });

  it('gives up after its attempts with the last error', async () => {
    api.failNext(/\/resources$/, 500, 10);
    await expect(client({ attempts: 3 }).resources()).rejects.toBeInstanceOf(ApiError);
    expect(api.callsTo('GET', /\/resources$/)).toHaveLength(3);
  });

  it('does not retry creating a request on 5xx (it may have been made), but does on 429', async () => {
    api.failNext(/\/requests$/, 502, 1);
    await expect(
      client().createRequest({ resource: 'prod-db', duration: '5m', reason: 'x' }),
    ).rejects.toMatchObject({
      status: 502,
    });
    expect(api.callsTo('POST', /\/requests$/)).toHaveLength(1);
    api.failNext(/\/requests$/, 429, 1, '0');
    await expect(
      client().createRequest({ resource: 'prod-db', duration: '5m', reason: 'x' }),
    ).resolves.toMatchObject({
      status: 'pending',
    });
    expect(api.callsTo('POST', /\/requests$/)).toHaveLength(3);
  });

  it('does not retry creating a request whose connection dropped after it was sent', async () => {
    api.dropNext(/\/requests$/, 1);
    await expect(
      client().createRequest({ resource: 'prod-db', duration: '5m', reason: 'x' }),
    ).rejects.toBeInstanceOf(ApiUnreachableError);
    expect(api.callsTo('POST', /\/requests$/)).toHaveLength(1);
  });

  it('says where it could not connect, without the token', async () => {
    const url = api.url;
    await api.close();
    const error = await client({ url, attempts: 2 })
      .resources()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiUnreachableError);
    expect(String(error)).toMatch(/could not reach hallpass at .* \(GET \/api\/v1\/resources\)/);
    expect(String(error)).not.toContain(TOKEN);
    expect(slept).toHaveLength(1);
    api = await startFakeHallpassApi({ tokens: [], resources: [] });
  });

  it('refuses an answer that is not the contract, saying what is wrong', async () => {
    const odd = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ resources: [{ id: 7 }] }));
    });
    await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = odd.address() as AddressInfo;
      await expect(client({ url: `http://127.0.0.1:${port}` }).resources()).rejects.toThrow(
        /does not understand: resources\.0\.id: /,
      );
    } finally {
      odd.closeAllConnections();
      await new Promise((resolve) => odd.close(resolve));
    }
  });

  it('says a credentials call on a security-group grant is a conflict', async () => {
    const c = client();
    const r = await c.createRequest({ resource: 'prod-db', duration: '5m', reason: 'x' });
    api.approve(r.id);
    await expect(c.credentials(r.id)).rejects.toMatchObject({ status: 409, code: 'conflict' });
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates', () => {
    expect(retryAfterMs('5')).toBe(5000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
  });
});
