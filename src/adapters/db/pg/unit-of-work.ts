import { AsyncLocalStorage } from 'node:async_hooks';
import { NodePgSession, NodePgTransaction } from 'drizzle-orm/node-postgres';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { PoolClient } from 'pg';
import type { UnitOfWork } from '../../../app/ports';
import { DbError } from '../db-error';
import type { PgHandle } from '../open-pg';
import type { PgExecutor, PgTx } from './audit-log';
import { isConnectionFailure, isTransient, toPgDbError } from './errors';

/**
 * Where one statement runs: the pool (`PgHandle.db`), or the current transaction — a drizzle
 * transaction on its connection, so drizzle's own `transaction()` inside it (the audit log's append)
 * is a savepoint of it.
 */
export type PgExec = PgExecutor;

/**
 * How a transaction (or a read outside one) is retried after a transient failure (see
 * `isTransientPgCode`): up to `attempts` tries in all, each after a random wait of up to
 * `baseDelayMs · 2^(try − 1)`, never more than `maxDelayMs` ("full jitter", so replicas that collided
 * do not collide again in step).
 */
export type PgRetryPolicy = {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
};

export const DEFAULT_PG_RETRY: PgRetryPolicy = { attempts: 5, baseDelayMs: 10, maxDelayMs: 250 };

/**
 * What every PostgreSQL store (the audit log included) runs its statements through, so that one
 * `uow.tx` spans them all: inside a transaction a statement runs on that transaction's connection,
 * outside one on the pool — never on a transaction that is not its own.
 */
export interface PgContext {
  /** The drizzle database a statement made now runs on (the current transaction's, or the pool's). */
  db(): PgExec;
  /**
   * A read. Inside a transaction it runs there (the transaction's retry covers it); outside, on the
   * pool, tried again on a transient failure (a read changes nothing, so trying again is safe).
   * Failures are `DbError`s named `operation`.
   */
  read<T>(operation: string, fn: (db: PgExec) => Promise<T>): Promise<T>;
  /**
   * A write. Inside a transaction it joins it; outside, it gets a transaction of its own, retried
   * as a whole, so a connection lost before COMMIT is tried again safely and one lost during COMMIT
   * is reported, never repeated. `savepoint`: for a statement that can be refused (a duplicate key),
   * which on PostgreSQL would abort the whole enclosing transaction — under a savepoint a refusal
   * leaves the transaction usable, as a refused statement leaves a SQLite one.
   */
  write<T>(operation: string, fn: (db: PgExec) => Promise<T>, options?: { savepoint?: boolean }): Promise<T>;
  /**
   * Inside a transaction: gathers `items` for `queue`, to be written by `queue.flush` as the
   * transaction's last work, just before COMMIT (or earlier, by `flushNow`), and answers true. Outside
   * one: answers false and gathers nothing, so the caller writes now. A savepoint rolled back drops
   * what was gathered under it. For a write that takes a lock every replica queues on (the audit
   * append): taken at the end, the lock is held for the write and COMMIT only, not for the rest of the
   * transaction's statements and round trips.
   */
  atCommit<T>(queue: CommitQueue<T>, items: readonly T[]): boolean;
  /** Inside a transaction: writes what `queue` has gathered now (before a read that must see it). */
  flushNow<T>(queue: CommitQueue<T>): Promise<void>;
  readonly uow: UnitOfWork;
}

/**
 * Writes gathered through a transaction and made at its end (`PgContext.atCommit`). `flush` runs
 * inside the transaction, with the context's `db()` on its connection; what it throws fails the
 * transaction (and is retried with it when transient).
 */
export type CommitQueue<T> = {
  readonly name: string;
  readonly flush: (items: readonly T[]) => Promise<void>;
};

/** What each queue has gathered in one transaction, in the order gathered. */
type Gathered = Map<CommitQueue<unknown>, unknown[]>;

/** One open transaction: its connection, and whether that connection broke under it. */
type Frame = {
  readonly client: PoolClient;
  readonly db: PgTx;
  /** Set when the connection reported an error or ended: nothing sent since has taken effect. */
  lost: Error | undefined;
  /** Savepoints made so far (for unique names). */
  savepoints: number;
  /** Writes gathered for the end of the transaction (`atCommit`); replaced whole when a savepoint rolls back. */
  gathered: Gathered;
  /**
   * The body and its gathered writes are done (COMMIT is next), or the transaction committed or rolled
   * back. Work started inside the body can outlive it (a timer armed there inherits
   * the async context): its store calls then run outside, as any call after the commit would.
   */
  finished: boolean;
  /** What runs once COMMIT succeeds (`UnitOfWork.afterCommit`); cut back when a savepoint rolls back. */
  afterCommit: (() => void)[];
};

