import { InfraError } from '../../app/infra-error';

/** SQLite result codes worth retrying: another connection holds the lock. */
const RETRYABLE = new Set(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_TIMEOUT', 'SQLITE_LOCKED']);

/**
 * PostgreSQL failures after which the same work can simply be tried again: a serialization failure
 * (40001) or a deadlock (40P01) rolled the transaction back; the server is shutting down or starting
 * (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now); the connection failed
 * (SQLSTATE class 08, a refused or reset socket, or `CONNECTION_LOST`: the driver's own code-less
 * "connection terminated"). Whether retrying is *safe* is the caller's to judge: a connection lost while
 * COMMIT was on its way leaves the outcome unknown (see `pg/unit-of-work.ts`).
 */
const PG_TRANSIENT = new Set([
  '40001',
  '40P01',
  '57P01',
  '57P02',
  '57P03',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'CONNECTION_LOST',
]);

/** Whether a `DbError` code (or a driver's) names a transient PostgreSQL failure. */
export const isTransientPgCode = (code: string): boolean => PG_TRANSIENT.has(code) || code.startsWith('08');

/**
 * A database failure, named after the store operation that hit it (`grants.insert`). `code` is the
 * SQLite extended result code (`SQLITE_CONSTRAINT_UNIQUE`, …) or the PostgreSQL SQLSTATE (`23505`, …),
 * `DB_ERROR` for other driver failures (a closed connection), or — for bugs in the caller — `NOT_FOUND`
 * (an operation that needs an existing row got an unknown id) and `INVALID_STATE` (a move the lifecycle
 * does not allow). Its kind is `unavailable` while another connection holds the lock or the failure was
 * transient (worth retrying, see `isTransientPgCode`), `unknown` otherwise.
 */
export class DbError extends InfraError {
  constructor(
    readonly operation: string,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    const retryable = RETRYABLE.has(code) || isTransientPgCode(code);
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
