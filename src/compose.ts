import { performance } from 'node:perf_hooks';
import type { WebClient, WebClientOptions } from '@slack/web-api';
import { createAwsClients } from './adapters/aws/aws-clients';
import { createDryRunAws } from './adapters/aws/dry-run-aws';
import { createEc2NetworkAccess } from './adapters/aws/ec2-network-access';
import { createEc2NetworkAcls } from './adapters/aws/ec2-network-acls';
import { createSchedulerBackstops } from './adapters/aws/scheduler-backstops';
import { createStsRoleSessions } from './adapters/aws/sts-role-sessions';
import { checkTablesAgainstChain } from './adapters/db/audit-startup';
import { openPersistence } from './adapters/db/open-persistence';
import { addressLinkRoute, type LinkOutcome } from './adapters/http/address-link';
import { apiRoute } from './adapters/http/api';
import { createHttpServer, type HttpRoute } from './adapters/http/router';
import { BODY_LIMIT_BYTES, type SlackRuntime, startSlackApp } from './adapters/slack/app';
import type { Backoff } from './adapters/slack/connection';
import { createSlackDirectory } from './adapters/slack/directory';
import { createHomeRefresher, type HomeRefresher } from './adapters/slack/home-refresher';
import { createSlackNotifier } from './adapters/slack/notifier';
import { errorText } from './adapters/slack/views/errors';
import { ObservedWebClient, singleAttemptClientOptions } from './adapters/slack/web-client';
import { randomIds, systemClock, systemTimers } from './adapters/system/system';
import { ADDRESS_LINK_PATH } from './app/address-link';
import { DEFAULT_API_CALLS_PER_MINUTE } from './app/api-requests';
import type { AppDeps } from './app/deps';
import { createFollowUps } from './app/follow-ups';
import { describeError } from './app/infra-error';
import {
  type Clock,
  type Faults,
  type Ids,
  type Logger,
  type NetworkAccess,
  noFaults,
  type RoleSessions,
  type Timers,
} from './app/ports';
import { createUseCases, type ReconcilePart, type UseCases } from './app/use-cases';
import type { Env } from './config';
import { DEFAULT_RECONCILE_INTERVAL_MS } from './config/env';
import { backstopProblems, findResource, type Policy } from './domain/policy';
import { createMonitoring } from './monitoring';
import { BUSY, createDeliveryLoop, type DeliveryLoop } from './scheduler/delivery-loop';
import { createPacing } from './scheduler/pacing';
import { createScheduler, type Scheduler } from './scheduler/scheduler';
import { createSweep } from './scheduler/sweep';
import { backgroundChecks, requireAwsCredentials, slackVerdict } from './startup-checks';

export type HallpassOptions = {
  readonly env: Env;
  readonly policy: Policy;
  readonly logger: Logger;
  /** Injected in tests; the system clock and timers otherwise. */
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly ids?: Ids;
  /** Injected in tests; EC2 through the SDK's standard chain otherwise (honours AWS_ENDPOINT_URL_EC2). */
  readonly network?: NetworkAccess;
  /** Injected in tests; STS and IAM through the SDK's standard chain otherwise (AWS_ENDPOINT_URL_STS / _IAM). */
  readonly roles?: RoleSessions;
  /** Crash points: only the fault-injection tests pass one. */
  readonly faults?: Faults;
  /**
   * Reconciliation with AWS, at start-up and every `HALLPASS_RECONCILE_INTERVAL`. On unless
   * `false`: only end-to-end tests of other features turn it off, so their exact AWS call counts hold.
   */
  readonly reconcile?: boolean;
  /** Extra Web API client options, applied last (tests). */
  readonly slackClientOptions?: WebClientOptions;
  /** How long one Slack Web API call may take (tests shorten it); `SLACK_CALL_TIMEOUT_MS` otherwise. */
  readonly slackTimeoutMs?: number;
  /** Delays between attempts to connect to Slack (tests shorten them); 1 s doubling to 60 s otherwise. */
  readonly slackBackoff?: Backoff;
  /**
   * The checks of `hallpass check` at start-up (src/startup-checks.ts). On unless `false`: only
   * end-to-end tests of other features turn them off, so their exact Slack and AWS call counts hold.
   */
  readonly startupChecks?: boolean;
};

