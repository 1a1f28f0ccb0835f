import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runBot, until } from '../support/bot-process';
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
  afterEach(async () => {
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
  });

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
});
