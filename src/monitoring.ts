import { healthRoute, metricsRoute } from './adapters/http/health';
import type { HttpRoute } from './adapters/http/router';
import { createObservability, type Observability } from './adapters/metrics/prometheus';
import type { SlackRuntime } from './adapters/slack/app';
import { closesFailing, evaluateHealth, RECENT_ERRORS_MS } from './app/health';
import type { Clock, GrantStore, OutboxStore } from './app/ports';
import type { Policy } from './domain/policy';

/** What `/healthz` and `/metrics` read: the database, the policy, and the Slack runtime once it exists. */
export type MonitoringSources = {
  readonly clock: Clock;
  readonly metrics: 'on' | 'off';
  readonly database: () => Promise<boolean>;
  readonly grants: Pick<GrantStore, 'list'>;
  readonly outbox: Pick<OutboxStore, 'waiting'>;
  readonly policy: () => Policy;
  readonly slack: () => SlackRuntime | undefined;
  readonly backstop: 'on' | 'off';
  /** `dry-run` under `HALLPASS_AWS=dry-run`, reported in `/healthz`; absent when AWS is live. */
  readonly aws?: 'dry-run' | undefined;
};

/**
 * `/healthz` (truthful: see `evaluateHealth`) and `/metrics` (Prometheus, unless `HALLPASS_METRICS=off`)
 * over one `Observability`, whose `metrics` the use cases record into and whose `instrument` and
 * `slackApiError` compose wraps the AWS ports and Slack clients with.
 */
export function createMonitoring(src: MonitoringSources): { observed: Observability; routes: HttpRoute[] } {
  const live = () => src.grants.list(['opening', 'active', 'closing']);
  const observed = createObservability({
    enabled: src.metrics === 'on',
    clock: src.clock,
    windowMs: RECENT_ERRORS_MS,
    sources: {
      async grantsActive() {
        const counts = new Map(src.policy().resources.map((r) => [r.id, 0]));
        for (const g of await src.grants.list(['active']))
          counts.set(g.resourceId, (counts.get(g.resourceId) ?? 0) + 1);
        return counts;
      },
      closesFailing: async () => closesFailing(await live(), src.clock.now()).length,
      outboxDepth: () => src.outbox.waiting(),
      socketUp: () => {
        const link = src.slack()?.link?.();
        return link === undefined ? undefined : link.state === 'up' ? 1 : 0;
      },
    },
  });
  const health = healthRoute(async () => {
    const database = (await src.database()) ? 'ok' : 'unreachable';
    // Read only from a database that answers; a read that fails anyway leaves them unknown.
    const [grants, outboxDepth] =
      database === 'ok' ? await Promise.all([live(), src.outbox.waiting()]).catch(() => []) : [];
    const slack = src.slack()?.status() ?? 'connecting';
    const link = src.slack()?.link?.();
    const report = evaluateHealth({
      now: src.clock.now(),
      database,
      grants,
      slack,
      socket: link,
      slackErrors: observed.recentSlackErrors(),
      awsErrors: observed.recentAwsErrors(),
      outboxDepth,
    });
    return {
      database,
      slack,
      backstop: src.backstop,
      aws: src.aws,
      socket: link === undefined ? undefined : { state: link.state, since: link.since.toISOString() },
      ...report,
    };
  });
  return {
    observed,
    routes: src.metrics === 'on' ? [health, metricsRoute(() => observed.render())] : [health],
  };
}
