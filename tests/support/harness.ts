import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Hallpass, startHallpass } from '../../src/compose';
import { loadEnv } from '../../src/config';
import { parsePolicy } from '../../src/config/policy';
import type { Policy } from '../../src/domain/policy';
import { type BotDatabase, botDatabase, testEngine } from './bot-database';
import { FakeClock } from './fake-clock';
import { type FakeEc2, startFakeEc2 } from './fake-ec2';
import { type FakeScheduler, startFakeScheduler } from './fake-scheduler';
import { type FakeStsIam, startFakeStsIam } from './fake-sts-iam';
import { MemoryLogger } from './memory-logger';
import { createTestDatabase, dropTestDatabase, type TestDatabase } from './postgres';
import {
  blockActionsBody,
  buttonClick,
  type InteractionTeam,
  postToApp,
  slashCommandBody,
  viewSubmission,
  viewSubmissionBody,
} from './slack-signing';
import { type SlackStandIn, startSlackStandIn } from './slack-stand-in';

export { MemoryLogger, testEngine };

export const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef';
export const BOT_TOKEN = 'xoxb-test-token-never-log-me';
export const CHANNEL = 'C0123ABCD';
export const GROUP_ID = 'sg-0123456789abcdef0';
export const REQUESTER = 'UREQUESTER1';
export const APPROVER = 'UAPPROVER1';
export const APPROVER_2 = 'UAPPROVER2';
export const OUTSIDER = 'UOUTSIDER1';
export const ROLE_ARN = 'arn:aws:iam::123456789012:role/ProdReadOnly';
export const REQUESTER_EMAIL = 'requester@example.com';
/** hallpass's own AWS account in the fakes (the caller of every call not signed by an issued session). */
export const OWN_ACCOUNT = '123456789012';

export const DEFAULT_POLICY = `
admins: ["@security"]
approvalTimeout: 30m
resources:
  - id: prod-db
    description: Production Postgres
    kind: security-group
    region: us-east-1
    securityGroupId: ${GROUP_ID}
    protocol: tcp
    ports: [5432]
    maxDuration: 1h
    minDuration: 1m
    defaultDuration: 30m
    channel: ${CHANNEL}
    requesters: ["@backend", "${APPROVER}"]
    approvers: ["@sre"]
    approvals: 1
    breakGlass: true
    breakGlassMaxDuration: 30m
  - id: prod-web
    description: Web tier, two ports
    kind: security-group
    region: us-east-1
    securityGroupId: ${GROUP_ID}
    protocol: tcp
    ports: [443, "8000-8080"]
    maxDuration: 2h
    maxPrefix: 28
    channel: ${CHANNEL}
    approvers: ["@sre"]
    approvals: 2
  - id: staging-db
    kind: security-group
    region: us-east-1
    securityGroupId: ${GROUP_ID}
    ports: [5432]
    maxDuration: 4h
    channel: ${CHANNEL}
    autoApprove: true
  - id: prod-readonly
    description: Read-only access to production
    kind: aws-role
    roleArn: ${ROLE_ARN}
    region: us-east-1
    maxDuration: 2h
    minDuration: 1m
    channel: ${CHANNEL}
    approvers: ["@sre"]
`;

/** The user groups DEFAULT_POLICY names, as the Slack stand-in reports them. */
export const DEFAULT_GROUPS = [
  { id: 'S0SRE', handle: 'sre', users: [APPROVER, APPROVER_2] },
  { id: 'S0BACKEND', handle: 'backend', users: [REQUESTER] },
  { id: 'S0SECURITY', handle: 'security', users: ['UADMIN1'] },
];

