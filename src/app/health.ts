import type { Grant } from '../domain/grant';
import { ESCALATE_AFTER } from './close-grant';

/**
 * A close is "failing past the threshold" — and `/healthz` answers 503 — when a grant has failed
 * this many close attempts (the same count that raises it in Slack), or is still not closed
 * `CLOSE_OVERDUE_UNHEALTHY_MS` after its end, whatever the attempts say (a scheduler that stopped
 * trying at all is caught too). Read from the database, so every replica reports the same.
 */
export const CLOSE_FAILING_UNHEALTHY_ATTEMPTS = ESCALATE_AFTER;
export const CLOSE_OVERDUE_UNHEALTHY_MS = 5 * 60_000;
/** Slack or AWS errors within this window make hallpass `degraded`. */
export const RECENT_ERRORS_MS = 5 * 60_000;
/** More Slack messages waiting in the outbox than this is a backlog (`degraded`). */
export const OUTBOX_BACKLOG_DEGRADED = 50;

/** One thing wrong, as `/healthz` lists it. `since`: when it started, when known (ISO-8601 UTC). */
export type HealthProblem = {
  readonly what:
    | 'database-unreachable'
    | 'close-failing'
    | 'slack-not-ready'
    | 'socket-down'
    | 'slack-errors'
    | 'aws-errors'
    | 'outbox-backlog';
  readonly since?: string | undefined;
  readonly detail: string;
};

export type HealthLevel = 'ok' | 'degraded' | 'unhealthy';

/** What the health evaluation reads, gathered at each `/healthz` request. */
export type HealthFacts = {
  readonly now: Date;
  readonly database: 'ok' | 'unreachable';
  /** Live grants (opening, active, closing); absent when the database did not answer. */
  readonly grants?: readonly Grant[] | undefined;
  readonly slack: 'ready' | 'connecting';
  /** Socket Mode only: the link to Slack and since when it is in that state. */
  readonly socket?: { readonly state: 'up' | 'down'; readonly since: Date } | undefined;
  /** Since when Slack has not accepted the token (HTTP mode, or Socket Mode before the first link). */
  readonly slackSince?: Date | undefined;
  /** The last Slack Web API error and how many within `RECENT_ERRORS_MS`. */
  readonly slackErrors?: { readonly count: number; readonly last: Date; readonly error: string } | undefined;
  readonly awsErrors?: { readonly count: number; readonly last: Date; readonly error: string } | undefined;
  /** Slack messages waiting in the outbox; absent when the database did not answer. */
  readonly outboxDepth?: number | undefined;
};

export type HealthReport = { readonly status: HealthLevel; readonly problems: readonly HealthProblem[] };

/**
 * Grants whose close is failing: a `closing` grant with failed attempts, or any live grant past its end
 * — `pastThreshold` when it has failed `CLOSE_FAILING_UNHEALTHY_ATTEMPTS` times or is still open
 * `CLOSE_OVERDUE_UNHEALTHY_MS` after its end.
 */
export function closesFailing(
  grants: readonly Grant[],
  now: Date,
): { grant: Grant; pastThreshold: boolean }[] {
  return grants
    .filter((g) => g.closeAttempts > 0)
    .concat(grants.filter((g) => g.closeAttempts === 0 && overdueMs(g, now) >= CLOSE_OVERDUE_UNHEALTHY_MS))
    .map((grant) => ({
      grant,
      pastThreshold:
        grant.closeAttempts >= CLOSE_FAILING_UNHEALTHY_ATTEMPTS ||
        overdueMs(grant, now) >= CLOSE_OVERDUE_UNHEALTHY_MS,
    }));
}

const overdueMs = (g: Grant, now: Date): number => now.getTime() - g.expiresAt.getTime();

/**
 * `unhealthy` (HTTP 503) only for what a restart elsewhere could fix and what stops hallpass closing
 * access: the database unreachable, or a close failing past the threshold. Slack trouble (token not
 * accepted yet, Socket Mode link down, API errors), recent AWS errors and an outbox backlog are
 * `degraded` (HTTP 200): hallpass still closes grants on time, and an orchestrator restarting it for
 * Slack's outage would only stop it doing so. Pure.
 */
export function evaluateHealth(f: HealthFacts): HealthReport {
  const unhealthy: HealthProblem[] = [];
  const degraded: HealthProblem[] = [];
  if (f.database === 'unreachable')
    unhealthy.push({
      what: 'database-unreachable',
      detail: 'the database does not answer: nothing can be closed',
    });
  for (const { grant, pastThreshold } of closesFailing(f.grants ?? [], f.now)) {
    const problem: HealthProblem = {
      what: 'close-failing',
      since: grant.expiresAt.toISOString(),
      detail: `grant ${grant.id} on ${grant.resourceId} is still ${grant.state} after ${grant.closeAttempts} failed close attempt(s), ${Math.max(0, Math.round(overdueMs(grant, f.now) / 1000))} s past its end`,
    };
    (pastThreshold ? unhealthy : degraded).push(problem);
  }
  if (f.socket?.state === 'down')
    degraded.push({
      what: 'socket-down',
      since: f.socket.since.toISOString(),
      detail: 'no Socket Mode link to Slack: commands and clicks are not received; reconnecting',
    });
  else if (f.slack === 'connecting')
    degraded.push({
      what: 'slack-not-ready',
      since: f.slackSince?.toISOString(),
      detail: 'Slack has not accepted the bot token yet; retrying',
    });
  if (f.slackErrors !== undefined && f.slackErrors.count > 0)
    degraded.push({
      what: 'slack-errors',
      since: f.slackErrors.last.toISOString(),
      detail: `${f.slackErrors.count} Slack API error(s) in the last ${RECENT_ERRORS_MS / 60_000} min, last: ${f.slackErrors.error}`,
    });
  if (f.awsErrors !== undefined && f.awsErrors.count > 0)
    degraded.push({
      what: 'aws-errors',
      since: f.awsErrors.last.toISOString(),
      detail: `${f.awsErrors.count} failed AWS call(s) in the last ${RECENT_ERRORS_MS / 60_000} min, last: ${f.awsErrors.error}`,
    });
  if (f.outboxDepth !== undefined && f.outboxDepth > OUTBOX_BACKLOG_DEGRADED)
    degraded.push({
      what: 'outbox-backlog',
      detail: `${f.outboxDepth} Slack messages are waiting to be delivered`,
    });
  const status: HealthLevel = unhealthy.length > 0 ? 'unhealthy' : degraded.length > 0 ? 'degraded' : 'ok';
  return { status, problems: [...unhealthy, ...degraded] };
}
