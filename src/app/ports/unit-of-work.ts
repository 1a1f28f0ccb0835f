/** Runs `fn` atomically (a synchronous SQLite transaction). Never call Slack or AWS inside. */
export interface UnitOfWork {
  tx<T>(fn: () => T): T;
}
