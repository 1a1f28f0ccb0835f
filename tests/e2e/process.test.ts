import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BotProcess, runBot, standInEnv, startedPort, until } from '../support/bot-process';
import { type FakeEc2, startFakeEc2 } from '../support/fake-ec2';
import { DEFAULT_POLICY } from '../support/harness';
import { type SlackStandIn, startSlackStandIn } from '../support/slack-stand-in';

describe('the hallpass process (npm start runs src/main.ts compiled)', () => {
  let dir: string;
  let slack: SlackStandIn;
  let ec2: FakeEc2;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hallpass-proc-'));
    slack = await startSlackStandIn();
    ec2 = await startFakeEc2();
  });
  /** Bots a test started: any still running when it ends (a failed assertion) is killed. */
  const started: BotProcess[] = [];
  const start = (env: Record<string, string>): BotProcess => {
    const bot = runBot(dir, env);
    started.push(bot);
    return bot;
  };
  /** How the bot exited, or `'still running'` after `ms`: a refused start exits at once. */
  const exitWithin = (bot: BotProcess, ms = 20_000): Promise<number | null | 'still running'> =>
    Promise.race([bot.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), ms))]);
  afterEach(async () => {
    for (const bot of started.splice(0)) {
      if (bot.child.exitCode === null && bot.child.signalCode === null) bot.child.kill('SIGKILL');
      await bot.exited;
    }
    await slack.close();
    await ec2.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start with one message naming every bad setting and policy field', async () => {
    writeFileSync(path.join(dir, 'policy.yml'), 'resources:\n  - id: Bad_Id\n    kind: security-group\n');
    const p = runBot(dir, { PORT: 'eighty' });
    expect(await p.exited).toBe(1);
    const out = p.output();
    for (const field of [
      'SLACK_BOT_TOKEN',
      'SLACK_SIGNING_SECRET',
      'PORT',
      'resources[0].id',
      'resources[0].region',
    ]) {
      expect(out).toContain(field);
    }
  }, 30_000);

  it('reads .env, creates and migrates the database, serves /healthz, and stops cleanly on SIGTERM', async () => {
    writeFileSync(path.join(dir, 'policy.yml'), DEFAULT_POLICY);
    writeFileSync(
      path.join(dir, '.env'),
      [
        'SLACK_BOT_TOKEN=xoxb-process-test',
        'SLACK_SIGNING_SECRET=process-test-secret',
        `SLACK_API_URL=${slack.apiUrl}`,
        'PORT=0',
        'HALLPASS_DB=./state/hallpass.db',
        'AWS_REGION=us-east-1',
        'AWS_ACCESS_KEY_ID=AKIDPROCESSTEST',
        'AWS_SECRET_ACCESS_KEY=process-test-aws-secret',
        `AWS_ENDPOINT_URL_EC2=${ec2.url}`,
      ].join('\n'),
    );
    const p = runBot(dir, {});
    const port = await until(async () => {
      const m = /"port":(\d+)/.exec(p.output());
      return m?.[1] === undefined ? undefined : Number(m[1]);
    }, 'the started log line');
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(res.status).toBe(200);
    expect(existsSync(path.join(dir, 'state/hallpass.db'))).toBe(true);
    expect(slack.callsTo('auth.test')).toHaveLength(1);
    // Start-up reconciliation read the policy's security group from (the fake) EC2.
    expect(ec2.calls.some((c) => c.action === 'DescribeSecurityGroupRules')).toBe(true);

    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.output()).not.toContain('process-test-secret');
    expect(p.output()).not.toContain('xoxb-process-test');
    expect(p.output()).not.toContain('process-test-aws-secret');
  }, 30_000);

  /** The bot's environment on the stand-ins, with its own AWS key so the fake EC2's log tells processes apart. */
  const envFor = (name: string, extra: Record<string, string> = {}) => ({
    ...standInEnv({
      name,
      signingSecret: `${name}-signing-secret`,
      slackApiUrl: slack.apiUrl,
      ec2Url: ec2.url,
    }),
    AWS_ACCESS_KEY_ID: `AKID${name.toUpperCase().replace(/[^A-Z0-9]/g, '')}`,
    ...extra,
  });
  const callsBy = (name: string) =>
    ec2.calls.filter((c) => c.accessKeyId === `AKID${name.toUpperCase().replace(/[^A-Z0-9]/g, '')}`);

  it('refuses a second process on the same SQLite file, naming HALLPASS_DB, before any AWS call; kill -9 frees the file', async () => {
    writeFileSync(path.join(dir, 'policy.yml'), DEFAULT_POLICY);
    const first = start(envFor('first'));
    await startedPort(first);
    // The first one reconciles with (the fake) EC2 once it serves: AWS calls are logged per process.
    await until(
      async () => (callsBy('first').length > 0 ? true : undefined),
      "the first process's AWS calls",
    );

    const second = start(envFor('second'));
    expect(await exitWithin(second)).toBe(1);
    const said = second.output();
    expect(said).toContain('HALLPASS_DB');
    expect(said).toContain('another hallpass process holds the SQLite database ./hallpass.db');
    expect(said).toContain('PostgreSQL');
    expect(callsBy('second')).toEqual([]);
    // The first is untouched and still serves.
    expect((await fetch(`http://127.0.0.1:${await startedPort(first)}/healthz`)).status).toBe(200);

    // A lock the kernel drops with the process: after kill -9 the next start takes the file at once.
    first.child.kill('SIGKILL');
    await first.exited;
    const third = start(envFor('third'));
    await startedPort(third);
    await until(
      async () => (callsBy('third').length > 0 ? true : undefined),
      "the third process's AWS calls",
    );
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  }, 60_000);

  it('stops with a message naming PORT when the port is in use, having made no AWS call', async () => {
    writeFileSync(path.join(dir, 'policy.yml'), DEFAULT_POLICY);
    const taken: Server = createServer();
    const port = await new Promise<number>((resolve) =>
      taken.listen(0, () => {
        const address = taken.address();
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      }),
    );
    try {
      const bot = start(envFor('busy', { PORT: String(port) }));
      expect(await exitWithin(bot)).toBe(1);
      expect(bot.output()).toContain(`PORT: port ${port} is already in use`);
      expect(bot.output()).toContain('before touching AWS');
      expect(ec2.calls).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
    // And the database it had taken is free again for the next start.
    const next = start(envFor('next'));
    await startedPort(next);
    next.child.kill('SIGTERM');
    expect(await next.exited).toBe(0);
  }, 60_000);
});