export type Harness = {
  readonly hallpass: Hallpass;
  readonly slack: SlackStandIn;
  readonly ec2: FakeEc2;
  /** STS and IAM, reached by the real SDK through AWS_ENDPOINT_URL_STS / _IAM; the role's MaxSessionDuration is 1h. */
  readonly sts: FakeStsIam;
  /** EventBridge Scheduler: the backstops (on when `env` sets `HALLPASS_BACKSTOP_ROLE_ARN`). */
  readonly scheduler: FakeScheduler;
  readonly clock: FakeClock;
  readonly logger: MemoryLogger;
  readonly policy: Policy;
  /** `HALLPASS_DB`: the SQLite file, or on PostgreSQL the database's URL. */
  readonly dbPath: string;
  /**
   * The same database as a test reaches it directly, on either engine: to read rows, tamper with them,
   * copy or lose it (see bot-database.ts). Shared by every restart of this harness.
   */
  readonly db: BotDatabase;
  readonly url: string;
  /**
   * Types `/access <text>` as `user`, exactly as Slack posts it; `teamId` / `enterpriseId` /
   * `userTeam` make it come from another workspace or organisation.
   */
  command(
    user: string,
    text: string,
    extra?: { retryNum?: number; teamId?: string; enterpriseId?: string; userTeam?: string },
  ): Promise<{ status: number; body: string }>;
  /** Clicks a button on a message (in another workspace or organisation with the team fields). */
  click(
    user: string,
    actionId: string,
    value: string,
    extra?: { retryNum?: number } & InteractionTeam,
  ): Promise<{ status: number; body: string }>;
  /** Opens the app's Home tab as `user` (an `app_home_opened` event, signed as Slack sends it). */
  openHome(user: string): Promise<{ status: number; body: string }>;
  /** Delivers an Events API event (`event_callback`), signed as Slack sends it, e.g. `subteam_members_changed`. */
  event(
    event: Record<string, unknown>,
    extra?: { eventId?: string; retryNum?: number },
  ): Promise<{ status: number; body: string }>;
  /** Submits a modal. */
  submit(
    user: string,
    callbackId: string,
    values: Record<string, Record<string, unknown>>,
    privateMetadata?: string,
    team?: InteractionTeam,
  ): Promise<{ status: number; body: string }>;
  /**
   * Calls the HTTP API on the app's port (`/api/v1/…`), as an automation does: `token` as a bearer
   * token, `body` as JSON (or `raw` as is, with `contentType`). Answers once the bot has settled.
   */
  api(
    method: string,
    path: string,
    opts?: {
      token?: string;
      body?: unknown;
      raw?: string;
      contentType?: string;
      headers?: Record<string, string>;
    },
  ): Promise<{ status: number; body: unknown; headers: Headers }>;
  /** Moves the fake clock and waits for the scheduler's run to finish. */
  advance(ms: number): Promise<void>;
  /** Stops hallpass (keeps the database file), for restart tests. */
  stopBot(): Promise<void>;
  /** Starts hallpass again on the same database, stand-ins and clock (`env`: extra variables, replacing the first start's). */
  restart(opts?: { policy?: string; env?: Record<string, string> }): Promise<Harness>;
  close(): Promise<void>;
};

const AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLETEST',
  AWS_SECRET_ACCESS_KEY: 'test-secret-access-key',
  AWS_REGION: 'us-east-1',
};

/**
 * The whole bot, for real, in HTTP mode on an ephemeral port: Bolt, SQLite on a temp file, the
 * real EC2 adapter reaching a fake EC2 through `AWS_ENDPOINT_URL_EC2`, the Slack Web API replaced by a
 * local stand-in through `SLACK_API_URL`, and a fake clock that moves only when the test says.
 */
