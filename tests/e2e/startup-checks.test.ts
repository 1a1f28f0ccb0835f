import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Hallpass, startHallpass } from '../../src/compose';
import { loadEnv } from '../../src/config';
import { parsePolicy } from '../../src/config/policy';
import { FakeClock } from '../support/fake-clock';
import { type FakeEc2, startFakeEc2 } from '../support/fake-ec2';
import { type FakeStsIam, startFakeStsIam } from '../support/fake-sts-iam';
import {
  BOT_TOKEN,
  CHANNEL,
  DEFAULT_GROUPS,
  DEFAULT_POLICY,
  GROUP_ID,
  ROLE_ARN,
  SIGNING_SECRET,
} from '../support/harness';
import { MemoryLogger } from '../support/memory-logger';
import { type SlackStandIn, startSlackStandIn } from '../support/slack-stand-in';

/**
 * The checks of `hallpass check` at start-up, on (as in `npm start`): only a token Slack refuses and no
 * AWS credentials at all stop start-up, naming the variable to set; everything else is a warning naming
 * the setting, and hallpass starts.
 */

const AWS_KEYS = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
];

let slack: SlackStandIn;
let ec2: FakeEc2;
let sts: FakeStsIam;
let dir: string;
let logger: MemoryLogger;
let bot: Hallpass | undefined;
const saved = { ...process.env };

beforeEach(async () => {
  slack = await startSlackStandIn();
  slack.setGroups(DEFAULT_GROUPS);
  ec2 = await startFakeEc2({ groups: [GROUP_ID] });
  sts = await startFakeStsIam({ roles: [{ arn: ROLE_ARN }] });
  dir = mkdtempSync(path.join(tmpdir(), 'hallpass-startup-'));
  logger = new MemoryLogger();
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'AKIDSTARTUPTEST',
    AWS_SECRET_ACCESS_KEY: 'startup-test-secret',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_EC2: ec2.url,
    AWS_ENDPOINT_URL_STS: sts.stsUrl,
    AWS_ENDPOINT_URL_IAM: sts.iamUrl,
  });
});
afterEach(async () => {
  await bot?.stop();
  bot = undefined;
  slack.restore();
  await slack.close();
  await ec2.close();
  await sts.close();
  rmSync(dir, { recursive: true, force: true });
  process.env = { ...saved };
});

async function start(env: Record<string, string> = {}): Promise<Hallpass> {
  const loaded = loadEnv({
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    PORT: '0',
    HALLPASS_DB: path.join(dir, 'hallpass.db'),
    ...env,
  });
  if (!loaded.ok) throw new Error(loaded.section.problems.join('\n'));
  const clock = new FakeClock();
  bot = await startHallpass({
    env: loaded.value,
    policy: parsePolicy(DEFAULT_POLICY),
    logger,
    clock,
    timers: clock,
    reconcile: false,
    slackBackoff: { initialMs: 60_000, maxMs: 60_000 },
  });
  await bot.settled();
  return bot;
}

const warnings = () => logger.lines.filter((l) => l.level === 'warn' && l.msg.startsWith('start-up check: '));
const health = async (b: Hallpass) => (await fetch(`http://127.0.0.1:${b.port}/healthz`)).status;

/** No credentials anywhere the SDK's chain looks (and no instance metadata to ask). */
function noAwsCredentials(): void {
  for (const key of AWS_KEYS) delete process.env[key];
  Object.assign(process.env, {
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-credentials'),
    AWS_CONFIG_FILE: path.join(dir, 'no-config'),
  });
}

describe('start-up checks', () => {
  it.each(['invalid_auth', 'token_revoked', 'account_inactive', 'not_authed'])(
    'stop start-up when Slack refuses the token (%s), naming SLACK_BOT_TOKEN',
    async (error) => {
      slack.outage(error, ['auth.test']);
      await expect(start()).rejects.toThrow(
        new RegExp(`^SLACK_BOT_TOKEN: Slack refuses the token \\(${error}\\)`),
      );
    },
  );

  it('stop start-up when there are no AWS credentials at all, naming the variables to set — unless HALLPASS_AWS=dry-run', async () => {
    noAwsCredentials();
    await expect(start()).rejects.toThrow(
      /^no AWS credentials found .*Set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.*HALLPASS_AWS=dry-run/s,
    );
    const b = await start({ HALLPASS_AWS: 'dry-run' });
    expect(await health(b)).toBe(200);
  });

  it('log everything else as a warning naming the setting, and start', async () => {
    slack.setChannel(CHANNEL, 'missing');
    slack.setGroups([
      { id: 'S0SRE', handle: 'sre', users: ['UAPPROVER1'] },
      { id: 'S0BACKEND', handle: 'backend', users: ['UREQUESTER1'] },
    ]);
    slack.setScopes(['commands', 'chat:write']);
    ec2.failNext('DescribeSecurityGroups', 'InvalidGroup.NotFound', 400, 3);
    const b = await start();
    expect(await health(b)).toBe(200);
    const said = warnings().map((l) => l.msg);
    expect(said).toEqual([
      expect.stringMatching(
        /^start-up check: scopes not granted: chat:write\.public, .* \(fix: the Slack app: /,
      ),
      expect.stringMatching(
        /^start-up check: channel C0123ABCD .*: not found, or private .* \(fix: the channel id in HALLPASS_POLICY/,
      ),
      expect.stringMatching(
        /^start-up check: @security is not a user group of this workspace \(admins\) \(fix: HALLPASS_POLICY: /,
      ),
      expect.stringMatching(
        /^start-up check: resources prod-db: security group sg-0123456789abcdef0 not found in us-east-1 \(fix: securityGroupId and region of resources prod-db in HALLPASS_POLICY\)/,
      ),
      expect.stringMatching(/resources prod-web: security group .* not found/),
      expect.stringMatching(/resources staging-db: security group .* not found/),
    ]);
    // Start-up only reads: no DryRun write, no simulation.
    expect(ec2.calls.map((c) => c.action)).toEqual([
      'DescribeSecurityGroups',
      'DescribeSecurityGroups',
      'DescribeSecurityGroups',
    ]);
    expect(sts.calls.map((c) => c.action)).toEqual(['GetCallerIdentity', 'GetRole']);
  });

  it('treat answers the other side does not support as warnings, never as a reason to stop', async () => {
    slack.outage('unknown_method', ['conversations.info', 'usergroups.list']);
    ec2.failNext('DescribeSecurityGroups', 'InvalidAction', 400, 3);
    sts.failNext('sts', 'GetCallerIdentity', 'InvalidAction', 400);
    sts.failNext('iam', 'GetRole', 'InvalidAction', 400);
    const b = await start();
    expect(await health(b)).toBe(200);
    expect(warnings().map((l) => l.msg)).toEqual(
      Array(warnings().length).fill(expect.stringMatching(/^start-up check: could not check /)),
    );
    // The two groups' and channel's methods, the scopes (no answer carried them), STS, EC2 ×3, IAM.
    expect(warnings().length).toBe(8);
  });

  it('say loudly that Slack is unreachable, naming SLACK_API_URL, and start', async () => {
    slack.outage('drop');
    const b = await start();
    expect(await health(b)).toBe(200);
    const loud = logger.lines.find(
      (l) => l.level === 'error' && l.msg.startsWith('Slack is unreachable at '),
    );
    expect(loud?.msg).toContain(slack.apiUrl);
    expect(loud?.msg).toContain('SLACK_API_URL');
  });
});
