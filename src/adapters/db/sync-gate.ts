import { AsyncLocalStorage } from 'node:async_hooks';
import type { DueQuery, UnitOfWork } from '../../app/ports';
import { toDbError } from './db-error';

/** A `DueQuery` as an in-process engine answers it: at once. */
export type SyncDueQuery<T> = { due(now: Date): T[]; next(): Date | undefined };

/** A kind of work with nothing in it, answered at once. */
export const NOTHING_DUE_NOW: SyncDueQuery<never> = { due: () => [], next: () => undefined };

/**
 * The synchronous form of a store port, as an in-process engine (SQLite on one connection, the
 * in-memory twins of the tests) implements it: every method answers at once. `SyncGate.store` turns it
 * into the port.
 */
export type Sync<S> = {
  [K in keyof S]: S[K] extends DueQuery<infer T>
    ? SyncDueQuery<T>
    : S[K] extends (...args: infer A) => DueQuery<infer T>
      ? (...args: A) => SyncDueQuery<T>
      : S[K] extends (...args: infer A) => Promise<infer R>
        ? (...args: A) => R
        : S[K];
};

/**
 * How the engine begins, commits and rolls back a transaction: `depth` 0 is the transaction itself,
 * deeper ones are savepoints inside it (a `tx` inside another).
 */
export type TxHooks = {
  begin(depth: number): void;
  commit(depth: number): void;
  rollback(depth: number): void;
};

/**
 * The asynchronous ports over a synchronous engine with one connection. A transaction spans awaits
 * (`UnitOfWork.tx` takes an async body), so while one is open, other work may run between its steps:
 * a store call that is not part of it must not land inside it (it would see writes that may yet roll
 * back, or be rolled back with them). The gate keeps them apart. A transaction holds the gate from
 * begin to commit; calls made inside it (tracked with `AsyncLocalStorage`, so every await in its body
 * counts) run at once; any other call waits for the gate, in order. With no transaction open, a call
 * runs at once, synchronously, as before.
 */
export type SyncGate = UnitOfWork & {
  /** Runs one synchronous store call through the gate. */
  run<T>(fn: () => T): Promise<T>;
  /**
   * The port over a synchronous store: every method (and every `DueQuery`) goes through the gate.
   * `builders` names methods that build a `DueQuery` (`warnings(warnBefore)`) rather than answer.
   */
  store<S extends object>(sync: Sync<S>, builders?: readonly (keyof S & string)[]): S;
  dueQuery<T>(query: SyncDueQuery<T>): DueQuery<T>;
};

type Phase = 'begin' | 'body' | 'commit';

export function createSyncGate(hooks: TxHooks): SyncGate {
  /**
   * The transaction (or savepoint) the current async context runs in. `open` turns false when it ends:
   * work it started that outlives it (a timer armed in its body inherits the context) is outside.
   */
  const inside = new AsyncLocalStorage<{ readonly depth: number; open: boolean }>();
  const current = () => {
    const frame = inside.getStore();
    return frame?.open === true ? frame : undefined;
  };
  /** Resolves when the holder before the last one in line releases the gate. */
  let tail: Promise<void> = Promise.resolve();
  /** Holders and waiters; 0 means a call may run at once. */
  let queued = 0;

  const acquire = async (): Promise<() => void> => {
    queued += 1;
    let release: () => void = () => {};
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const before = tail;
    tail = before.then(() => mine);
    await before;
    return () => {
      queued -= 1;
      release();
    };
  };

  const run = async <T>(fn: () => T): Promise<T> => {
    if (queued === 0 || current() !== undefined) return fn();
    const release = await acquire();
    try {
      return fn();
    } finally {
      release();
    }
  };

  /** Runs `fn` as a transaction (depth 0) or a savepoint in one (deeper). */
  const atDepth = async <T>(depth: number, fn: () => Promise<T>): Promise<T> => {
    let phase = 'begin' as Phase;
    try {
      hooks.begin(depth);
      phase = 'body';
      const frame = { depth, open: true };
      const value = await inside.run(frame, fn).finally(() => {
        frame.open = false;
      });
      phase = 'commit';
      hooks.commit(depth);
      return value;
    } catch (e) {
      if (phase !== 'begin') {
        try {
          hooks.rollback(depth);
        } catch {
          // The failure that got us here is the one to report.
        }
      }
      // What `fn` throws is the caller's (stores already name their operation) and passes through
      // untouched; a failure to begin or commit is the transaction's own.
      throw phase === 'body' ? e : toDbError('uow.tx', e);
    }
  };

  const tx = async <T>(fn: () => Promise<T>): Promise<T> => {
    const frame = current();
    // Inside a transaction: a savepoint, so a throw the outer body catches undoes only the inner work.
    if (frame !== undefined) return atDepth(frame.depth + 1, fn);
    const release = await acquire();
    try {
      return await atDepth(0, fn);
    } finally {
      release();
    }
  };

  const dueQuery = <T>(query: SyncDueQuery<T>): DueQuery<T> => ({
    due: (now) => run(() => query.due(now)),
    next: () => run(() => query.next()),
  });

  const isDueQuery = (value: unknown): value is SyncDueQuery<unknown> =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SyncDueQuery<unknown>).due === 'function' &&
    typeof (value as SyncDueQuery<unknown>).next === 'function';

  const store = <S extends object>(sync: Sync<S>, builders: readonly (keyof S & string)[] = []): S => {
    const port: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(sync)) {
      if (isDueQuery(value)) port[key] = dueQuery(value);
      else if (typeof value !== 'function') port[key] = value;
      else if ((builders as readonly string[]).includes(key)) {
        // Builds a due query (`warnings(warnBefore)`): no database work until the query is asked.
        port[key] = (...args: unknown[]) => dueQuery(value(...args) as SyncDueQuery<unknown>);
      } else port[key] = (...args: unknown[]) => run(() => value(...args));
    }
    return port as S;
  };

  // At once: a read made outside a transaction waits at the gate until it commits, so work woken now
  // can never read the database as it was before the transaction.
  const afterCommit = (then: () => void): void => then();

  return { tx, afterCommit, run, store, dueQuery };
}