type Attempt<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: unknown; readonly retry: boolean };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/**
 * The transaction machinery of the PostgreSQL stores. The current transaction lives in an
 * `AsyncLocalStorage`, so every store call awaited inside `uow.tx(fn)` — however deep — finds it, and
 * any call from elsewhere does not. Transactions are READ COMMITTED (PostgreSQL's default); the
 * stores make every compare-and-set a single conditional statement or lock the row they check.
 *
 * Retries: the whole of `fn` is run again (a bounded number of times) after a serialization failure
 * or a deadlock, and after a connection failure before COMMIT was sent — nothing of the attempt was
 * kept. A connection that fails while COMMIT is on its way leaves the outcome unknown: that is a
 * `DbError` coded `COMMIT_OUTCOME_UNKNOWN`, never retried. `fn` may therefore run more than once: keep
 * everything but store calls out of it (no Slack, no AWS — which the port already asks).
 *
 * A `tx` inside another joins it under a savepoint: the inner work is undone if the inner `fn` throws,
 * and the outer transaction goes on if the caller catches (as SQLite's nested transactions do). Store
 * calls inside one transaction share its connection and so run one after another.
 */
export function createPgContext(
  handle: Pick<PgHandle, 'db' | 'pool'>,
  options: { readonly retry?: Partial<PgRetryPolicy>; readonly sleep?: (ms: number) => Promise<void> } = {},
): PgContext {
  const policy: PgRetryPolicy = { ...DEFAULT_PG_RETRY, ...options.retry };
  const wait = options.sleep ?? sleep;
  const { pool, db: onPool } = handle;
  const current = new AsyncLocalStorage<Frame>();

  // What drizzle's own `db.transaction()` would build, but on a connection whose BEGIN, COMMIT and
  // failures this context handles itself (see `attemptTx`).
  const dialect = new PgDialect();
  const { fullSchema, schema, tableNamesMap } = onPool._;
  const relational = schema === undefined ? undefined : { fullSchema, schema, tableNamesMap };
  const transactionOn = (client: PoolClient): PgTx =>
    new NodePgTransaction(dialect, new NodePgSession(client, dialect, relational), relational);

  /** The transaction open in this async context, if any (never one that has ended: its connection is gone). */
  const frameOf = (): Frame | undefined => {
    const frame = current.getStore();
    return frame?.finished === false ? frame : undefined;
  };

  async function retrying<T>(attempt: () => Promise<Attempt<T>>): Promise<T> {
    for (let n = 1; ; n++) {
      const outcome = await attempt();
      if (outcome.ok) return outcome.value;
      if (!outcome.retry || n >= policy.attempts) throw outcome.error;
      await wait(Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1)));
    }
  }

  /** One try at a transaction of its own running `fn`; what `fn` throws passes through untouched. */
  async function attemptTx<T>(operation: string, fn: () => Promise<T>): Promise<Attempt<T>> {
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      return { ok: false, error: toPgDbError(operation, e), retry: isTransient(e) };
    }
    const frame: Frame = {
      client,
      db: transactionOn(client),
      lost: undefined,
      savepoints: 0,
      gathered: new Map(),
      finished: false,
      afterCommit: [],
    };
    // A checked-out client has no pool listener: without ours, a server-side kill while the body is
    // between statements would be an unhandled 'error' event (and end the process).
    const onError = (e: Error) => {
      frame.lost ??= e;
    };
    const onEnd = () => {
      frame.lost ??= new Error('Connection terminated unexpectedly');
    };
    client.on('error', onError);
    client.on('end', onEnd);
    const release = (broken: unknown) => {
      frame.finished = true;
      client.off('error', onError);
      client.off('end', onEnd);
      // With an error the pool destroys the connection instead of handing it out again.
      client.release(broken === undefined ? undefined : asError(broken));
    };

    let phase: 'begin' | 'body' | 'commit' = 'begin';
    try {
      await client.query('BEGIN');
      phase = 'body';
      const value = await current.run(frame, async () => {
        const result = await fn();
        await flushAll(frame);
        // Work the body started and left running joins no transaction from here on: what it gathered
        // or wrote now would miss COMMIT or land after it, so it runs on its own, as after the commit.
        frame.finished = true;
        return result;
      });
      if (frame.lost !== undefined) {
        // Broken before COMMIT could be sent: nothing was kept, and the body may run again.
        throw toPgDbError(operation, frame.lost);
      }
      phase = 'commit';
      const committed = await client.query('COMMIT');
      if (committed.command === 'ROLLBACK') {
        // A statement failed and `fn` carried on regardless: PostgreSQL then answers COMMIT by rolling back.
        release(undefined);
        const error = new DbError(
          operation,
          'TX_ABORTED',
          'a statement failed inside the transaction: rolled back',
        );
        return { ok: false, error, retry: false };
      }
      release(undefined);
      for (const then of frame.afterCommit) {
        try {
          then();
        } catch {
          // A wake-up that throws must not make a committed transaction look failed (and be run again).
        }
      }
      return { ok: true, value };
    } catch (e) {
      const broken = frame.lost !== undefined || isConnectionFailure(e);
      if (phase === 'commit' && broken) {
        release(e);
        const why = asError(frame.lost ?? e).message;
        const error = new DbError(
          operation,
          'COMMIT_OUTCOME_UNKNOWN',
          `the connection failed while committing, so the transaction may or may not have committed (${why})`,
          { cause: e },
        );
        return { ok: false, error, retry: false };
      }
      const rolledBack =
        !broken &&
        (await client.query('ROLLBACK').then(
          () => true,
          () => false,
        ));
      release(rolledBack ? undefined : e);
      if (phase === 'body') {
        // The body's own error, as it threw it; tried again when transient or when the connection broke
        // under it (whatever the body made of that failure).
        return { ok: false, error: e, retry: isTransient(e) || broken };
      }
      return { ok: false, error: toPgDbError(operation, e), retry: isTransient(e) };
    }
  }

  /** Writes what `queue` gathered in `frame`, emptying it; on failure the items stay gathered. */
  async function flushQueue(frame: Frame, queue: CommitQueue<unknown>): Promise<void> {
    const items = frame.gathered.get(queue);
    frame.gathered.delete(queue);
    if (items === undefined || items.length === 0) return;
    try {
      await queue.flush(items);
    } catch (e) {
      frame.gathered.set(queue, [...items, ...(frame.gathered.get(queue) ?? [])]);
      throw e;
    }
  }

  /** Every queue's gathered writes, in the order the queues were first used (work gathered while flushing included). */
  async function flushAll(frame: Frame): Promise<void> {
    for (let queue = frame.gathered.keys().next(); !queue.done; queue = frame.gathered.keys().next()) {
      await flushQueue(frame, queue.value);
    }
  }

  /** `fn` under a savepoint of the current transaction: undone alone if it throws. */
  async function savepoint<T>(frame: Frame, operation: string, fn: () => Promise<T>): Promise<T> {
    // What was gathered before: on a rollback, writes gathered under the savepoint are dropped, and
    // those flushed under it (undone by the rollback) are gathered again.
    const before: Gathered = new Map([...frame.gathered].map(([q, items]) => [q, [...items]]));
    const thenBefore = frame.afterCommit.length;
    const name = `hallpass_sp_${++frame.savepoints}`;
    await frame.client.query(`SAVEPOINT ${name}`).catch((e: unknown) => {
      throw toPgDbError(operation, e);
    });
    let value: T;
    try {
      value = await fn();
    } catch (e) {
      frame.gathered = before;
      frame.afterCommit.length = thenBefore;
      if (frame.lost === undefined) {
        // A failure here leaves the transaction aborted, which its COMMIT then reports (TX_ABORTED).
        await frame.client.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
      }
      throw e;
    }
    await frame.client.query(`RELEASE SAVEPOINT ${name}`).catch((e: unknown) => {
      throw toPgDbError(operation, e);
    });
    return value;
  }

  const transaction = <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    const frame = frameOf();
    if (frame !== undefined) return savepoint(frame, operation, fn);
    return retrying(() => attemptTx(operation, fn));
  };

  /** Runs `fn` on `db`, naming what it throws after `operation`. */
  const named = async <T>(operation: string, db: PgExec, fn: (db: PgExec) => Promise<T>): Promise<T> => {
    try {
      return await fn(db);
    } catch (e) {
      throw toPgDbError(operation, e);
    }
  };

  return {
    db: () => frameOf()?.db ?? onPool,

    read: (operation, fn) => {
      const frame = frameOf();
      if (frame !== undefined) return named(operation, frame.db, fn);
      return retrying(async () => {
        try {
          return { ok: true, value: await fn(onPool) };
        } catch (e) {
          return { ok: false, error: toPgDbError(operation, e), retry: isTransient(e) };
        }
      });
    },

    write: (operation, fn, options = {}) => {
      const frame = frameOf();
      if (frame === undefined) {
        return transaction(operation, () => named(operation, frameOf()?.db ?? onPool, fn));
      }
      if (options.savepoint === true)
        return savepoint(frame, operation, () => named(operation, frame.db, fn));
      return named(operation, frame.db, fn);
    },

    atCommit: (queue, items) => {
      const frame = frameOf();
      if (frame === undefined) return false;
      const key = queue as CommitQueue<unknown>;
      const list = frame.gathered.get(key);
      if (list === undefined) frame.gathered.set(key, [...items]);
      else list.push(...items);
      return true;
    },

    flushNow: async (queue) => {
      const frame = frameOf();
      if (frame !== undefined) await flushQueue(frame, queue as CommitQueue<unknown>);
    },

    uow: {
      tx: (fn) => transaction('uow.tx', fn),
      afterCommit: (then) => {
        const frame = frameOf();
        if (frame === undefined) then();
        else frame.afterCommit.push(then);
      },
    },
  };
}
