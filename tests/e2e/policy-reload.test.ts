import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BotProcess, runBot, standInEnv, startedPort, until } from '../support/bot-process';
import { type FakeEc2, startFakeEc2 } from '../support/fake-ec2';
import { allText } from '../support/slack-queries';
import { postToApp, slashCommandBody } from '../support/slack-signing';
import { type SlackStandIn, startSlackStandIn } from '../support/slack-stand-in';

/**
 * Issue 8: a policy edit is an input like any other — it can neither stop hallpass nor strand a live
 * grant. The real process takes SIGHUP: a file that does not validate is refused whole (the running
 * policy stays, the process goes on), and a valid one takes effect at once — the channel is told about
 * a live grant whose resource the edit removed, and that grant still closes on time.
 */

const SECRET = 'policy-reload-signing-secret';
const GROUP = 'sg-0123456789abcdef0';
const CHANNEL = 'C0123ABCD';
const UNCAUGHT = 'uncaught error (a bug): kept running';

const resource = (id: string) => `
  - id: ${id}
    kind: security-group
    region: us-east-1
    securityGroupId: ${GROUP}
    ports: [5432]
    minDuration: 1s
    maxDuration: 1h
    channel: ${CHANNEL}
    autoApprove: true`;
const BEFORE = `admins: ["U0ADMIN"]\nresources:${resource('reload-db')}${resource('other-db')}\n`;
const AFTER = `admins: ["U0ADMIN"]\nresources:${resource('other-db')}\n`;
const BROKEN = 'admins: ["U0ADMIN"]\nresources:\n  - id: Not_A_Valid_Id\n    kind: security-group\n';

describe('the policy file, reloaded on SIGHUP', () => {
  let dir: string;
  let slack: SlackStandIn;
  let ec2: FakeEc2;
  let bot: BotProcess;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hallpass-reload-'));
    slack = await startSlackStandIn();
    ec2 = await startFakeEc2({ groups: [GROUP] });
    writeFileSync(path.join(dir, 'policy.yml'), BEFORE);
    bot = runBot(
      dir,
      standInEnv({
        name: 'policy-reload',
        signingSecret: SECRET,
        slackApiUrl: slack.apiUrl,
        ec2Url: ec2.url,
      }),
    );
  });
  afterEach(async () => {
    if (bot.child.exitCode === null) {
      bot.child.kill('SIGTERM');
      await bot.exited;
    }
    await slack.close();
    await ec2.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const reload = async (text: string, logLine: string) => {
    const seen = bot.output().split(logLine).length;
    writeFileSync(path.join(dir, 'policy.yml'), text);
    bot.child.kill('SIGHUP');
    await until(async () => (bot.output().split(logLine).length > seen ? true : undefined), logLine, 10_000);
  };

  it('refuses a broken file whole and keeps running; puts a valid one in force; a grant its edit removed still closes on time, and the channel is told', async () => {
    const port = await startedPort(bot);
    const body = slashCommandBody({
      user_id: 'U0RELOAD',
      channel_id: CHANNEL,
      text: 'reload-db 4s from 203.0.113.7 checking that a policy edit strands nothing',
      response_url: slack.responseUrl(),
    });
    expect((await postToApp(`http://127.0.0.1:${port}/slack/events`, body, { secret: SECRET })).status).toBe(
      200,
    );
    const open = () => ec2.rules(GROUP).filter((r) => r.cidr === '203.0.113.7/32');
    await until(async () => (open().length === 1 ? true : undefined), 'the rule to be opened', 10_000);

    await reload(BROKEN, 'policy reload refused');
    expect(bot.output()).toContain('resources[0].id');
    expect(bot.child.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

    await reload(AFTER, 'policy reloaded');
    await slack.waitFor(
      (calls) =>
        calls.some(
          (c) => c.ok && c.args['thread_ts'] !== undefined && allText(c).includes('The policy changed'),
        ) || undefined,
      10_000,
    );
    // The grant the edit removed still closes on time (bounded wait; timings are not asserted here).
    await until(async () => (open().length === 0 ? true : undefined), 'the rule to be revoked', 15_000);
    await slack.waitFor(
      (calls) =>
        calls.some((c) => c.ok && c.args['channel'] === 'U0RELOAD' && /closed at/.test(allText(c))) ||
        undefined,
      10_000,
    );
    expect(bot.child.exitCode).toBeNull();
    expect(bot.output()).not.toContain(UNCAUGHT);
  }, 60_000);
});