export type Hallpass = {
  /**
   * Bound once the database is owned and before anything touches AWS; served once the timers run,
   * whether or not Slack is reachable (after at most `SLACK_FIRST_ATTEMPT_GRACE_MS` waiting for Slack's
   * first answer).
   */
  readonly port: number;
  /** Keeps App Home tabs current; tests await `home.idle()`. */
  readonly home: HomeRefresher;
  readonly useCases: UseCases;
  readonly scheduler: Scheduler;
  /** Sends the outbox's Slack messages; tests await `deliveries.idle()`. */
  readonly deliveries: DeliveryLoop;
  /**
   * Puts an edited policy in force (SIGHUP; already validated), unless the backstop could not reach one
   * of its resources (refused, logged, the running policy stays). Live grants are untouched — they close
   * on time with what opened them — and the channel is told of each one the policy no longer describes.
   * The new policy is in force when this returns; the promise resolves once the telling is done (or has
   * failed, logged) and never rejects.
   */
  reloadPolicy(policy: Policy): Promise<void>;
  /** Resolves when nothing is in progress: the start-up checks, listeners, the scheduler's run, deliveries, Home refreshes (tests). */
  settled(): Promise<void>;
  /** Stops taking work, lets the scheduler's run in progress finish, closes the database. */
  stop(): Promise<void>;
};

/** How soon a delivery another process queued (the audit CLI's head publication) is sent at the latest. */
const OUTBOX_POLL_MS = 30_000;

/** The background jobs one replica at a time runs (`Locks.tryRun`). */
const JOBS = {
  dueWork: 'job:due-work',
  outbox: 'job:outbox',
  auditHead: 'job:audit-head',
  reconcile: 'job:reconcile',
  /** Waited for, not skipped: each replica's policy is compared, but a change is told once, by whichever gets there first. */
  policyChanges: 'job:policy-changes',
} as const;

/**
 * With several replicas, a grant that started opening less than this long ago is left to its opener
 * (who may be about to take its lock); after it, one whose opener died is taken over.
 */
const RECOVER_GRACE_MS = 5_000;
/**
 * Reconciliation rests after each security group three times as long as the group took (at most 1 s),
 * so it takes at most a quarter of a replica's time: measured with 10,000 rules on 20 groups, a pass
 * back to back made due closes up to 1 s late; 20 groups of 100 ms each now take about 8 s of a 60 s
 * interval. It also spreads the DescribeSecurityGroupRules calls that share EC2's per-account limit.
 */
const RECONCILE_REST_RATIO = 3;
const RECONCILE_MAX_REST_MS = 1_000;
/**
 * Security groups start-up's reconciliation pass looks at once (AWS answers a listing in a few hundred
 * ms, so twelve groups one by one take seconds before an orphan is found). Four stays far below EC2's
 * request rate for DescribeSecurityGroupRules.
 */
const RECONCILE_STARTUP_LANES = 4;

/** Longest `stop()` waits for the background start-up checks still running. */
const STOP_WAITS_FOR_CHECKS_MS = 3_000;

/** Longest start-up waits for Slack's first answer before opening the port anyway (see below). */
const SLACK_FIRST_ATTEMPT_GRACE_MS = 2_000;

/** Resolves when `work` does or after `ms` of real time, whichever is first; the timer is cleared. */
async function withinRealTime(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([work, elapsed]);
  clearTimeout(timer);
}

/**
 * `POST /slack/events`, served by the Slack app started after the port is bound. The server holds every
 * request until the app exists (`held`), so the app is always there when this runs.
 */
