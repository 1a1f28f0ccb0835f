import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { until } from '../support/bot-process';
import {
  FAKE_SECRET_ACCESS_KEY,
  type FakeHallpassApi,
  startFakeHallpassApi,
} from '../support/fake-hallpass-api';

/**
 * `hallpass mcp` through the MCP SDK's own client: `StdioClientTransport` spawns
 * `node --import tsx src/main.ts mcp`, which talks to a fake of the API (tests/support/fake-hallpass-api.ts).
 */
const ROOT = path.resolve(__dirname, '../..');
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const TOKEN = 'hp_mcp_test_token_never_print';
jest.setTimeout(30_000);

let api: FakeHallpassApi;
let client: Client;
let transport: StdioClientTransport;
let stderr: string;

beforeEach(async () => {
  api = await startFakeHallpassApi({
    tokens: [TOKEN],
    enforceLeases: true,
    resources: [
      { id: 'prod-db', kind: 'security-group', maxDuration: '1h', autoApprove: true, ports: ['5432'] },
      { id: 'prod-db-gated', kind: 'security-group', maxDuration: '1h', autoApprove: false, ports: ['5432'] },
      { id: 'prod-admin', kind: 'aws-role', maxDuration: '1h', autoApprove: true, region: 'eu-west-1' },
    ],
  });
});
afterEach(async () => {
  await client?.close().catch(() => undefined);
  await api.close();
});

async function connect(env: Record<string, string> = {}, clientName = 'test-agent-host'): Promise<void> {
  stderr = '';
  transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', TSX_LOADER, path.join(ROOT, 'src/main.ts'), 'mcp'],
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      HALLPASS_URL: api.url,
      HALLPASS_TOKEN: TOKEN,
      HALLPASS_POLL_INTERVAL_MS: '200',
      ...env,
    },
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  client = new Client({ name: clientName, version: '1.0.0' });
  await client.connect(transport);
}

type Text = { type: 'text'; text: string };
async function call(name: string, args: Record<string, unknown> = {}) {
  const result = await client.callTool({ name, arguments: args });
  const [first] = result.content as Text[];
  return { isError: result.isError === true, text: first?.text ?? '' };
}
async function callOk(name: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const r = await call(name, args);
  if (r.isError) throw new Error(`${name} failed: ${r.text}`);
  return JSON.parse(r.text) as Record<string, unknown>;
}
const AGENT = { HALLPASS_AGENT_NAME: 'remediator', HALLPASS_ON_BEHALF_OF: '@alice' };

