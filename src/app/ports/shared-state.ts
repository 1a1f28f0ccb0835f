/**
 * State that must be shared by every hallpass replica on one database: nothing here may live only in
 * one process's memory when several run at once (see docs/operations.md, "Running several replicas"). On
 * SQLite (one process) the in-process implementations are exact; on PostgreSQL they use the database.
 */

/** What `Locks.tryRun` did: ran `fn` (and what it returned), or found the lock held elsewhere. */
export type TryRun<T> = { readonly ran: true; readonly value: T } | { readonly ran: false };

/**
 * Named mutual exclusion across every replica: the per-security-group lock that keeps shared rules
 * correct (`sg:<region>:<group>`), and the single runner of each background job (`job:due-work`,
 * `job:outbox`, `job:reconcile`). A lock is held for the whole of `fn`, AWS calls included, and
 * released when it settles — or, on PostgreSQL, at once when the holding process dies (its session ends).
 */
export interface Locks {
  /** Waits for the lock, then runs `fn` holding it. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** Runs `fn` holding the lock if nobody holds it now; otherwise does nothing and says so. */
  tryRun<T>(key: string, fn: () => Promise<T>): Promise<TryRun<T>>;
}

/** Per-key sliding windows (the `/access` flood guard): counts shared by every replica. */
export interface RateLimits {
  /**
   * Records an attempt under `key` at `now` and says whether it is allowed: at most `limit` admissions
   * in any `windowMs`. A refused attempt does not count.
   */
  admit(key: string, limit: number, windowMs: number, now: Date): Promise<boolean>;
}

/** How many people's Home tabs are kept fresh (those who opened it most recently). */
export const MAX_HOME_VIEWERS = 500;

/** The people whose App Home tab hallpass keeps fresh (those who opened it most recently). */
export interface HomeViewers {
  /** Someone opened their Home tab at `at`. */
  remember(userId: string, at: Date): Promise<void>;
  /** The `limit` most recent viewers, most recent first. */
  recent(limit: number): Promise<string[]>;
}

/**
 * Tells every replica that something changed (due times, the outbox, what Home shows), so each re-arms
 * its timers from the database at once instead of at its next periodic re-read (PostgreSQL
 * `LISTEN`/`NOTIFY`; in one process, a direct call).
 */
export interface ChangeFeed {
  /** Announces a change of this kind to every replica (this one included). */
  publish(kind: ChangeKind): void;
  /** Calls `fn` on every change announced by any replica; returns the unsubscribe. */
  subscribe(fn: (kind: ChangeKind) => void): () => void;
}

export type ChangeKind = 'due' | 'outbox' | 'home';

/** Whether the database answers now (for `/healthz`): `ok` false names why, briefly, without secrets. */
export interface DbHealth {
  check(): Promise<{ readonly ok: true } | { readonly ok: false; readonly reason: string }>;
}