function lateSlackRoute(app: () => SlackRuntime | undefined): HttpRoute {
  return {
    path: '/slack/events',
    methods: {
      POST: (req, res, body) => {
        const route = app()?.route;
        if (route === undefined) throw new Error('POST /slack/events served before the Slack app started');
        route.methods.POST(req, res, body);
      },
    },
    arrived: (res) => app()?.route?.arrived(res),
  };
}

/**
 * `GET /address?t=…`: the one-time address link (`offerAddressLink`). The request continues with the
 * browser's address; the requester is told in Slack either way (a direct message: the command's
 * `response_url` is not kept), and the page says it too.
 */
function addressRoute(
  env: Env,
  logger: Logger,
  useCases: UseCases,
  notifier: AppDeps['notifier'],
  client: WebClient,
): HttpRoute {
  return addressLinkRoute({
    path: ADDRESS_LINK_PATH,
    trustedProxies: env.trustedProxies,
    logger,
    follow: async (secret, address): Promise<LinkOutcome> => {
      const followed = await useCases.followAddressLink(secret, address);
      if (followed.ok) {
        const { request, card } = followed.value;
        if (card !== undefined) {
          await notifier
            .notifyUser(request.requesterId, { type: 'request-submitted', card })
            .catch((error: unknown) =>
              logger.warn(
                { err: describeError(error) },
                'could not tell a requester their link was followed',
              ),
            );
        }
        return { kind: 'continued', requestId: request.id, resourceId: request.resourceId, address };
      }
      if (followed.error === 'LINK_REFUSED') return { kind: followed.detail.why };
      const why = errorText(followed.detail.error);
      await client.chat
        .postMessage({ channel: followed.detail.userId, text: `From the address ${address}: ${why}` })
        .catch((error: unknown) =>
          logger.warn({ err: describeError(error) }, 'could not tell a requester their link was refused'),
        );
      return { kind: 'refused', address, why };
    },
  });
}

/** Why the port could not be bound, naming `PORT` and saying that AWS was not touched. */
function listenError(port: number, error: unknown): Error {
  const code =
    typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
  const why =
    code === 'EADDRINUSE'
      ? `port ${port} is already in use (is another hallpass, or another program, listening on it?)`
      : code === 'EACCES'
        ? `not allowed to listen on port ${port}`
        : `could not listen on port ${port} (${error instanceof Error ? error.message : String(error)})`;
  return new Error(
    `PORT: ${why}. hallpass stopped before touching AWS: no grant was recovered, reconciled or closed. Stop the other process or set PORT to a free port.`,
    { cause: error },
  );
}

/**
 * The composition root. In this order: owns the database (on SQLite, refusing a file another process
 * holds), builds every adapter and use case (nothing calls AWS yet), and binds the HTTP port — so a
 * second hallpass, or a port in use, stops start-up with nothing in AWS touched; then catches up on
 * what came due while hallpass was down, reconciles with AWS, arms the expiry timer, starts connecting
 * to Slack in the background, and only then serves requests (those that came meanwhile waited). Slack
 * being down or slow never makes it reject; with the start-up checks on (the default), a token Slack
 * refuses at its first attempt, or no AWS credentials at all, does — after the catching up is done.
 */
