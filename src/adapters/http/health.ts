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
  /** `dry-run` under `HALLPASS_AWS=dry-run` (no AWS call is made); absent when AWS is live, as before. */
  readonly aws?: 'dry-run' | undefined;
};

/**
 * `GET /healthz`: `{"ok":…,"database":…,"slack":…,"backstop":…}`, HTTP 200 while the database is reachable and 503
 * when it is not. Slack still connecting is reported but is not unhealthy: hallpass goes on closing
 * grants, and an orchestrator that restarted it for Slack's outage would only stop it doing so.
 */
export function healthRoute(status: () => HealthStatus | Promise<HealthStatus>): HttpRoute {
  return {
    path: '/healthz',
    methods: {
      GET: async (_req, res) => {
        const { database, slack, backstop, aws } = await status();
        const ok = database === 'ok';
        res.writeHead(ok ? 200 : 503, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ ok, database, slack, backstop, ...(aws === undefined ? {} : { aws }) }));
      },
    },
  };
}
