import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { type BotProcess, runProcess, until } from '../support/bot-process';
import { CHANNEL, DEFAULT_POLICY, GROUP_ID, type Harness, startHarness } from '../support/harness';
import { allText, approvalPosts, lastReply, threadPosts } from '../support/slack-queries';

/**
 * `hallpass run` and `hallpass mcp` as real processes against the real app (the harness: Bolt, the HTTP
 * API, SQLite or PostgreSQL, the real EC2 adapter on a fake EC2), not a fake of the API: the clients and
 * the server agree on the contract, a job's grant ends with the job, and a job that dies is ended by its
 * lease. The fake clock moves only when a test says, so lease expiry is exact.
 */
const ROOT = path.resolve(__dirname, '../..');
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const ADMIN = 'UADMIN1';
jest.setTimeout(60_000);

/** DEFAULT_POLICY with automation on prod-db: tokens auto-approved up to 15m, agents up to 5m (at most 10m). */
const POLICY = DEFAULT_POLICY.replace(
  '    breakGlassMaxDuration: 30m\n',
  `    breakGlassMaxDuration: 30m
    automation:
      autoApproveWithin: 15m
      agents:
        autoApproveWithin: 5m
        maxDuration: 10m
`,
);

let h: Harness;
let dir: string;
let token: string;
const running: BotProcess[] = [];

