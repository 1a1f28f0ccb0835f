import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RUN_EXIT, runAccess } from '../../src/cli/run';
import { type BotProcess, runProcess, until } from '../support/bot-process';
import {
  FAKE_SECRET_ACCESS_KEY,
  FAKE_SESSION_TOKEN,
  type FakeHallpassApi,
  startFakeHallpassApi,
} from '../support/fake-hallpass-api';

/**
 * `hallpass run` as a real process (`node --import tsx src/main.ts run …`) against a fake of the API
 * (tests/support/fake-hallpass-api.ts); the commands it runs are small node scripts that leave files
 * behind. The lead adds the same against the real app once the API is merged.
 */
const ROOT = path.resolve(__dirname, '../..');
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const TOKEN = 'hp_run_test_token_never_print';
// Every test starts real processes (tsx compiles on start: about a second each on a busy machine).
jest.setTimeout(30_000);

let api: FakeHallpassApi;
let dir: string;
const running: BotProcess[] = [];

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'hallpass-run-'));
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
  for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const f of ['child.pid']) {
    const file = path.join(dir, f);
    if (existsSync(file)) {
      try {
        process.kill(Number(readFileSync(file, 'utf8')), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `hallpass run <args>` with the fake API's URL and token (unless `env` says otherwise). */
function hallpassRun(args: string[], env: Record<string, string | undefined> = {}): BotProcess {
  const full: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '',
    HALLPASS_URL: api.url,
    HALLPASS_TOKEN: TOKEN,
    HALLPASS_POLL_INTERVAL_MS: '200',
    SOMETHING_OF_THE_PARENT: 'kept',
  };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete full[k];
    else full[k] = v;
  }
  const p = runProcess(
    process.execPath,
    ['--import', TSX_LOADER, path.join(ROOT, 'src/main.ts'), 'run', ...args],
    {
      cwd: dir,
      env: full,
    },
  );
  running.push(p);
  return p;
}

/** A node script as the command: it writes its pid, its environment, then does `body`. */
const script = (body: string): string[] => [
  process.execPath,
  '-e',
  `const fs=require('fs');process.chdir(${JSON.stringify(dir)});fs.writeFileSync('child.pid',String(process.pid));fs.writeFileSync('env.json',JSON.stringify(process.env));${body}`,
];
const childEnv = (): Record<string, string> => JSON.parse(readFileSync(path.join(dir, 'env.json'), 'utf8'));
const onlyRequest = () => {
  const [r, ...more] = api.requests();
  if (r === undefined || more.length > 0)
    throw new Error(`expected one request, saw ${api.requests().length}`);
  return r;
};
const doneCalls = () => api.callsTo('POST', /\/done$/);
const renewals = () => api.callsTo('POST', /\/lease$/);

describe('the hallpass bin', () => {
  it('--help shows run and mcp, and starts nothing', async () => {
    const p = runProcess(
      process.execPath,
      ['--import', TSX_LOADER, path.join(ROOT, 'src/main.ts'), '--help'],
      {
        cwd: dir,
        env: { PATH: process.env['PATH'] ?? '' },
      },
    );
    expect(await p.exited).toBe(0);
    expect(p.output()).toMatch(/hallpass run <resource> <duration> --reason/);
    expect(p.output()).toMatch(/hallpass mcp /);
  });

  it('run --help explains the exit codes', async () => {
    const p = hallpassRun(['--help']);
    expect(await p.exited).toBe(0);
    expect(p.output()).toMatch(/Exit codes: the command's own; 2 usage, 3 not granted/);
    expect(api.calls).toHaveLength(0);
  });
});

describe('hallpass run', () => {
  it('runs the command with the grant in its environment only, ends the grant at once, exits 0', async () => {
    const run = hallpassRun([
      'prod-db',
      '15m',
      '--reason',
      'fix the index',
      '--from',
      '198.51.100.9',
      '--',
      ...script(''),
    ]);
    expect(await run.exited).toBe(0);
    const r = onlyRequest();
    expect(r.body).toEqual({
      resource: 'prod-db',
      duration: '15m',
      reason: 'fix the index',
      from: '198.51.100.9',
      lease: { ttl: '30s' },
    });
    const env = childEnv();
    expect(env).toMatchObject({
      HALLPASS_REQUEST_ID: r.id,
      HALLPASS_GRANT_ID: r.grant?.id,
      HALLPASS_EXPIRES_AT: r.grant?.expiresAt,
      HALLPASS_ADDRESS: '198.51.100.9',
      HALLPASS_PROTOCOL: 'tcp',
      HALLPASS_PORTS: '5432',
      SOMETHING_OF_THE_PARENT: 'kept',
    });
    expect(env['HALLPASS_TOKEN']).toBeUndefined();
    expect(env['AWS_SECRET_ACCESS_KEY']).toBeUndefined();
    expect(doneCalls()).toHaveLength(1);
    expect(r.status).toBe('ended');
    expect(r.grant?.endReason).toBe('done');
    expect(run.output()).toMatch(/ended grant grt_/);
    expect(run.output()).not.toContain(TOKEN);
  });

  it("exits with the command's failure, and still ends the grant", async () => {
    const run = hallpassRun(['prod-db', '5m', '--reason', 'x', '--', ...script('process.exit(7)')]);
    expect(await run.exited).toBe(7);
    expect(doneCalls()).toHaveLength(1);
    expect(onlyRequest().status).toBe('ended');
  });

  it('exports STS credentials to the command only, never printing them', async () => {
    const run = hallpassRun(['prod-admin', '10m', '--reason', 'rotate keys', '--', ...script('')]);
    expect(await run.exited).toBe(0);
    expect(childEnv()).toMatchObject({
      AWS_ACCESS_KEY_ID: 'ASIAFAKEKEYID',
      AWS_SECRET_ACCESS_KEY: FAKE_SECRET_ACCESS_KEY,
      AWS_SESSION_TOKEN: FAKE_SESSION_TOKEN,
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
    });
    expect(api.callsTo('POST', /\/credentials$/)).toHaveLength(1);
    expect(run.output()).not.toContain(FAKE_SECRET_ACCESS_KEY);
    expect(run.output()).not.toContain(FAKE_SESSION_TOKEN);
  });

  it('waits for approval with progress lines, then runs', async () => {
    const run = hallpassRun(['prod-db-gated', '5m', '--reason', 'x', '--', ...script('')]);
    const r = await until(async () => api.requests()[0], 'the request');
    await until(
      async () => (/waiting for approval/.test(run.output()) ? true : undefined),
      'a progress line',
    );
    expect(existsSync(path.join(dir, 'env.json'))).toBe(false);
    api.approve(r.id);
    expect(await run.exited).toBe(0);
    expect(existsSync(path.join(dir, 'env.json'))).toBe(true);
  });

  it('keeps waiting through an outage of the API, and runs once approved', async () => {
    const run = hallpassRun(['prod-db-gated', '5m', '--reason', 'x', '--', ...script('')]);
    const r = await until(async () => api.requests()[0], 'the request');
    api.failNext(new RegExp(`/requests/${r.id}$`), 503, 8);
    await until(
      async () => (/injected 503; still waiting\./.test(run.output()) ? true : undefined),
      'the outage line',
    );
    api.approve(r.id);
    expect(await run.exited).toBe(0);
    expect(run.output()).toMatch(/hallpass answers again\./);
    expect(existsSync(path.join(dir, 'env.json'))).toBe(true);
  });

  it('exits 3 without running the command when the request is denied, saying why', async () => {
    const run = hallpassRun(['prod-db-gated', '5m', '--reason', 'x', '--', ...script('')]);
    const r = await until(async () => api.requests()[0], 'the request');
    api.deny(r.id, 'Denied by @alice: not now.');
    expect(await run.exited).toBe(RUN_EXIT.notGranted);
    expect(run.output()).toMatch(/was denied: Denied by @alice: not now\./);
    expect(existsSync(path.join(dir, 'env.json'))).toBe(false);
  });

  it('cancels the request and exits 4 when --timeout passes before approval', async () => {
    const run = hallpassRun(['prod-db-gated', '5m', '--reason', 'x', '--timeout', '1s', '--', ...script('')]);
    expect(await run.exited).toBe(RUN_EXIT.waitTimedOut);
    expect(onlyRequest().status).toBe('cancelled');
    expect(existsSync(path.join(dir, 'env.json'))).toBe(false);
  });

  it('passes SIGINT to the command, ends the grant, and exits 130', async () => {
    const run = hallpassRun([
      'prod-db',
      '5m',
      '--reason',
      'x',
      '--',
      ...script(
        "process.on('SIGINT',()=>{fs.writeFileSync('got-sigint','');setTimeout(()=>process.exit(0),300)});setInterval(()=>{},1000)",
      ),
    ]);
    await until(async () => (existsSync(path.join(dir, 'child.pid')) ? true : undefined), 'the command');
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(RUN_EXIT.sigint);
    expect(existsSync(path.join(dir, 'got-sigint'))).toBe(true);
    expect(doneCalls()).toHaveLength(1);
    expect(onlyRequest().status).toBe('ended');
  });

  it('cancels a pending request on SIGTERM and exits 143', async () => {
    const run = hallpassRun(['prod-db-gated', '5m', '--reason', 'x', '--', ...script('')]);
    await until(async () => api.requests()[0], 'the request');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(RUN_EXIT.sigterm);
    expect(onlyRequest().status).toBe('cancelled');
  });

  it('renews the lease every ttl/3 while the command runs', async () => {
    const run = hallpassRun([
      'prod-db',
      '5m',
      '--reason',
      'x',
      '--lease',
      '3s',
      '--',
      ...script('setTimeout(()=>{},3600)'),
    ]);
    expect(await run.exited).toBe(0);
    expect(onlyRequest().body['lease']).toEqual({ ttl: '3s' });
    expect(renewals().length).toBeGreaterThanOrEqual(2);
    expect(onlyRequest().grant?.endReason).toBe('done');
  });

  it('sends no lease with --no-lease', async () => {
    const run = hallpassRun(['prod-db', '5m', '--reason', 'x', '--no-lease', '--', ...script('')]);
    expect(await run.exited).toBe(0);
    expect(onlyRequest().body['lease']).toBeUndefined();
    expect(renewals()).toHaveLength(0);
  });

  it('killed with -9, renews no more, and the lease ends the grant', async () => {
    const run = hallpassRun([
      'prod-db',
      '5m',
      '--reason',
      'x',
      '--lease',
      '3s',
      '--',
      ...script('setInterval(()=>{},1000)'),
    ]);
    await until(async () => (renewals().length >= 1 ? true : undefined), 'a renewal');
    run.child.kill('SIGKILL');
    await run.exited;
    const seen = renewals().length;
    await until(async () => (onlyRequest().status === 'ended' ? true : undefined), 'the lease expiry', 6_000);
    expect(onlyRequest().grant?.endReason).toBe('lease_expired');
    expect(renewals()).toHaveLength(seen);
    expect(doneCalls()).toHaveLength(0);
  });

  it('stops the command and exits 6 when the grant ends under it', async () => {
    const run = hallpassRun([
      'prod-db',
      '5m',
      '--reason',
      'x',
      '--lease',
      '3s',
      '--',
      ...script(
        "process.on('SIGTERM',()=>{fs.writeFileSync('got-sigterm','');process.exit(0)});setInterval(()=>{},1000)",
      ),
    ]);
    await until(async () => (existsSync(path.join(dir, 'child.pid')) ? true : undefined), 'the command');
    api.end(onlyRequest().id, 'revoked by @alice');
    expect(await run.exited).toBe(RUN_EXIT.grantEnded);
    expect(existsSync(path.join(dir, 'got-sigterm'))).toBe(true);
    expect(run.output()).toMatch(/the grant ended before the command finished \(ended: revoked by @alice\)/);
  });

  it('exits 127 when the command cannot start, and ends the grant', async () => {
    const run = hallpassRun(['prod-db', '5m', '--reason', 'x', '--', './no-such-command']);
    expect(await run.exited).toBe(RUN_EXIT.notStarted);
    expect(run.output()).toMatch(/could not start \.\/no-such-command/);
    expect(onlyRequest().status).toBe('ended');
  });

  it('exits 5 with the server message for a refused token, without printing it', async () => {
    const run = hallpassRun(['prod-db', '5m', '--reason', 'x', '--', ...script('')], {
      HALLPASS_TOKEN: 'hp_wrong_secret',
    });
    expect(await run.exited).toBe(RUN_EXIT.apiError);
    expect(run.output()).toMatch(/The token is missing, unknown, expired or revoked\./);
    expect(run.output()).not.toContain('hp_wrong_secret');
  });

  it('exits 5 with the server message for a resource outside the token', async () => {
    const run = hallpassRun(['billing', '5m', '--reason', 'x', '--', ...script('')]);
    expect(await run.exited).toBe(RUN_EXIT.apiError);
    expect(run.output()).toMatch(/This token may not ask for billing\./);
  });

  it.each([
    [
      'no HALLPASS_TOKEN',
      ['prod-db', '5m', '--reason', 'x', '--', 'true'],
      { HALLPASS_TOKEN: undefined },
      /HALLPASS_TOKEN is not set/,
    ],
    [
      'no HALLPASS_URL',
      ['prod-db', '5m', '--reason', 'x', '--', 'true'],
      { HALLPASS_URL: undefined },
      /HALLPASS_URL is not set/,
    ],
    ['no command', ['prod-db', '5m', '--reason', 'x'], {}, /No command: put it after `--`/],
    ['no reason', ['prod-db', '5m', '--', 'true'], {}, /--reason "<why>" is required/],
    ['a bad duration', ['prod-db', 'soon', '--reason', 'x', '--', 'true'], {}, /"soon" is not a duration/],
    [
      'a lease too short',
      ['prod-db', '5m', '--reason', 'x', '--lease', '1s', '--', 'true'],
      {},
      /--lease "1s" must be a duration of at least 3s/,
    ],
    [
      'an unknown option',
      ['prod-db', '5m', '--reason', 'x', '--bogus', '--', 'true'],
      {},
      /Unknown option '--bogus'/,
    ],
  ])('refuses %s with exit 2 and says why', async (_label, args, env, message) => {
    // In this process (runAccess, as the bin calls it): a process per refusal adds nothing but time.
    const full: NodeJS.ProcessEnv = { HALLPASS_URL: api.url, HALLPASS_TOKEN: TOKEN };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete full[k];
    const err: string[] = [];
    const code = await runAccess(args, full, { out: () => undefined, err: (t) => err.push(t) });
    expect(code).toBe(RUN_EXIT.usage);
    expect(err.join('')).toMatch(message);
    expect(err.join('')).toMatch(/Usage:/);
    expect(api.calls).toHaveLength(0);
  });

  it('refuses a missing HALLPASS_TOKEN as a process too: exit 2, the variable named', async () => {
    const run = hallpassRun(['prod-db', '5m', '--reason', 'x', '--', 'true'], { HALLPASS_TOKEN: undefined });
    expect(await run.exited).toBe(RUN_EXIT.usage);
    expect(run.output()).toMatch(/HALLPASS_TOKEN is not set/);
    expect(api.calls).toHaveLength(0);
  });
});

describe('hallpass run, in this process', () => {
  it('rewrites one progress line on a terminal while it waits', async () => {
    const err: string[] = [];
    const env = { HALLPASS_URL: api.url, HALLPASS_TOKEN: TOKEN, HALLPASS_POLL_INTERVAL_MS: '200' };
    setTimeout(() => {
      const r = api.requests()[0];
      if (r !== undefined) api.approve(r.id);
    }, 1_500);
    const code = await runAccess(['prod-db-gated', '5m', '--reason', 'x', '--', ...script('')], env, {
      out: () => undefined,
      err: (t) => err.push(t),
      errIsTty: true,
    });
    expect(code).toBe(0);
    const text = err.join('');
    expect(text).toContain('\r\x1b[2Khallpass: request req_1 for prod-db-gated: waiting for approval (0:00)');
    expect(text).toContain('\r\x1b[2Khallpass: request req_1 for prod-db-gated: waiting for approval (0:01)');
    expect(text).toContain('\r\x1b[2Khallpass: granted prod-db-gated until ');
  });

  it("never puts the credentials in the parent's environment", async () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, { HALLPASS_URL: api.url, HALLPASS_TOKEN: TOKEN });
      const err: string[] = [];
      const code = await runAccess(['prod-admin', '5m', '--reason', 'x', '--', ...script('')], process.env, {
        out: () => undefined,
        err: (t) => err.push(t),
      });
      expect(code).toBe(0);
      expect(childEnv()['AWS_SECRET_ACCESS_KEY']).toBe(FAKE_SECRET_ACCESS_KEY);
      expect(process.env['AWS_SECRET_ACCESS_KEY']).not.toBe(FAKE_SECRET_ACCESS_KEY);
      expect(process.env['AWS_SESSION_TOKEN']).not.toBe(FAKE_SESSION_TOKEN);
      expect(process.env['HALLPASS_REQUEST_ID']).toBeUndefined();
      expect(err.join('')).not.toContain(FAKE_SECRET_ACCESS_KEY);
    } finally {
      process.env = saved;
    }
  });
});
