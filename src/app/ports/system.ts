/** The only source of time for use cases and stores; tests inject a fake that moves on command. */
export interface Clock {
  now(): Date;
}

/** Timers the scheduler arms; the fake clock implements them too so moving time fires them. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Prefixed, unguessable ids: `req_…`, `grt_…`. */
export interface Ids {
  request(): string;
  grant(): string;
}

/** Structured logging (pino in production). Never pass secrets in `fields`. */
export interface Logger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

/** Wakes a background loop: the scheduler after a change to due times, the outbox dispatcher after a delivery was queued. */
export interface Wakeup {
  wake(): void;
}

/** The scheduler's wake-up, which also keeps what people see (App Home) current. */
export interface DueWakeup extends Wakeup {
  /**
   * Something people see changed, but no due time moved earlier (a grant closed: its due times are
   * gone): Home is refreshed, and no replica re-reads its due times for it. With thousands of grants
   * ending, a re-read by every replica after every close is most of the database's work.
   */
  changed(): void;
}
