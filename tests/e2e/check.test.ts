import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkAws } from '../../src/adapters/aws/aws-check';
import { createAwsClients } from '../../src/adapters/aws/aws-clients';
import { checkClient, checkSlack } from '../../src/adapters/slack/slack-check';
import type { Finding } from '../../src/app/check';
import { parsePolicy } from '../../src/config/policy';
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
import { type SlackStandIn, startSlackStandIn } from '../support/slack-stand-in';

const ROOT = path.resolve(__dirname, '../..');
const AWS_SECRET = 'check-test-aws-secret-never-print';
const POLICY = parsePolicy(DEFAULT_POLICY);

let slack: SlackStandIn;
let ec2: FakeEc2;
let sts: FakeStsIam;
const saved = { ...process.env };
/** AWS through the fakes, with credentials the output must never show. */
const awsEnv = () => ({
  AWS_ACCESS_KEY_ID: 'AKIDCHECKTEST',
  AWS_SECRET_ACCESS_KEY: AWS_SECRET,
  AWS_REGION: 'us-east-1',
  AWS_ENDPOINT_URL_EC2: ec2.url,
  AWS_ENDPOINT_URL_STS: sts.stsUrl,
  AWS_ENDPOINT_URL_IAM: sts.iamUrl,
});

beforeEach(async () => {
  slack = await startSlackStandIn();
  slack.setGroups(DEFAULT_GROUPS);
  ec2 = await startFakeEc2({ groups: [GROUP_ID] });
  sts = await startFakeStsIam({ roles: [{ arn: ROLE_ARN }] });
  Object.assign(process.env, awsEnv());
});
afterEach(async () => {
  await slack.close();
  await ec2.close();
  await sts.close();
  process.env = { ...saved };
});

const slackFindings = () =>
  checkSlack({ client: checkClient(BOT_TOKEN, slack.apiUrl, 2_000), apiUrl: slack.apiUrl, policy: POLICY });
async function awsFindings(backstop?: { roleArn: string; group: string }): Promise<Finding[]> {
  const aws = createAwsClients({ maxAttempts: 1 });
  try {
    return await checkAws({ aws, policy: POLICY, region: 'us-east-1', backstop });
  } finally {
    aws.destroy();
  }
}
const levels = (fs: readonly Finding[]) => fs.map((f) => f.level);
const problems = (fs: readonly Finding[]) => fs.filter((f) => f.level === 'problem');
const warnings = (fs: readonly Finding[]) => fs.filter((f) => f.level === 'warning');

