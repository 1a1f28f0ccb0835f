import type { SyncDueQuery } from '../../src/adapters/db/sync-gate';
import type { DueQuery } from '../../src/app/ports';

/**
 * A `DueQuery` over rows in memory, from one predicate and one due time, as the SQLite stores build
 * theirs: `due` and `next` read the same rows. `at` may return `undefined` (never due).
 */
export function memorySyncDueQuery<T>(
  rows: () => Iterable<T>,
  waiting: (row: T) => boolean,
  at: (row: T) => number | undefined,
  tiebreak: (row: T) => string,
): SyncDueQuery<T> {
  const timed = () =>
    [...rows()]
      .filter(waiting)
      .flatMap((row) => {
        const t = at(row);
        return t === undefined ? [] : [{ row, t }];
      })
      .sort((a, b) => a.t - b.t || tiebreak(a.row).localeCompare(tiebreak(b.row)));
  return {
    due: (now) =>
      timed()
        .filter((x) => x.t <= now.getTime())
        .map((x) => x.row),
    next: () => {
      const first = timed()[0];
      return first === undefined ? undefined : new Date(first.t);
    },
  };
}

/** The same, answered as the port does (asynchronously). */
export function memoryDueQuery<T>(...args: Parameters<typeof memorySyncDueQuery<T>>): DueQuery<T> {
  const query = memorySyncDueQuery(...args);
  return { due: async (now) => query.due(now), next: async () => query.next() };
}