describe('hallpass mcp', () => {
  it('lists its five tools, each with an input schema', async () => {
    await connect(AGENT);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'access_status',
      'end_access',
      'list_resources',
      'request_access',
      'wait_for_access',
    ]);
    const request = tools.find((t) => t.name === 'request_access');
    expect(request?.inputSchema.required).toEqual(expect.arrayContaining(['resource', 'duration', 'reason']));
  });

  it('list_resources: what the token may ask for', async () => {
    await connect(AGENT);
    const out = await callOk('list_resources');
    expect((out['resources'] as { id: string }[]).map((r) => r.id)).toEqual([
      'prod-db',
      'prod-db-gated',
      'prod-admin',
    ]);
    expect(api.calls[0]?.token).toBe(TOKEN);
  });

  it('request_access names the agent and whom it acts for, and always asks for a lease', async () => {
    await connect({ ...AGENT, HALLPASS_MCP_LEASE: '9s' });
    const out = await callOk('request_access', {
      resource: 'prod-db-gated',
      duration: '10m',
      reason: 'restart the stuck replica',
      from: '198.51.100.7',
    });
    expect(out).toMatchObject({ status: 'pending', next: 'call wait_for_access with this requestId' });
    const [r] = api.requests();
    expect(r?.body).toEqual({
      resource: 'prod-db-gated',
      duration: '10m',
      reason: 'restart the stuck replica',
      from: '198.51.100.7',
      lease: { ttl: '9s' },
      agent: { name: 'remediator', onBehalfOf: '@alice' },
    });
  });

  it("uses the MCP client's name when HALLPASS_AGENT_NAME is not set", async () => {
    await connect({}, 'claude-code');
    await callOk('request_access', { resource: 'prod-db', duration: '5m', reason: 'x' });
    expect(api.requests()[0]?.body['agent']).toEqual({ name: 'claude-code' });
  });

  it('wait_for_access waits until approved, then gives the address and ports', async () => {
    await connect(AGENT);
    const { requestId } = await callOk('request_access', {
      resource: 'prod-db-gated',
      duration: '5m',
      reason: 'x',
    });
    const still = await callOk('wait_for_access', { requestId, timeoutSeconds: 1 });
    expect(still).toMatchObject({ status: 'pending', next: 'still waiting: call wait_for_access again' });
    setTimeout(() => api.approve(String(requestId)), 500);
    const open = await callOk('wait_for_access', { requestId, timeoutSeconds: 20 });
    expect(open).toMatchObject({
      status: 'active',
      grant: { address: '203.0.113.7/32', protocol: 'tcp', ports: ['5432'] },
    });
  });

  it('wait_for_access reports progress while it waits, when the client asks for it', async () => {
    await connect(AGENT);
    const { requestId } = await callOk('request_access', {
      resource: 'prod-db-gated',
      duration: '5m',
      reason: 'x',
    });
    const progress: { progress: number; total?: number; message?: string }[] = [];
    const result = await client.callTool(
      { name: 'wait_for_access', arguments: { requestId, timeoutSeconds: 2 } },
      undefined,
      {
        onprogress: (p) => progress.push(p),
      },
    );
    expect(result.isError).not.toBe(true);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress[0]).toMatchObject({ total: 2, message: `${String(requestId)} is waiting for approval` });
  });

  it('wait_for_access gives a role grant its STS credentials, and tells a denial', async () => {
    await connect(AGENT);
    const role = await callOk('request_access', { resource: 'prod-admin', duration: '5m', reason: 'x' });
    const open = await callOk('wait_for_access', { requestId: role['requestId'] });
    expect(open['credentials']).toMatchObject({
      AWS_SECRET_ACCESS_KEY: FAKE_SECRET_ACCESS_KEY,
      AWS_REGION: 'eu-west-1',
    });
    expect(stderr).not.toContain(FAKE_SECRET_ACCESS_KEY);

    const gated = await callOk('request_access', { resource: 'prod-db-gated', duration: '5m', reason: 'x' });
    api.deny(String(gated['requestId']), 'Denied by @bob.');
    const denied = await callOk('wait_for_access', { requestId: gated['requestId'] });
    expect(denied).toMatchObject({ status: 'denied', message: 'Denied by @bob.' });
  });

  it('withholds role credentials with HALLPASS_MCP_CREDENTIALS=omit', async () => {
    await connect({ ...AGENT, HALLPASS_MCP_CREDENTIALS: 'omit' });
    const role = await callOk('request_access', { resource: 'prod-admin', duration: '5m', reason: 'x' });
    const open = await callOk('wait_for_access', { requestId: role['requestId'] });
    expect(open['credentials']).toBe('withheld (HALLPASS_MCP_CREDENTIALS=omit)');
    expect(api.callsTo('POST', /\/credentials$/)).toHaveLength(0);
  });

  it('access_status and end_access: the state, then the window ended', async () => {
    await connect(AGENT);
    const { requestId } = await callOk('request_access', {
      resource: 'prod-db',
      duration: '5m',
      reason: 'x',
    });
    expect(await callOk('access_status', { requestId })).toMatchObject({ status: 'active' });
    const ended = await callOk('end_access', { requestId });
    expect(ended).toMatchObject({ status: 'ended', grant: { endReason: 'done' } });
    expect(api.callsTo('POST', /\/done$/)).toHaveLength(1);
  });

  it.each([
    [
      'request_access',
      { resource: 'billing', duration: '5m', reason: 'x' },
      /This token may not ask for billing\./,
    ],
    ['request_access', { resource: 'prod-db', duration: 'soon', reason: 'x' }, /duration/],
    ['request_access', { resource: 'prod-db', duration: '5m', reason: '' }, /reason/],
    ['wait_for_access', { requestId: 'req_nope', timeoutSeconds: 5 }, /No request req_nope/],
    ['wait_for_access', { requestId: 'req_1', timeoutSeconds: 3600 }, /timeoutSeconds/],
    ['access_status', { requestId: 'req_nope' }, /No request req_nope/],
    ['end_access', {}, /requestId/],
  ])('%s with %j is a tool error that says why', async (name, args, message) => {
    await connect(AGENT);
    const r = await call(name, args);
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(message);
  });

  it('says a refused token as a tool error with the server message', async () => {
    await connect({ ...AGENT, HALLPASS_TOKEN: 'hp_wrong' });
    const r = await call('list_resources');
    expect(r).toEqual({ isError: true, text: 'The token is missing, unknown, expired or revoked.' });
  });

  it('renews the leases of its live requests while it runs', async () => {
    await connect({ ...AGENT, HALLPASS_MCP_LEASE: '3s' });
    const { requestId } = await callOk('request_access', {
      resource: 'prod-db',
      duration: '5m',
      reason: 'x',
    });
    await until(
      async () => (api.callsTo('POST', /\/lease$/).length >= 3 ? true : undefined),
      'three renewals',
      10_000,
    );
    // three renewals at ttl/3 means the 3 s lease would have lapsed without them
    expect(api.request(String(requestId))?.status).toBe('active');
  });

  it('ends every live request when the client closes', async () => {
    await connect(AGENT);
    const a = await callOk('request_access', { resource: 'prod-db', duration: '5m', reason: 'x' });
    const b = await callOk('request_access', { resource: 'prod-db-gated', duration: '5m', reason: 'x' });
    await client.close();
    await until(
      async () => (api.callsTo('POST', /\/done$/).length >= 2 ? true : undefined),
      'the done calls',
      5_000,
    );
    expect(api.request(String(a['requestId']))?.status).toBe('ended');
    expect(api.request(String(b['requestId']))?.status).toBe('cancelled');
  });

  it('ends every live request on SIGTERM', async () => {
    await connect(AGENT);
    const { requestId } = await callOk('request_access', {
      resource: 'prod-db',
      duration: '5m',
      reason: 'x',
    });
    const pid = transport.pid;
    if (pid === null) throw new Error('no pid');
    process.kill(pid, 'SIGTERM');
    await until(
      async () => (api.request(String(requestId))?.status === 'ended' ? true : undefined),
      'the end',
      5_000,
    );
    expect(api.request(String(requestId))?.grant?.endReason).toBe('done');
    await until(
      async () => (/SIGTERM: ending req_1/.test(stderr) ? true : undefined),
      'the stderr line',
      2_000,
    );
  });

  it('killed, renews no more: the leases end its windows', async () => {
    await connect({ ...AGENT, HALLPASS_MCP_LEASE: '3s' });
    const { requestId } = await callOk('request_access', {
      resource: 'prod-db',
      duration: '5m',
      reason: 'x',
    });
    const pid = transport.pid;
    if (pid === null) throw new Error('no pid');
    process.kill(pid, 'SIGKILL');
    await until(
      async () => (api.request(String(requestId))?.status === 'ended' ? true : undefined),
      'the lease expiry',
      8_000,
    );
    expect(api.request(String(requestId))?.grant?.endReason).toBe('lease_expired');
    expect(api.callsTo('POST', /\/done$/)).toHaveLength(0);
  });

  it('writes nothing but JSON-RPC on stdout', async () => {
    const child = spawn(process.execPath, ['--import', TSX_LOADER, path.join(ROOT, 'src/main.ts'), 'mcp'], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', HALLPASS_URL: api.url, HALLPASS_TOKEN: TOKEN },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.stdin.write(
      `${JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'raw', version: '1' },
        },
      })}\n`,
    );
    await until(async () => (out.includes('"id":1') ? true : undefined), 'the initialize answer', 10_000);
    child.stdin.end();
    expect(await exited).toBe(0);
    const lines = out.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ jsonrpc: '2.0' });
    expect(err).toMatch(/hallpass mcp: serving on stdio/);
  });
});
