import { InfraError } from '../../app/infra-error';

/** SQLite result codes worth retrying: another connection holds the lock. */
const RETRYABLE = new Set(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_TIMEOUT', 'SQLITE_LOCKED']);

/**
 * A database failure, named after the store operation that hit it (`grants.insert`). `code` is the
 * SQLite extended result code (`SQLITE_CONSTRAINT_UNIQUE`, …), `DB_ERROR` for other driver failures
 * (a closed connection), or — for bugs in the caller — `NOT_FOUND` (an operation that needs an existing
 * row got an unknown id) and `INVALID_STATE` (a move the lifecycle does not allow). Its kind is
 * `unavailable` while another connection holds the lock (worth retrying), `unknown` otherwise.
 */
export class DbError extends InfraError {
  constructor(
    readonly operation: string,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    const retryable = RETRYABLE.has(code);
    super(retryable ? 'unavailable' : 'unknown', retryable, `${operation}: ${message}`, {
      ...options,
      providerCode: code,
    });
    this.name = 'DbError';
  }
}

const codeOf = (e: unknown): string => {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
  return 'DB_ERROR';
};

/** `e` as a `DbError` named after `operation`; a `DbError` already named by an inner operation is kept. */
export function toDbError(operation: string, e: unknown): DbError {
  if (e instanceof DbError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new DbError(operation, codeOf(e), message, { cause: e });
}

/** Runs `fn`, wrapping anything the driver throws in a `DbError` named after `operation`. */
export function withDbErrors<T>(operation: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw toDbError(operation, e);
  }
}

/** The error for an id that must exist (the caller has just read it; rows are never deleted). */
export const notFound = (operation: string, what: string, id: string): DbError =>
  new DbError(operation, 'NOT_FOUND', `no ${what} with id ${id}`);
