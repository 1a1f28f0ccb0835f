/**
 * Runs `fn` atomically: every store call `fn` makes (awaited inside it) is in one transaction, committed
 * when `fn` resolves and rolled back when it throws. A `tx` inside another is a savepoint: its throw,
 * caught by the outer body, undoes only the inner work (run such inner transactions one at a time). Store calls made
 * outside `fn` never see or join its writes before it commits. Never call Slack or AWS inside: a
 * transaction holds locks (SQLite's one writer; PostgreSQL's row locks and the audit chain's append lock).
 */
export interface UnitOfWork {
  tx<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Runs `then` once the transaction this is called in has committed — at once outside one, never if
   * it rolls back (a savepoint rolled back drops what was asked under it). For telling other work to
   * re-read (waking the outbox or the scheduler): told earlier, a reader on another connection may
   * read before COMMIT, see nothing, and sleep until its next poll. `then` must not throw.
   */
  afterCommit(then: () => void): void;
}
