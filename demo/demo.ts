import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '../src/adapters/log/pino-logger';
import { type Hallpass, startHallpass } from '../src/compose';
import { loadEnv } from '../src/config';
import { parsePolicy } from '../src/config/policy';
import { createSkipClock, type SkipClock } from './clock';
import { GROUPS, POLICY, REGION, ROLE_ARN, SECURITY_GROUPS, USERS } from './sample';
import { startPageServer } from './server';
import { type FakeEc2, startFakeEc2 } from './stand-ins/ec2';
import { type SlackStandIn, startSlackStandIn } from './stand-ins/slack';
import { type FakeStsIam, startFakeStsIam } from './stand-ins/sts-iam';

export type Demo = {
  /** The page, e.g. `http://127.0.0.1:3999/`. */
  readonly url: string;
  readonly hallpass: Hallpass;
  readonly slack: SlackStandIn;
  readonly ec2: FakeEc2;
  readonly sts: FakeStsIam;
  readonly clock: SkipClock;
  /** The temporary folder of the database, removed by `stop`. */
  readonly dir: string;
  /** Stops the page, hallpass and the stand-ins, and removes the temporary database. */
  stop(): Promise<void>;
};

export type DemoOptions = {
  /** The page's port: 3999 by default, 0 for any free one. */
  readonly port?: number;
  /** hallpass's log level (`LOG_LEVEL`); `error` by default, so the terminal shows only what went wrong. */
  readonly logLevel?: string;
};

/**
 * The AWS SDK reads credentials and endpoints from the environment: dummy keys (never the user's own
 * keys, profile or SSO session), every endpoint on 127.0.0.1, and a catch-all that refuses at once, so
 * no call can leave the machine whatever the user's shell holds.
 */
function isolateAws(dir: string, endpoints: Record<string, string>): void {
  for (const name of [
    'AWS_PROFILE',
    'AWS_DEFAULT_PROFILE',
    'AWS_SESSION_TOKEN',
    'AWS_ROLE_ARN',
    'AWS_WEB_IDENTITY_TOKEN_FILE',
    'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
    'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS',
  ])
    delete process.env[name];
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'AKIADEMODEMODEMODEMO',
    AWS_SECRET_ACCESS_KEY: 'demo-secret-access-key-not-a-real-one',
    AWS_REGION: REGION,
    AWS_CONFIG_FILE: path.join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    // The SDK's notice about Node versions it will drop is for those who run hallpass, not for a demo's one line.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    // Port 9 (discard) refuses: a service the demo has no stand-in for fails at once, locally.
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    ...endpoints,
  });
}

/**
 * `npm run demo`: the real hallpass (`startHallpass`, unchanged) in HTTP mode, wired to the Slack,
 * EC2 and STS/IAM stand-ins on 127.0.0.1, a temporary SQLite database, the demo policy and a clock the
 * page can skip ahead; and the page that shows what people would see in Slack.
 */
export async function startDemo(opts: DemoOptions = {}): Promise<Demo> {
  const clock = createSkipClock();
  const now = () => clock.now();
  const dir = mkdtempSync(path.join(tmpdir(), 'hallpass-demo-'));
  // Stopped last: what hallpass left armed on the clock must not keep the process alive.
  const started: { close(): Promise<void> }[] = [{ close: async () => clock.dispose() }];
  try {
    const slack = await startSlackStandIn({ now });
    started.push(slack);
    slack.setGroups(GROUPS);
    for (const u of USERS) slack.setEmail(u.id, `${u.name}@example.com`);
    const ec2 = await startFakeEc2({ groups: SECURITY_GROUPS, now });
    started.push(ec2);
    const sts = await startFakeStsIam({ roles: [{ arn: ROLE_ARN, maxSessionDuration: 3600 }], now });
    started.push(sts);
    isolateAws(dir, {
      AWS_ENDPOINT_URL_EC2: ec2.url,
      AWS_ENDPOINT_URL_STS: sts.stsUrl,
      AWS_ENDPOINT_URL_IAM: sts.iamUrl,
    });
    const signingSecret = randomBytes(16).toString('hex');
    const env = loadEnv({
      SLACK_BOT_TOKEN: `xoxb-demo-${randomBytes(12).toString('hex')}`,
      SLACK_SIGNING_SECRET: signingSecret,
      SLACK_API_URL: slack.apiUrl,
      PORT: '0',
      HALLPASS_DB: path.join(dir, 'hallpass.db'),
      LOG_LEVEL: opts.logLevel ?? 'error',
    });
    if (!env.ok) throw new Error(env.section.problems.join('\n'));
    const hallpass = await startHallpass({
      env: env.value,
      policy: parsePolicy(POLICY),
      logger: createLogger(env.value.logLevel),
      clock,
      timers: clock,
      // The stand-ins are known to answer; and the checks' AWS calls would outlive a quick stop, after
      // which the user's own AWS settings are back in the environment.
      startupChecks: false,
    });
    started.push({ close: () => hallpass.stop() });
    const page = await startPageServer({
      port: opts.port ?? 3999,
      botUrl: `http://127.0.0.1:${hallpass.port}/slack/events`,
      signingSecret,
      hallpass,
      slack,
      ec2,
      clock,
    });
    started.push(page);
    let stopping: Promise<void> | undefined;
    return {
      url: page.url,
      hallpass,
      slack,
      ec2,
      sts,
      clock,
      dir,
      stop: () => {
        stopping ??= closeAll(started, dir);
        return stopping;
      },
    };
  } catch (error) {
    await closeAll(started, dir);
    throw error;
  }
}

/** Last started, first stopped: the page, then hallpass (which may still call the stand-ins), then the stand-ins. */
async function closeAll(started: { close(): Promise<void> }[], dir: string): Promise<void> {
  for (const s of [...started].reverse()) await s.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
