import type { Logger, Metrics, RequestOutcome } from './ports';

/** What recording an outcome needs: the log, and the counters when `/metrics` is on. */
export type OutcomeDeps = {
  readonly logger: Logger;
  readonly metrics?: Metrics | undefined;
};

/** The log line of each outcome (operators search for them; ids go in the fields). */
export const OUTCOME_LOG: Readonly<Record<RequestOutcome | 'vote', string>> = {
  submitted: 'request submitted',
  vote: 'approval recorded',
  approved: 'request approved',
  denied: 'request denied',
  timed_out: 'request timed out',
  cancelled: 'request cancelled',
  failed: 'request failed',
  opened: 'grant opened',
  extended: 'grant extended',
};

/**
 * Logs a step of a request's life at info level, with its ids (request, grant, resource, actor), and
 * counts it in `hallpass_requests_total{outcome}`; a vote that does not decide the request is logged
 * only. Called after the step is committed, never inside a transaction.
 */
export function noteOutcome(
  deps: OutcomeDeps,
  outcome: RequestOutcome | 'vote',
  fields: Readonly<Record<string, unknown>>,
): void {
  deps.logger.info({ ...fields }, OUTCOME_LOG[outcome]);
  if (outcome !== 'vote') deps.metrics?.requestOutcome(outcome);
}
