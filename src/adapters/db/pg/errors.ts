import { DbError, isTransientPgCode } from '../db-error';

/**
 * node-postgres's own connection failures carry no code; these are the ones that mean the connection
 * broke under us (not that we closed it), so nothing sent on it after the break took effect.
 */
const CONNECTION_LOST_MESSAGES = [
  'Connection terminated unexpectedly',
  'Client has encountered a connection error and is not queryable',
  'Connection terminated due to connection timeout',
];

/** The driver's error inside drizzle's wrapping (`DrizzleQueryError` keeps it as `cause`). */
function driverError(e: unknown): unknown {
  let current = e;
  for (let depth = 0; depth < 5; depth++) {
    if (typeof current !== 'object' || current === null) return current;
    if ('code' in current && typeof current.code === 'string') return current;
    if (!('cause' in current) || current.cause === undefined) return current;
    current = current.cause;
  }
  return current;
}

/**
 * The code a PostgreSQL failure goes by: a `DbError`'s own, the SQLSTATE (`23505`), a socket's
 * (`ECONNREFUSED`), `CONNECTION_LOST` for node-postgres's code-less broken connection, else `DB_ERROR`.
 */
export function pgCodeOf(e: unknown): string {
  if (e instanceof DbError) return e.code;
  const inner = driverError(e);
  if (typeof inner === 'object' && inner !== null && 'code' in inner && typeof inner.code === 'string') {
    return inner.code;
  }
  if (inner instanceof Error && CONNECTION_LOST_MESSAGES.includes(inner.message)) return 'CONNECTION_LOST';
  return 'DB_ERROR';
}

/** Whether `e` is a failure after which the same work can be tried again (see `isTransientPgCode`). */
export const isTransient = (e: unknown): boolean => isTransientPgCode(pgCodeOf(e));

/** Whether `e` means the connection itself failed (as opposed to a statement being refused). */
export function isConnectionFailure(e: unknown): boolean {
  const code = pgCodeOf(e);
  return code !== '40001' && code !== '40P01' && isTransientPgCode(code);
}

/**
 * `e` as a `DbError` named after `operation`, coded as `pgCodeOf` says, with the driver's message (not
 * drizzle's, which repeats the query). A `DbError` already named by an inner operation is kept.
 */
export function toPgDbError(operation: string, e: unknown): DbError {
  if (e instanceof DbError) return e;
  const inner = driverError(e);
  const message = inner instanceof Error ? inner.message : e instanceof Error ? e.message : String(e);
  return new DbError(operation, pgCodeOf(e), message, { cause: e });
}

/** The one row an `INSERT … RETURNING` gave back (a missing one is a driver failure, not an outcome). */
export function returned<T>(operation: string, rows: readonly T[]): T {
  const [row] = rows;
  if (row === undefined) throw new DbError(operation, 'DB_ERROR', 'the statement returned no row');
  return row;
}