beforeEach(async () => {
  h = await startHarness({ policy: POLICY });
  dir = mkdtempSync(path.join(tmpdir(), 'hallpass-real-run-'));
  await h.command(ADMIN, 'token create nightly prod-db --auto-approve-within 15m');
  const secret = /hp_[A-Za-z0-9]+_[A-Za-z0-9]+/.exec(lastReply(h.slack, ADMIN))?.[0];
  if (secret === undefined) throw new Error(`no token in: ${lastReply(h.slack, ADMIN)}`);
  token = secret;
});
afterEach(async () => {
  for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  const pidFile = path.join(dir, 'child.pid');
  if (existsSync(pidFile)) {
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

const baseUrl = () => `http://127.0.0.1:${h.hallpass.port}`;

function hallpassRun(args: string[]): BotProcess {
  const p = runProcess(
    process.execPath,
    ['--import', TSX_LOADER, path.join(ROOT, 'src/main.ts'), 'run', ...args],
    {
      cwd: dir,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '',
        HALLPASS_URL: baseUrl(),
        HALLPASS_TOKEN: token,
        HALLPASS_POLL_INTERVAL_MS: '200',
      },
    },
  );
  running.push(p);
  return p;
}

/** A node one-liner as the job: writes its pid and the grant's exports to files, then does `then`. */
const job = (then: string): string[] => [
  process.execPath,
  '-e',
  `const fs=require('fs');fs.writeFileSync('child.pid',String(process.pid));` +
    `fs.writeFileSync('env.json',JSON.stringify(Object.fromEntries(Object.entries(process.env).filter(([k])=>k.startsWith('HALLPASS_')))));${then}`,
];

const grants = () =>
  h.db.rows<{ id: string; state: string; end_reason: string | null; ended_by: string | null }>(
    'SELECT id, state, end_reason, ended_by FROM grants',
  );
const rulesOpen = () => h.ec2.rules(GROUP_ID).length;

describe('hallpass run against the running app', () => {
  it('opens, gives the job its address and ports, and ends the grant the moment the job exits 0', async () => {
    const run = hallpassRun([
      'prod-db',
      '10m',
      '--reason',
      'nightly vacuum',
      '--from',
      '203.0.113.7',
      '--',
      ...job(''),
    ]);
    expect(await run.exited).toBe(0);
    const env = JSON.parse(readFileSync(path.join(dir, 'env.json'), 'utf8')) as Record<string, string>;
    expect(env).toMatchObject({
      HALLPASS_ADDRESS: '203.0.113.7/32',
      HALLPASS_PORTS: '5432',
      HALLPASS_PROTOCOL: 'tcp',
    });
    expect(env['HALLPASS_TOKEN']).toBeUndefined();
    const [grant] = await until(async () => {
      const g = await grants();
      return g[0]?.state === 'closed' ? g : undefined;
    }, 'the grant closed');
    expect(grant?.id).toBe(env['HALLPASS_GRANT_ID']);
    expect(rulesOpen()).toBe(0);
    expect(h.ec2.calls.some((c) => c.action === 'AuthorizeSecurityGroupIngress')).toBe(true);
    // The card says who asked; the start and end are told in the channel.
    expect(approvalPosts(h.slack).map(allText).join('\n')).toContain('automation `nightly`');
    expect(run.output()).not.toContain(token);
  });

  it("passes the job's failure through (exit 1) and still ends the grant", async () => {
    const run = hallpassRun([
      'prod-db',
      '10m',
      '--reason',
      'migration',
      '--from',
      '203.0.113.8',
      '--',
      ...job('process.exit(1)'),
    ]);
    expect(await run.exited).toBe(1);
    await until(async () => ((await grants())[0]?.state === 'closed' ? true : undefined), 'the grant closed');
    expect(rulesOpen()).toBe(0);
  });

  it('Ctrl-C: forwards SIGINT to the job, ends the grant, exits 130', async () => {
    const run = hallpassRun([
      'prod-db',
      '10m',
      '--reason',
      'long job',
      '--from',
      '203.0.113.9',
      '--',
      ...job('setTimeout(()=>{},60000)'),
    ]);
    await until(async () => (existsSync(path.join(dir, 'env.json')) ? true : undefined), 'the job started');
    expect(rulesOpen()).toBe(1);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    await until(async () => ((await grants())[0]?.state === 'closed' ? true : undefined), 'the grant closed');
    expect(rulesOpen()).toBe(0);
  });

  it('a killed client stops renewing: the lease ends the grant when it runs out, and the channel hears why', async () => {
    const run = hallpassRun([
      'prod-db',
      '10m',
      '--reason',
      'fragile job',
      '--from',
      '203.0.113.10',
      '--lease',
      '20s',
      '--',
      ...job('setTimeout(()=>{},60000)'),
    ]);
    await until(async () => (existsSync(path.join(dir, 'env.json')) ? true : undefined), 'the job started');
    run.child.kill('SIGKILL');
    await run.exited;
    // Within the lease, the grant holds.
    await h.advance(19_000);
    expect((await grants())[0]?.state).toBe('active');
    expect(rulesOpen()).toBe(1);
    await h.advance(1_000);
    await until(
      async () => ((await grants())[0]?.state === 'closed' ? true : undefined),
      'the grant closed by its lease',
    );
    expect(rulesOpen()).toBe(0);
    const api = await h.api(
      'GET',
      `/api/v1/requests/${JSON.parse(readFileSync(path.join(dir, 'env.json'), 'utf8')).HALLPASS_REQUEST_ID}`,
      { token },
    );
    expect(api.body).toMatchObject({ status: 'ended', grant: { endReason: 'lease-expired' } });
    expect(threadPosts(h.slack, CHANNEL).map(allText).join('\n')).toMatch(/lease/i);
  });
});

describe('hallpass mcp against the running app, through the MCP SDK client', () => {
  let client: Client | undefined;
  afterEach(async () => {
    await client?.close().catch(() => undefined);
    client = undefined;
  });

  it('lists, requests as the agent (auto-approved within the agents limit), waits, and ends the window', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ['--import', TSX_LOADER, path.join(ROOT, 'src/main.ts'), 'mcp'],
      cwd: ROOT,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '',
        HALLPASS_URL: baseUrl(),
        HALLPASS_TOKEN: token,
        HALLPASS_AGENT_NAME: 'remediator',
        HALLPASS_ON_BEHALF_OF: 'alice@example.com',
        HALLPASS_POLL_INTERVAL_MS: '200',
      },
      stderr: 'pipe',
    });
    client = new Client({ name: 'test-host', version: '1.0.0' });
    await client.connect(transport);
    const text = (r: unknown) =>
      ((r as { content: { type: string; text: string }[] }).content ?? []).map((c) => c.text).join('\n');

    const listed = await client.callTool({ name: 'list_resources', arguments: {} });
    expect(text(listed)).toContain('prod-db');
    expect(text(listed)).not.toContain('prod-readonly');

    const asked = await client.callTool({
      name: 'request_access',
      arguments: {
        resource: 'prod-db',
        duration: '5m',
        reason: 'restart stuck worker',
        from: '198.51.100.4',
      },
    });
    expect(asked.isError).toBeFalsy();
    const row = await until(async () => {
      const r = await h.db.rows<{ request_id: string; agent_name: string; on_behalf_of: string }>(
        'SELECT request_id, agent_name, on_behalf_of FROM api_requests',
      );
      return r[0];
    }, 'the agent request recorded');
    expect(row).toMatchObject({ agent_name: 'remediator', on_behalf_of: 'alice@example.com' });
    expect(text(asked)).toContain(row.request_id);

    const waited = await client.callTool({
      name: 'wait_for_access',
      arguments: { requestId: row.request_id, timeoutSeconds: 30 },
    });
    expect(waited.isError).toBeFalsy();
    expect(text(waited)).toContain('198.51.100.4/32');
    expect(rulesOpen()).toBe(1);
    expect(approvalPosts(h.slack).map(allText).join('\n')).toContain(
      'agent `remediator` via automation `nightly`',
    );

    const ended = await client.callTool({ name: 'end_access', arguments: { requestId: row.request_id } });
    expect(ended.isError).toBeFalsy();
    await until(async () => ((await grants())[0]?.state === 'closed' ? true : undefined), 'the window ended');
    expect(rulesOpen()).toBe(0);
  });
});
