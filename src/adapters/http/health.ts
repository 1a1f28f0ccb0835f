import type { HealthLevel, HealthProblem } from '../../app/health';
import type { HttpRoute } from './router';

/**
 * What `/healthz` reports. `database`: whether the database answers — without it hallpass can close
 * nothing. `slack`: whether Slack has accepted the token (and, in Socket Mode, the socket is up) or
 * hallpass is still trying; grants close on time either way.
 */
export type HealthStatus = {
  /** On PostgreSQL, asked at each request (`SELECT 1`, answered within 2 s or counted unreachable). */
  readonly database: 'ok' | 'unreachable';
  readonly slack: 'ready' | 'connecting';
  /**
   * AWS's own deadline for every rule: `on` with `HALLPASS_BACKSTOP_ROLE_ARN`, else `off` —
   * rules then close only while hallpass runs. Reported, not unhealthy: it is a setting.
   */
  readonly backstop: 'on' | 'off';
  /** Socket Mode only: the link to Slack, and since when (ISO-8601 UTC). */
  readonly socket?: { readonly state: 'up' | 'down'; readonly since: string } | undefined;
  /** `unhealthy` (503): the database is unreachable or a close is failing past its threshold; `degraded` (200): Slack or AWS trouble, an outbox backlog. */
  readonly status: HealthLevel;
  /** What is wrong, most serious first; empty when `status` is `ok`. */
  readonly problems: readonly HealthProblem[];
  /** `dry-run` under `HALLPASS_AWS=dry-run` (no AWS call is made); absent when AWS is live, as before. */
  readonly aws?: 'dry-run' | undefined;
};

/**
 * `GET /healthz`: `{"ok","status","database","slack","backstop","socket"?,"problems"}`. HTTP 503 only
 * when `status` is `unhealthy` (the database does not answer, or a close has been failing past its
 * threshold: hallpass cannot close access, and a restart or a failover may help); 200 otherwise, with
 * `degraded` and the problems named for Slack or AWS trouble. Slack down is never 503: hallpass goes
 * on closing grants, and an orchestrator that restarted it for Slack's outage would only stop it doing so.
 * `ok` is true exactly when the answer is 200.
 */
export function healthRoute(status: () => HealthStatus | Promise<HealthStatus>): HttpRoute {
  return {
    path: '/healthz',
    methods: {
      GET: async (_req, res) => {
        const { database, slack, backstop, socket, aws, status: level, problems } = await status();
        const ok = level !== 'unhealthy';
        res.writeHead(ok ? 200 : 503, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({
            ok,
            status: level,
            database,
            slack,
            backstop,
            ...(socket === undefined ? {} : { socket }),
            ...(aws === undefined ? {} : { aws }),
            problems,
          }),
        );
      },
    },
  };
}

/**
 * `GET /metrics`: the Prometheus text `scrape` renders. Not authenticated: it names resources (in
 * labels); keep `PORT` off the internet or set `HALLPASS_METRICS=off`.
 */
export function metricsRoute(
  scrape: () => Promise<{ contentType: string; body: string } | undefined>,
): HttpRoute {
  return {
    path: '/metrics',
    methods: {
      GET: async (_req, res) => {
        const page = await scrape();
        if (page === undefined) {
          res.writeHead(404, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ ok: false, error: 'metrics_off' }));
          return;
        }
        res.writeHead(200, { 'Content-Type': page.contentType });
        res.end(page.body);
      },
    },
  };
}