export async function startHarness(
  opts: {
    policy?: string;
    groups?: { id: string; handle: string; users: string[] }[];
    clock?: FakeClock;
    /**
     * Reconciliation with AWS: off unless given, so other tests' exact AWS call counts hold.
     * Given, it runs at every start-up and then every `reconcileInterval` (e.g. `60s`; `0s`: start-up only).
     */
    reconcileInterval?: string;
    /** How long one Slack call may take (a test of a Slack that never answers shortens it). */
    slackTimeoutMs?: number;
    /** Runs before hallpass starts: e.g. a Slack already down at start-up (`slack.outage(…)`). */
    beforeStart?: (slack: SlackStandIn) => void;
    /** Extra environment variables for hallpass (e.g. `HALLPASS_AUDIT_KEY`). */
    env?: Record<string, string>;
    /** The start-up checks (src/startup-checks.ts): off unless `true`, so other tests' exact call counts hold. */
    startupChecks?: boolean;
  } = {},
): Promise<Harness> {
  const slack = await startSlackStandIn();
  slack.setGroups(opts.groups ?? DEFAULT_GROUPS);
  slack.setEmail(REQUESTER, REQUESTER_EMAIL);
  opts.beforeStart?.(slack);
  const ec2 = await startFakeEc2({ groups: [GROUP_ID] });
  const clock = opts.clock ?? new FakeClock();
  const sts = await startFakeStsIam({
    roles: [{ arn: ROLE_ARN, maxSessionDuration: 3600 }],
    now: () => clock.now(),
  });
  // Its schedules' targets call the fake EC2, as Scheduler's universal targets call EC2.
  const scheduler = await startFakeScheduler({ ec2Url: ec2.url, accountId: OWN_ACCOUNT });
  // Whose credentials signed an EC2 call: a session the fake STS issued acts in its role's account.
  ec2.setAccountOf(
    (key) => sts.sessions.find((x) => x.accessKeyId === key)?.roleArn.split(':')[4] ?? OWN_ACCOUNT,
  );
  const dir = mkdtempSync(path.join(tmpdir(), 'hallpass-e2e-'));
  // HALLPASS_TEST_ENGINE=postgres runs the same end-to-end tests on a PostgreSQL database of their own.
  const pg = testEngine() === 'postgres' ? await createTestDatabase() : undefined;
  const dbPath = pg?.url ?? path.join(dir, 'hallpass.db');
  Object.assign(process.env, AWS_ENV, {
    AWS_ENDPOINT_URL_EC2: ec2.url,
    AWS_ENDPOINT_URL_STS: sts.stsUrl,
    AWS_ENDPOINT_URL_IAM: sts.iamUrl,
    AWS_ENDPOINT_URL_SCHEDULER: scheduler.url,
  });
  const policy = parsePolicy(opts.policy ?? DEFAULT_POLICY);
  return boot({
    slack,
    ec2,
    sts,
    scheduler,
    clock,
    dir,
    dbPath,
    db: botDatabase(dbPath),
    pg,
    policy,
    reconcileInterval: opts.reconcileInterval,
    slackTimeoutMs: opts.slackTimeoutMs,
    env: opts.env,
    startupChecks: opts.startupChecks ?? false,
    bots: [],
  });
}