describe('hallpass check: Slack', () => {
  it('finds nothing wrong with a correct set-up: token, scopes, the channel, every @group', async () => {
    const found = await slackFindings();
    expect(levels(found)).toEqual(found.map(() => 'ok'));
    expect(found.map((f) => f.what).join('\n')).toMatch(/@sre is a user group/);
    expect(found.map((f) => f.what).join('\n')).toMatch(new RegExp(`channel ${CHANNEL}`));
  });

  it('says a refused token names SLACK_BOT_TOKEN, and stops there', async () => {
    slack.failNext('auth.test', 'invalid_auth');
    const found = await slackFindings();
    expect(found).toEqual([
      expect.objectContaining({ level: 'problem', what: expect.stringContaining('invalid_auth') }),
    ]);
    expect(found[0]?.fix).toMatch(/^SLACK_BOT_TOKEN/);
  });

  it('says an unreachable Slack within its short timeout, naming SLACK_API_URL, and stops there', async () => {
    slack.outage('hang');
    const found = await slackFindings();
    slack.restore();
    expect(found).toEqual([
      expect.objectContaining({
        level: 'problem',
        what: expect.stringMatching(/^Slack is unreachable at http:\/\/127\.0\.0\.1:\d+\/api\//),
      }),
    ]);
    expect(found[0]?.fix).toMatch(/^SLACK_API_URL/);
    // One attempt: never the Web API client's default half hour of retries.
    expect(slack.callsTo('auth.test')).toHaveLength(1);
  });

  it('says which scopes are missing', async () => {
    slack.setScopes(['commands', 'chat:write']);
    const [p] = problems(await slackFindings());
    expect(p?.what).toBe(
      'scopes not granted: chat:write.public, usergroups:read, users:read, users:read.email, im:write, files:write',
    );
    expect(p?.fix).toMatch(/OAuth & Permissions/);
  });

  it('says a private channel the bot is not in, naming the resource that uses it', async () => {
    slack.setChannel(CHANNEL, 'missing');
    const p = problems(await slackFindings());
    expect(p).toHaveLength(1);
    expect(p[0]?.what).toMatch(
      /channel C0123ABCD \(resources prod-db, resources prod-web, .*\): not found, or private/,
    );
    expect(p[0]?.fix).toMatch(/HALLPASS_POLICY.*\/invite @hallpass/);
  });

  it('says plainly that user groups need a paid plan, with user ids as the alternative', async () => {
    slack.failNext('usergroups.list', 'paid_teams_only');
    const [p] = problems(await slackFindings());
    expect(p?.what).toMatch(/user groups \(@handles\) need a paid Slack plan; .* user id \(U…\) instead/);
    expect(p?.what).toMatch(/@security, @backend, @sre/);
  });

  it('says an @group that does not resolve, and where the policy names it', async () => {
    slack.setGroups([{ id: 'S0SRE', handle: 'sre', users: [] }]);
    const p = problems(await slackFindings());
    expect(p.map((f) => f.what)).toEqual([
      '@security is not a user group of this workspace (admins)',
      '@backend is not a user group of this workspace (resources prod-db requesters)',
    ]);
  });

  it('reports a method the other side does not know as "could not check", never as a problem', async () => {
    slack.failNext('conversations.info', 'unknown_method');
    slack.setScopes(undefined);
    const found = await slackFindings();
    expect(problems(found)).toEqual([]);
    expect(warnings(found).map((f) => f.what)).toEqual([
      'could not check the scopes: Slack sent no x-oauth-scopes header',
      expect.stringMatching(/^could not check channel C0123ABCD .*unknown_method/),
    ]);
  });
});

describe('hallpass check: AWS', () => {
  it('finds the identity, the group, the role and its trust, and every permission', async () => {
    const found = await awsFindings();
    expect(problems(found)).toEqual([]);
    expect(warnings(found)).toEqual([]);
    const text = found.map((f) => f.what).join('\n');
    expect(text).toMatch('AWS identity arn:aws:iam::123456789012:user/hallpass (account 123456789012)');
    expect(text).toMatch(`security group ${GROUP_ID} (group-${GROUP_ID}) found in us-east-1`);
    expect(text).toMatch(
      `ec2:AuthorizeSecurityGroupIngress allowed on arn:aws:ec2:us-east-1:123456789012:security-group/${GROUP_ID}`,
    );
    expect(text).toMatch(`the trust policy of ${ROLE_ARN} admits arn:aws:iam::123456789012:user/hallpass`);
    // The EC2 permission checks changed nothing: DryRun only.
    expect(ec2.rules()).toEqual([]);
    expect(
      ec2.calls.filter((c) => c.action === 'AuthorizeSecurityGroupIngress').map((c) => c.params['DryRun']),
    ).toEqual(['true', 'true', 'true']);
  });

  it('says a missing permission by action and resource, and a group not found names the policy setting', async () => {
    sts.denyInSimulation(['iam:PutRolePolicy']);
    await ec2.close();
    ec2 = await startFakeEc2({ groups: [] });
    process.env['AWS_ENDPOINT_URL_EC2'] = ec2.url;
    const p = problems(await awsFindings());
    expect(p.map((f) => f.what)).toEqual([
      `resources prod-db: security group ${GROUP_ID} not found in us-east-1`,
      `resources prod-web: security group ${GROUP_ID} not found in us-east-1`,
      `resources staging-db: security group ${GROUP_ID} not found in us-east-1`,
      `permissions missing on ${ROLE_ARN}: iam:PutRolePolicy`,
    ]);
    expect(p[0]?.fix).toBe('securityGroupId and region of resources prod-db in HALLPASS_POLICY');
  });

  it('says an EC2 permission missing (UnauthorizedOperation on DryRun) as missing, by action and resource', async () => {
    ec2.failNext('AuthorizeSecurityGroupIngress', 'UnauthorizedOperation', 403);
    const [p] = problems(await awsFindings());
    expect(p?.what).toBe(
      `permission missing: ec2:AuthorizeSecurityGroupIngress on arn:aws:ec2:us-east-1:123456789012:security-group/${GROUP_ID}`,
    );
    expect(p?.fix).toMatch(/npm run iam-policy/);
  });

  it('says a trust policy that does not admit hallpass, and a role that does not exist', async () => {
    await sts.close();
    sts = await startFakeStsIam({ roles: [{ arn: ROLE_ARN, trustedActions: ['sts:AssumeRole'] }] });
    Object.assign(process.env, { AWS_ENDPOINT_URL_STS: sts.stsUrl, AWS_ENDPOINT_URL_IAM: sts.iamUrl });
    expect(problems(await awsFindings()).map((f) => f.what)).toEqual([
      `resources prod-readonly: the trust policy of ${ROLE_ARN} does not admit arn:aws:iam::123456789012:user/hallpass for sts:TagSession, sts:SetSourceIdentity`,
    ]);
    sts.failNext('iam', 'GetRole', 'NoSuchEntity', 404);
    expect(problems(await awsFindings()).map((f) => f.what)).toEqual([
      `resources prod-readonly: role ${ROLE_ARN} does not exist`,
    ]);
  });

  it('checks the backstop’s Scheduler and PassRole permissions when it is on', async () => {
    const backstop = { roleArn: 'arn:aws:iam::123456789012:role/hallpass-backstop', group: 'hallpass' };
    expect(problems(await awsFindings(backstop))).toEqual([]);
    sts.denyInSimulation(['iam:PassRole', 'scheduler:CreateSchedule']);
    expect(problems(await awsFindings(backstop)).map((f) => f.what)).toEqual([
      'permissions missing on arn:aws:scheduler:us-east-1:123456789012:schedule/hallpass/hallpass-*: scheduler:CreateSchedule',
      `permissions missing on ${backstop.roleArn}: iam:PassRole`,
    ]);
  });

  it('says "could not check", never "missing", when a check cannot be made', async () => {
    sts.failNext('iam', 'SimulatePrincipalPolicy', 'AccessDenied', 403);
    ec2.failNext('DescribeSecurityGroups', 'InvalidAction', 400, 3);
    const found = await awsFindings();
    expect(problems(found)).toEqual([]);
    expect(warnings(found).map((f) => f.what)).toEqual([
      `could not check resources prod-db: security group ${GROUP_ID} in us-east-1: EC2 answered InvalidAction`,
      `could not check resources prod-web: security group ${GROUP_ID} in us-east-1: EC2 answered InvalidAction`,
      `could not check resources staging-db: security group ${GROUP_ID} in us-east-1: EC2 answered InvalidAction`,
      expect.stringMatching(
        /^could not check sts:AssumeRole, .* hallpass may not call iam:SimulatePrincipalPolicy/,
      ),
    ]);
  });
});

describe('npm run check', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hallpass-check-'));
    writeFileSync(path.join(dir, 'policy.yml'), DEFAULT_POLICY);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the command as a user does, in a directory of its own (its .env is not read: none there). */
  const run = (env: Record<string, string>) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'scripts/run-cli.cjs'), 'check'], {
        cwd: dir,
        env: {
          PATH: process.env['PATH'] ?? '',
          SLACK_BOT_TOKEN: BOT_TOKEN,
          SLACK_SIGNING_SECRET: SIGNING_SECRET,
          SLACK_API_URL: slack.apiUrl,
          HALLPASS_POLICY: path.join(dir, 'policy.yml'),
          ...awsEnv(),
          ...env,
        },
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.on('close', (code) => resolve({ code, out }));
    });

  it('prints one line per finding and exits 0 when nothing is wrong, 1 on a problem; never a secret', async () => {
    const good = await run({});
    expect(good.out).toMatch(/^ok {6}Slack token valid: bot hallpass in workspace hallpass test$/m);
    expect(good.out).toMatch(/^0 problem\(s\), 0 warning\(s\)$/m);
    expect(good.code).toBe(0);

    slack.failNext('usergroups.list', 'paid_teams_only');
    const bad = await run({});
    expect(bad.out).toMatch(
      /^problem user groups \(@handles\) need a paid Slack plan.* → fix: HALLPASS_POLICY: /m,
    );
    expect(bad.code).toBe(1);
    for (const secret of [BOT_TOKEN, SIGNING_SECRET, AWS_SECRET]) {
      expect(good.out).not.toContain(secret);
      expect(bad.out).not.toContain(secret);
    }
  }, 60_000);

  it('exits 1 naming every bad setting when the configuration is invalid', async () => {
    const r = await run({ SLACK_BOT_TOKEN: 'not-a-token', HALLPASS_AWS: 'maybe' });
    expect(r.out).toMatch(/^problem SLACK_BOT_TOKEN: must be a bot token/m);
    expect(r.out).toMatch(/^problem HALLPASS_AWS: must be live or dry-run/m);
    expect(r.code).toBe(1);
  }, 60_000);
});