export async function startHallpass(opts: HallpassOptions): Promise<Hallpass> {
  const { env, logger } = opts;
  const clock = opts.clock ?? systemClock;
  const timers = opts.timers ?? systemTimers;
  const startup = stopwatch();
  const persistence = await openPersistence(env.dbPath, {
    auditKeys: env.auditKeys,
    logger,
    poolSize: env.dbPoolSize,
  });
  const { stores, locks } = persistence;
  /** The policy in force: read at every decision, replaced whole by `reloadPolicy`. */
  let policy = opts.policy;
  const followUps = createFollowUps(logger);
  const announcements = createFollowUps(
    logger,
    'announcing closed grants failed: the grants are closed (and on the record), but their channel and requester were not told',
  );
  // Before anything appends to it or touches AWS: the audit log must verify, or start-up stops.
  try {
    const checked = await persistence.verifyAuditAtStart({
      keys: env.auditKeys,
      acceptBroken: env.auditAcceptBroken,
      clock,
      logger,
    });
    logger.info(
      {
        events: checked.events,
        head: `${checked.head.count}:${checked.head.hash}`,
        keyId: env.auditKeys?.current?.id,
        unkeyed: checked.unkeyed,
        ms: checked.ms,
      },
      'audit log verified',
    );
    startup.lap('database');
  } catch (error) {
    await persistence.close();
    throw error;
  }
  if (env.auditKeys?.current === undefined) {
    logger.warn(
      {},
      'HALLPASS_AUDIT_KEY is not set: the audit log is sealed with plain SHA-256, which shows accidental damage but not a deliberate rewrite by someone who can write the database; set HALLPASS_AUDIT_KEY (see docs/audit.md, Audit evidence)',
    );
  }
  if (env.backstop === undefined) {
    logger.warn(
      {},
      'no backstop is configured (HALLPASS_BACKSTOP_ROLE_ARN is not set): security-group rules close only while hallpass runs; if hallpass or its database is down when a grant ends, its rule stays open until hallpass is back (see docs/aws.md, Backstop in AWS)',
    );
  } else {
    const problems = backstopProblems(policy, env.backstop.roleArn);
    if (problems.length > 0) {
      await persistence.close();
      throw new Error(`the backstop cannot reach every resource:\n${problems.join('\n')}`);
    }
  }
  if (policy.auditChannel === undefined) {
    logger.warn(
      {},
      'the policy names no auditChannel: the audit log head is not published, so a cut-off or rewritten log cannot be proven; set auditChannel (see docs/audit.md, Audit evidence)',
    );
  }
  // Every Slack client makes single short attempts; each job has its own client (and queue), so Home
  // refreshes, directory look-ups and listener replies never delay a notice, and nothing delays a close.
  const clientOptions = (): WebClientOptions =>
    singleAttemptClientOptions({
      apiUrl: env.slackApiUrl,
      logger,
      timeoutMs: opts.slackTimeoutMs,
      extra: opts.slackClientOptions,
    });
  let slack: SlackRuntime | undefined;
  // /healthz and /metrics; `observed` times the AWS ports and counts Slack API errors and use-case outcomes.
  const monitoring = createMonitoring({
    clock,
    metrics: env.metrics ?? 'on',
    database: async () => (await persistence.health.check()).ok,
    grants: stores.grants,
    outbox: stores.outbox,
    policy: () => policy,
    slack: () => slack,
    backstop: env.backstop === undefined ? 'off' : 'on',
    aws: env.aws === 'dry-run' ? 'dry-run' : undefined,
  });
  const { observed } = monitoring;
  const slackClient = (): WebClient =>
    new ObservedWebClient(env.slackBotToken, clientOptions(), observed.slackApiError);
  const aws = createAwsClients({ timeoutMs: env.awsTimeoutMs });
  // HALLPASS_AWS=dry-run: the same ports, logging the calls they would make; no AWS client is ever used.
  const dryRun = env.aws === 'dry-run' ? createDryRunAws({ logger, clock }) : undefined;
  if (dryRun !== undefined)
    logger.warn(
      { aws: 'dry-run' },
      'HALLPASS_AWS=dry-run: no AWS call is made; the calls hallpass would make are logged, and every announcement says it is a dry run',
    );
  /** The loops the use cases wake, filled in below: the use cases are built before the loops that run them. */
  const loops: { scheduler?: Scheduler; home?: HomeRefresher; deliveries?: DeliveryLoop } = {};
  const directory = createSlackDirectory({
    client: slackClient(),
    clock,
    logger,
    trustedWorkspaces: () => policy.trustedWorkspaces ?? [],
  });
  const reconcilePacing = createPacing({
    restRatio: RECONCILE_REST_RATIO,
    maxRestMs: RECONCILE_MAX_REST_MS,
    unpacedLanes: RECONCILE_STARTUP_LANES,
  });
  const deps: AppDeps = {
    deployment: env.deployment,
    publicUrl: env.publicUrl,
    clock,
    ids: opts.ids ?? randomIds,
    logger,
    policy: () => policy,
    ...stores,
    auditRecord: persistence.auditRecord,
    network: observed.instrument(
      opts.network ??
        dryRun?.network ??
        createEc2NetworkAccess({ clientFor: aws.ec2For, deployment: env.deployment }),
      'network',
    ),
    acls: observed.instrument(dryRun?.acls ?? createEc2NetworkAcls({ clientFor: aws.ec2For }), 'acls'),
    followUps,
    announcements,
    backstop:
      env.backstop === undefined
        ? undefined
        : {
            port: observed.instrument(
              dryRun?.backstops ??
                createSchedulerBackstops({ clientFor: aws.schedulerFor, group: env.backstop.group }),
              'backstop',
            ),
            roleArn: env.backstop.roleArn,
          },
    roles: observed.instrument(
      opts.roles ?? dryRun?.roles ?? createStsRoleSessions({ stsFor: aws.stsFor, iam: aws.iam, clock }),
      'roles',
    ),
    notifier: createSlackNotifier({
      client: slackClient(),
      clock,
      mentioner: () => directory.mentioner(),
      dryRun: dryRun !== undefined,
    }),
    directory,
    // Every replica hears of a change to due times (PostgreSQL NOTIFY; in one process, at once) and
    // re-reads. Home tabs are refreshed by the replica that made the change, for every viewer (the
    // viewers are shared), so a change refreshes each tab once, not once per replica. Told once the
    // change has committed: a reader woken before COMMIT (another connection) would see nothing and
    // sleep until its next poll — a notice held back, a close armed late.
    wakeup: {
      wake: () =>
        stores.uow.afterCommit(() => {
          persistence.changes.publish('due');
          loops.home?.changed();
        }),
      changed: () => stores.uow.afterCommit(() => loops.home?.changed()),
    },
    deliveries: { wake: () => stores.uow.afterCommit(() => persistence.changes.publish('outbox')) },
    locks,
    rateLimits: persistence.rateLimits,
    faults: opts.faults ?? noFaults,
    metrics: observed.metrics,
    reconcilePacing,
  };
  const useCases = createUseCases(deps);
  const refresher = createHomeRefresher({
    client: slackClient(),
    ctx: { useCases, clock, logger },
    logger,
    clock,
    timers,
    viewers: persistence.homeViewers,
  });
  loops.home = refresher;
  const scheduler = createScheduler({
    clock,
    timers,
    logger,
    // Per kind of work, so one kind's failure (waiting for its backoff) never hides another's due time.
    nextDue: useCases.dueWork.nextDue,
    // One replica at a time runs what is due (exactly one closes each grant); the others look again
    // shortly, so a replica that dies mid-run delays nothing for long. Grants a dead replica was still
    // opening are taken over here too.
    run: async (now) => {
      const ran = await locks.tryRun(JOBS.dueWork, async () => {
        await useCases.recoverInterrupted({
          graceMs: persistence.pollMs === undefined ? 0 : RECOVER_GRACE_MS,
        });
        return useCases.dueWork.run(now);
      });
      return ran.ran ? ran.value : { failed: [], busy: true };
    },
    pollMs: persistence.pollMs,
  });
  loops.scheduler = scheduler;
  const outboxLoop = createDeliveryLoop({
    clock,
    timers,
    logger,
    nextDue: () => stores.outbox.nextAttempt(),
    // One replica at a time sends the outbox, so each notice goes out once and in order.
    run: async () => {
      const ran = await locks.tryRun(JOBS.outbox, () => useCases.deliverOutbox());
      return ran.ran ? ran.value : BUSY;
    },
    // Closes first: a burst of due grants reaches AWS before the process spends its time on their notices.
    yieldTo: () => scheduler.idle(),
    // The audit CLI queues the head it publishes with an export into this outbox from its own process.
    pollMs: OUTBOX_POLL_MS,
  });
  loops.deliveries = outboxLoop;
  const unsubscribe = persistence.changes.subscribe((kind) => {
    if (kind === 'due') scheduler.wake();
    else if (kind === 'outbox') outboxLoop.wake();
    else refresher.changed();
  });
  // The audit head, in the policy's audit channel on its schedule: one timer armed from the
  // last publication in the log, apart from the scheduler, so the walk of the log never delays a close.
  const headLoop = createDeliveryLoop({
    clock,
    timers,
    logger,
    name: 'publishing the audit head',
    nextDue: () => useCases.nextHeadPublication(),
    run: async () => {
      const ran = await locks.tryRun(JOBS.auditHead, () => useCases.publishScheduledHead());
      return ran.ran ? ran.value : BUSY;
    },
    errorPauseMs: 60_000,
  });
  // Holds written before holds recorded their target: filled in once from this policy.
  const legacy = await stores.rules.recordLegacyTargets((resourceId) => {
    const resource = findResource(policy, resourceId);
    return resource?.kind === 'security-group' ? resource.assumeRoleArn : undefined;
  });
  if (legacy > 0)
    logger.warn({ holds: legacy }, 'recorded the targets of rule holds written before they were kept');

  // The one HTTP server (adapters/http): Slack's route in HTTP mode (503 until Slack is ready), /healthz
  // and /metrics in both; anything else 4xx. Bound now, before anything touches AWS — a port in use (a second
  // hallpass, a laptop beside a running bot) stops start-up here, with AWS untouched — and held: requests
  // wait until the work below is done, so Slack is still served only after what came due is closed.
  const http = createHttpServer({
    routes: [
      ...(env.mode === 'http' ? [lateSlackRoute(() => slack)] : []),
      ...monitoring.routes,
      addressRoute(env, logger, useCases, deps.notifier, slackClient()),
      // The HTTP API for automations (/api/v1/…), in both Slack modes.
      apiRoute({
        api: useCases.api,
        logger,
        callsPerMinute: env.apiCallsPerMinute ?? DEFAULT_API_CALLS_PER_MINUTE,
      }),
    ],
    logger,
    bodyLimitBytes: BODY_LIMIT_BYTES,
    held: true,
  });
  let port: number;
  try {
    port = await http.listen(env.port);
  } catch (error) {
    unsubscribe();
    await persistence.close();
    aws.destroy();
    throw listenError(env.port, error);
  }
  // Reconciliation: its leftovers part before serving, its rules once hallpass serves (unpaced), then
  // the whole pass every interval.
  const reconcileOn = opts.reconcile ?? true;
  let firstPass: ReconcilePart | undefined = 'rules';
  const sweep = createSweep({
    timers,
    logger,
    intervalMs: reconcileOn ? (env.reconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS) : 0,
    name: 'reconciliation',
    // One replica at a time; the others skip this round (the holder does it for all).
    run: async () => {
      const part = firstPass;
      firstPass = undefined;
      const ran = await locks.tryRun(JOBS.reconcile, () => useCases.reconcile(part));
      return ran.ran ? ran.value : { failed: 0 };
    },
  });
  // Under a lock shared by every replica: the check of what was already said and the saying are one step.
  const announcePolicyChanges = (p: Policy) =>
    locks.run(JOBS.policyChanges, () => useCases.announcePolicyChanges(p));
  // Start-up checks (src/startup-checks.ts): no AWS credentials at all stops start-up, so does a token
  // Slack refuses (below); everything else is a logged warning, checked in the background.
  const checksOn = opts.startupChecks ?? true;
  const credentials = checksOn ? requireAwsCredentials(env) : Promise.resolve(undefined);
  // Never unhandled: awaited below, or dropped with the failure that stopped start-up first.
  credentials.catch(() => {});
  let checksRest: Promise<void> = Promise.resolve();
  /** The tables' check against the audit chain, started once hallpass serves. */
  let tablesChecked: Promise<void> = Promise.resolve();
  try {
    // From here on AWS is called. Before serving: finish what a crash interrupted, then close and
    // announce what came due while down.
    startup.lap('setup');
    const recovered = await locks.run(JOBS.dueWork, () =>
      useCases.recoverInterrupted({ graceMs: persistence.pollMs === undefined ? 0 : RECOVER_GRACE_MS }),
    );
    if (recovered.reopened + recovered.closed > 0)
      logger.warn({ ...recovered }, 'recovered grants interrupted by a restart');
    // What a crash left half done that the database tells (backstops out of line with an extend,
    // connection cuts to finish or lift): put right before serving, as every grant's state is above.
    if (reconcileOn) {
      const leftovers = await locks.tryRun(JOBS.reconcile, () => useCases.reconcile('leftovers'));
      if (leftovers.ran && leftovers.value.failed > 0)
        logger.warn(
          { ...leftovers.value },
          'start-up could not put right everything a crash left; reconciliation retries',
        );
    }
    startup.lap('recovery');
    // A policy edited while hallpass was down: the grants it no longer describes still close as recorded, and the channel hears so.
    await announcePolicyChanges(policy);
    await scheduler.start();
    startup.lap('timersArmed');
    // What those closes left to follow (their rules' backstops removed or moved) is done before serving
    // too: a healthy hallpass has nothing in AWS left over from what came due while it was down.
    await followUps.idle();
    await credentials;
    startup.lap('followUps');
  } catch (error) {
    // Nothing is served yet: let go of the port and the database (and its lock) before failing.
    scheduler.stop();
    await http.close();
    unsubscribe();
    await persistence.close();
    aws.destroy();
    throw error;
  }
  const cutting = policy.resources.filter((r) => r.kind === 'security-group' && r.cutConnections === 'nacl');
  if (cutting.length > 0 && (!reconcileOn || env.reconcileIntervalMs === 0)) {
    logger.warn(
      { resources: cutting.map((r) => r.id) },
      'these resources cut open connections at the end, but the periodic reconciliation is off (HALLPASS_RECONCILE_INTERVAL=0s): their network ACL deny entries are lifted only at the next start-up',
    );
  }
  sweep.start();
  outboxLoop.start();
  headLoop.start();

  // Slack is connected in the background and never holds up start-up: a Slack that is down, slow or
  // refusing the token is retried (capped backoff, each failure logged) while the HTTP server serves
  // /healthz and the timers above close grants. The retries use the injected timers (tests' fake clock).
  // Started only now: in Socket Mode, events flow as soon as it connects.
  slack = startSlackApp({
    botToken: env.slackBotToken,
    signingSecret: env.slackSigningSecret,
    appToken: env.slackAppToken,
    apiUrl: env.slackApiUrl,
    clientOptions: clientOptions(),
    context: { useCases, clock, logger, home: refresher },
    timers,
    backoff: opts.slackBackoff,
  });
  /** The background work, in the order work flows: a close queues follow-ups and notices, notices refresh Home. */
  const background = [scheduler, sweep, headLoop, followUps, announcements, outboxLoop, refresher];
  const idleInTurn = async (): Promise<void> => {
    for (const work of background) await work.idle();
  };
  const runtime = slack;
  /** Stops taking work, lets what is in progress finish, lets go of the port, the database and AWS. */
  const stopAll = async (): Promise<void> => {
    await http.close();
    await runtime.stop();
    for (const loop of [scheduler, sweep, outboxLoop, headLoop]) loop.stop();
    // A reconciliation pass in progress finishes its groups without resting between them.
    reconcilePacing.halt();
    // Runs in progress finish; what follows the last closes (backstops, cuts) is finished now rather
    // than left to reconciliation; a delivery in flight ends within one Slack timeout, and what is
    // still waiting goes out at the next start.
    await idleInTurn();
    // The background start-up checks only read and log: waited for briefly, not held up for (each of
    // their calls is bounded by its own timeout).
    await withinRealTime(checksRest, STOP_WAITS_FOR_CHECKS_MS);
    await withinRealTime(tablesChecked, STOP_WAITS_FOR_CHECKS_MS);
    unsubscribe();
    await persistence.close();
    aws.destroy();
  };
  // A Slack that answers at once is ready before requests are served, as it always was (Slack's first
  // deliveries are served, not answered 503); one that fails does so at once; one that hangs delays
  // serving by the grace at most. Real time: it bounds a network call, it is not a schedule.
  let answered = false;
  await withinRealTime(
    slack.firstAttempt.then(() => {
      answered = true;
    }),
    SLACK_FIRST_ATTEMPT_GRACE_MS,
  );
  if (checksOn) {
    try {
      slackVerdict({ env, logger, failure: slack.firstFailure(), answered });
    } catch (error) {
      await stopAll();
      throw error;
    }
    checksRest = backgroundChecks({
      env,
      policy,
      logger,
      aws,
      slackReady: slack.status() === 'ready',
      credentials: await credentials,
    });
  }
  http.open();
  startup.lap('slack');
  logger.info(
    {
      port,
      mode: env.mode,
      resources: policy.resources.length,
      deployment: env.deployment,
      // Where start-up's time went (real milliseconds per step), and the process's age: module loading.
      startupMs: { ...startup.steps, processAge: Math.round(process.uptime() * 1000) },
    },
    'hallpass started',
  );
  // Start-up's rules pass, once hallpass serves: it lists every managed rule in AWS (10,000 rules are
  // 1.5 s of XML on a small machine, and AWS answers each group in its own time), and neither requests
  // nor the timers armed above wait for it. It closes nothing that is due (the closes above did, with
  // the rules a dead opener left unrecorded); it finds what a hand or another process left: orphaned
  // rules, drift. Unpaced, several groups at once; the passes after it rest between groups.
  if (reconcileOn) {
    const from = performance.now();
    void sweep.runNow().finally(() => {
      reconcilePacing.start();
      logger.info({ ms: Math.round(performance.now() - from) }, 'start-up reconciliation finished');
    });
  } else {
    reconcilePacing.start();
  }
  // The tables against the audit chain (the chain itself was verified above): it only logs, so it
  // runs once hallpass serves, a page at a time, never holding up a request or a close.
  tablesChecked = checkTablesAgainstChain(persistence.auditRecord, logger).then(
    () => undefined,
    (error: unknown) =>
      logger.error({ err: describeError(error) }, 'could not check the tables against the audit chain'),
  );

  let stopped = false;
  return {
    port,
    home: refresher,
    useCases,
    deliveries: outboxLoop,
    reloadPolicy(next) {
      const problems = env.backstop === undefined ? [] : backstopProblems(next, env.backstop.roleArn);
      if (problems.length > 0) {
        logger.error(
          { problems },
          'policy reload refused: the backstop could not reach every resource; the running policy stays in force',
        );
        return Promise.resolve();
      }
      policy = next;
      const told = announcePolicyChanges(next).then(
        (announced) =>
          logger.info({ resources: next.resources.length, grantsTold: announced }, 'policy reloaded'),
        (error: unknown) =>
          logger.error(
            { err: describeError(error) },
            'policy reloaded, but telling the grants it changed failed',
          ),
      );
      // Timings may have changed (warnBefore, approval timeouts); Home shows resources and rights.
      scheduler.wake();
      refresher.changed();
      // The audit channel or its interval may have changed.
      headLoop.wake();
      return told;
    },
    async settled() {
      // Each may start work for the next (a listener queues a notice, a close refreshes Home): go round.
      await checksRest;
      await tablesChecked;
      for (let round = 0; round < 3; round++) {
        await runtime.settled();
        await idleInTurn();
      }
    },
    scheduler,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopAll();
    },
  };
}

/** Real milliseconds between start-up's steps, for the 'hallpass started' line: where a slow start went. */
function stopwatch(): { lap: (step: string) => void; readonly steps: Record<string, number> } {
  const steps: Record<string, number> = {};
  let last = performance.now();
  return {
    lap: (step) => {
      const now = performance.now();
      steps[step] = Math.round(now - last);
      last = now;
    },
    steps,
  };
}
