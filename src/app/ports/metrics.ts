/** What happened to a request, as `/metrics` counts it (`hallpass_requests_total{outcome}`). */
export type RequestOutcome =
  | 'submitted'
  | 'approved'
  | 'denied'
  | 'timed_out'
  | 'cancelled'
  | 'failed'
  | 'opened'
  | 'extended';

/** What reconciliation found: an orphaned rule revoked, a rule gone from AWS, a rule changed by hand. */
export type ReconcileFindingKind = 'orphan' | 'vanished' | 'modified';

/**
 * Counters and timings the use cases record for `/metrics`. The adapter (Prometheus) lives apart; the
 * use cases only say what happened. Absent from a use case's deps (unit tests): nothing is recorded.
 */
export interface Metrics {
  requestOutcome(outcome: RequestOutcome): void;
  /** A grant closed `latenessMs` after its planned end (negative: ended early, e.g. revoked). */
  grantClosed(latenessMs: number): void;
  reconcileFinding(kind: ReconcileFindingKind): void;
}

/** Records nothing. */
export const noMetrics: Metrics = {
  requestOutcome: () => undefined,
  grantClosed: () => undefined,
  reconcileFinding: () => undefined,
};