async function boot(s: {
  slack: SlackStandIn;
  ec2: FakeEc2;
  sts: FakeStsIam;
  scheduler: FakeScheduler;
  clock: FakeClock;
  dir: string;
  dbPath: string;
  db: BotDatabase;
  pg?: TestDatabase | undefined;
  policy: Policy;
  reconcileInterval?: string | undefined;
  slackTimeoutMs?: number | undefined;
  env?: Record<string, string> | undefined;
  startupChecks: boolean;
  /** Every bot booted on this setup (restarts included): `close` stops them all, even after a failed test. */
  bots: { stopBot(): Promise<void> }[];
}): Promise<Harness> {
  const envResult = loadEnv({
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: s.slack.apiUrl,
    PORT: '0',
    HALLPASS_DB: s.dbPath,
    LOG_LEVEL: 'silent',
    ...(s.reconcileInterval === undefined ? {} : { HALLPASS_RECONCILE_INTERVAL: s.reconcileInterval }),
    ...s.env,
  });
  if (!envResult.ok) throw new Error(envResult.section.problems.join('\n'));
  const logger = new MemoryLogger();
  const hallpass = await startHallpass({
    env: envResult.value,
    policy: s.policy,
    logger,
    clock: s.clock,
    timers: s.clock,
    // The production Slack client options (single attempts, a 429 returned at once) are under test too.
    ...(s.slackTimeoutMs === undefined ? {} : { slackTimeoutMs: s.slackTimeoutMs }),
    reconcile: s.reconcileInterval !== undefined,
    startupChecks: s.startupChecks,
  });
  // What start-up queued for Slack (catch-up notices, a reconciliation report) is out before the test goes on.
  await hallpass.settled();
  const url = `http://127.0.0.1:${hallpass.port}/slack/events`;
  // Answers once the bot has finished everything the request started (listeners, notices, scheduler).
  const send = async (body: string, retryNum?: number, contentType?: string) => {
    const res = await postToApp(url, body, {
      secret: SIGNING_SECRET,
      ...(retryNum === undefined ? {} : { retryNum }),
      ...(contentType === undefined ? {} : { contentType }),
    });
    await hallpass.settled();
    return res;
  };
  let stopped = false;
  let responses = 0;
  // The user is part of the URL, so a reply through response_url can be attributed to who asked.
  const responseUrlFor = (user: string) => `${s.slack.url}/response/${user}-${++responses}`;
  const h: Harness = {
    hallpass,
    slack: s.slack,
    ec2: s.ec2,
    sts: s.sts,
    scheduler: s.scheduler,
    clock: s.clock,
    logger,
    policy: s.policy,
    dbPath: s.dbPath,
    db: s.db,
    url,
    command: (user, text, extra) =>
      send(
        slashCommandBody({
          user_id: user,
          text,
          channel_id: CHANNEL,
          response_url: responseUrlFor(user),
          trigger_id: `trigger-${Math.random().toString(36).slice(2)}`,
          ...(extra?.teamId === undefined ? {} : { team_id: extra.teamId }),
          ...(extra?.enterpriseId === undefined ? {} : { enterprise_id: extra.enterpriseId }),
          ...(extra?.userTeam === undefined ? {} : { user_team: extra.userTeam }),
        }),
        extra?.retryNum,
      ),
    click: async (user, actionId, value, extra) => {
      const ref = (await hallpass.useCases.cardOf(value))?.request.message;
      return send(
        blockActionsBody(
          buttonClick({
            userId: user,
            actionId,
            value,
            channel: ref?.channel ?? CHANNEL,
            messageTs: ref?.ts ?? '1700000000.000100',
            triggerId: `trigger-${Math.random().toString(36).slice(2)}`,
            responseUrl: responseUrlFor(user),
            ...(extra?.teamId === undefined ? {} : { teamId: extra.teamId }),
            ...(extra?.userTeamId === undefined ? {} : { userTeamId: extra.userTeamId }),
            ...(extra?.enterpriseId === undefined ? {} : { enterpriseId: extra.enterpriseId }),
          }),
        ),
        extra?.retryNum,
      );
    },
    openHome: (user) =>
      send(
        JSON.stringify({
          token: 'x',
          team_id: 'T0HALLPASS',
          api_app_id: 'A0HALLPASS',
          type: 'event_callback',
          event_id: `Ev${Math.random().toString(36).slice(2)}`,
          event_time: Math.floor(Date.now() / 1000),
          event: { type: 'app_home_opened', user, channel: 'D0HOME', tab: 'home', event_ts: '1.1' },
        }),
        undefined,
        'application/json',
      ),
    event: (event, extra = {}) =>
      send(
        JSON.stringify({
          token: 'x',
          team_id: 'T0HALLPASS',
          api_app_id: 'A0HALLPASS',
          type: 'event_callback',
          event_id: extra.eventId ?? `Ev${Math.random().toString(36).slice(2)}`,
          event_time: Math.floor(Date.now() / 1000),
          event: { event_ts: '1.1', ...event },
        }),
        extra.retryNum,
        'application/json',
      ),
    submit: (user, callbackId, values, privateMetadata = '', team = {}) =>
      send(
        viewSubmissionBody(viewSubmission({ userId: user, callbackId, values, privateMetadata, ...team })),
      ),
    async api(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token !== undefined) headers['authorization'] = `Bearer ${opts.token}`;
      let body: string | undefined;
      if (opts.raw !== undefined) body = opts.raw;
      else if (opts.body !== undefined) body = JSON.stringify(opts.body);
      if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
      const res = await fetch(`http://127.0.0.1:${hallpass.port}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      const text = await res.text();
      await hallpass.settled();
      let parsed: unknown = text;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        // Not JSON: returned as text.
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async advance(ms) {
      await hallpass.settled();
      s.clock.advance(ms);
      await hallpass.scheduler.idle();
      // A run may re-arm for "now" (more work already due): fire those too before returning.
      for (let i = 0; i < 20; i++) {
        const next = s.clock.nextTimerAt();
        if (next === undefined || next > s.clock.now()) break;
        s.clock.advance(0);
        await hallpass.scheduler.idle();
      }
      // And what the run queued for Slack (the outbox dispatcher) and Home, as long as Slack answers.
      await hallpass.settled();
    },
    async stopBot() {
      if (stopped) return;
      stopped = true;
      await hallpass.stop();
    },
    async restart(opts = {}) {
      await h.stopBot();
      // A policy edited while hallpass was down takes effect at this start.
      return boot({
        ...s,
        ...(opts.policy === undefined ? {} : { policy: parsePolicy(opts.policy) }),
        ...(opts.env === undefined ? {} : { env: opts.env }),
      });
    },
    async close() {
      // A test that fails before stopping the bot it restarted must not leave it running into the
      // next suite (its reconnecting database connections would outlive this one's database).
      for (const bot of s.bots) await bot.stopBot();
      await s.slack.close();
      await s.ec2.close();
      await s.sts.close();
      await s.scheduler.close();
      rmSync(s.dir, { recursive: true, force: true });
      await s.db.dropCopies();
      if (s.pg !== undefined) await dropTestDatabase(s.pg);
    },
  };
  s.bots.push(h);
  return h;
}
