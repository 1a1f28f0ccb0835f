import { WebClient, type WebClientOptions } from '@slack/web-api';
import { createAwsClients } from './adapters/aws/aws-clients';
import { createEc2NetworkAccess } from './adapters/aws/ec2-network-access';
import { createStsRoleSessions } from './adapters/aws/sts-role-sessions';
import { createSqliteAuditExportSource } from './adapters/db/audit-export-query';
import { openDatabase } from './adapters/db/open-db';
import { createSqliteStores } from './adapters/db/stores';
import { healthRoute } from './adapters/http/health';
import { createHttpServer } from './adapters/http/router';
import { BODY_LIMIT_BYTES, startSlackApp } from './adapters/slack/app';
import { createSlackDirectory } from './adapters/slack/directory';
import { createHomeRefresher, type HomeRefresher } from './adapters/slack/home-refresher';
import { boltLogger } from './adapters/slack/logger';
import { createSlackNotifier } from './adapters/slack/notifier';
import { randomIds, systemClock, systemTimers } from './adapters/system/system';
import type { AppDeps } from './app/deps';
import { KeyedMutex } from './app/keyed-mutex';
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
import { createUseCases, type UseCases } from './app/use-cases';
import type { Env } from './config';
import { DEFAULT_RECONCILE_INTERVAL_MS } from './config/env';
import type { Policy } from './domain/policy';
import { createScheduler, type Scheduler } from './scheduler/scheduler';
import { createSweep } from './scheduler/sweep';

/** Longest a single Slack Web API call may take before it is abandoned (and logged). */
const SLACK_TIMEOUT_MS = 10_000;

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
   * Reconciliation with AWS (issue 5), at start-up and every `HALLPASS_RECONCILE_INTERVAL`. On unless
   * `false`: only end-to-end tests of other features turn it off, so their exact AWS call counts hold.
   */
  readonly reconcile?: boolean;
  /** Extra Web API client options (tests: no retries). */
  readonly slackClientOptions?: WebClientOptions;
};

export type Hallpass = {
  readonly port: number;
  /** Keeps App Home tabs current; tests await `home.idle()`. */
  readonly home: HomeRefresher;
  readonly useCases: UseCases;
  readonly scheduler: Scheduler;
  /** Resolves when nothing is in progress: listeners, the scheduler's run, Home refreshes (tests). */
  settled(): Promise<void>;
  /** Stops taking work, lets the scheduler's run in progress finish, closes the database. */
  stop(): Promise<void>;
};

/**
 * The composition root: builds every adapter, binds the use cases, catches up on what came due
 * while hallpass was down, arms the expiry timer, then starts listening to Slack.
 */
export async function startHallpass(opts: HallpassOptions): Promise<Hallpass> {
  const { env, logger } = opts;
  const clock = opts.clock ?? systemClock;
  const timers = opts.timers ?? systemTimers;
  const handle = openDatabase(env.dbPath);
  const stores = createSqliteStores(handle);
  const clientOptions: WebClientOptions = {
    ...(env.slackApiUrl === undefined ? {} : { slackApiUrl: env.slackApiUrl }),
    logger: boltLogger(logger),
    // A hung Slack call must not hold up the scheduler's run (which closes grants) forever.
    timeout: SLACK_TIMEOUT_MS,
    ...opts.slackClientOptions,
  };
  const client = new WebClient(env.slackBotToken, clientOptions);
  const aws = createAwsClients();
  let scheduler: Scheduler | undefined;
  let home: HomeRefresher | undefined;
  const directory = createSlackDirectory({ client, clock, logger });
  const deps: AppDeps = {
    clock,
    ids: opts.ids ?? randomIds,
    logger,
    policy: () => opts.policy,
    ...stores,
    auditExport: createSqliteAuditExportSource(handle.db),
    network: opts.network ?? createEc2NetworkAccess({ clientFor: aws.ec2For }),
    roles: opts.roles ?? createStsRoleSessions({ stsFor: aws.stsFor, iam: aws.iam, clock }),
    notifier: createSlackNotifier({ client, clock, mentioner: () => directory.mentioner() }),
    directory,
    wakeup: {
      wake: () => {
        scheduler?.wake();
        home?.changed();
      },
    },
    locks: new KeyedMutex(),
    faults: opts.faults ?? noFaults,
  };
  const useCases = createUseCases(deps);
  const refresher = createHomeRefresher({ client, ctx: { uc: useCases, clock, logger }, logger });
  home = refresher;
  const sched = createScheduler({
    clock,
    timers,
    logger,
    nextDue: () =>
      earliest(
        stores.grants.nextExpiry(),
        stores.requests.nextDeadline(),
        stores.roleSessions.nextCleanup(),
        stores.grants.nextWarning(opts.policy.warnBefore),
        stores.requests.nextReminder(),
        stores.outbox.nextAttempt(),
      ),
    run: useCases.runDueWork,
  });
  scheduler = sched;
  // Before serving: finish what a crash interrupted, then close and announce what came due while down.
  const recovered = await useCases.recoverInterrupted();
  if (recovered.reopened + recovered.closed > 0)
    logger.warn({ ...recovered }, 'recovered grants interrupted by a restart');
  // Reconciliation (issue 5): after recovery, before the expiry timer; then every interval.
  const reconcileOn = opts.reconcile ?? true;
  const sweep = createSweep({
    timers,
    logger,
    intervalMs: reconcileOn ? (env.reconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS) : 0,
    name: 'reconciliation',
    run: useCases.reconcile,
  });
  if (reconcileOn) await sweep.runNow();
  await sched.start();
  sweep.start();

  const slack = await startSlackApp({
    botToken: env.slackBotToken,
    signingSecret: env.slackSigningSecret,
    appToken: env.slackAppToken,
    apiUrl: env.slackApiUrl,
    clientOptions,
    context: { uc: useCases, clock, logger, home: refresher },
  });
  // The one HTTP server (adapters/http): Slack's route in HTTP mode, /healthz in both; anything else 4xx.
  const http = createHttpServer({
    routes: [...(slack.route === undefined ? [] : [slack.route]), healthRoute(() => handle.sqlite.open)],
    logger,
    bodyLimitBytes: BODY_LIMIT_BYTES,
  });
  const port = await http.listen(env.port);
  logger.info({ port, mode: env.mode, resources: opts.policy.resources.length }, 'hallpass started');

  let stopped = false;
  return {
    port,
    home: refresher,
    useCases,
    async settled() {
      await slack.settled();
      await sched.idle();
      await sweep.idle();
      await refresher.idle();
    },
    scheduler: sched,
    async stop() {
      if (stopped) return;
      stopped = true;
      await http.close();
      await slack.stop();
      sched.stop();
      sweep.stop();
      await sched.idle();
      await sweep.idle();
      handle.close();
      aws.destroy();
    },
  };
}

function earliest(...dates: (Date | undefined)[]): Date | undefined {
  const times = dates.filter((d): d is Date => d !== undefined).map((d) => d.getTime());
  return times.length === 0 ? undefined : new Date(Math.min(...times));
}
