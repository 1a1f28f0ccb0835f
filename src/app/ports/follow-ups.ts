/**
 * Work that follows a close but must never hold one back: moving a rule's backstop in EventBridge
 * Scheduler and cutting its connections. A close queues it and returns as soon as AWS has
 * revoked the rule, so a slow or throttled Scheduler never delays the next grant's close in a burst.
 * Run one at a time, in order; a failure is logged — reconciliation finishes anything left (the
 * database holds what each step needs). Nothing here is needed for correctness after a crash.
 */
export type FollowUps = {
  /** Queues `work` after whatever is queued. */
  after(what: string, work: () => Promise<unknown>): void;
  /** Resolves once the queue is empty (tests, shutdown). */
  idle(): Promise<void>;
};
