import { and, asc, count, eq, inArray, isNull, lt, sql } from 'drizzle-orm';
import type { OutboxStore } from '../../app/ports';
import { withDbErrors } from './db-error';
import type { Db } from './open-db';
import { createSqlitePrepared, type SqlitePrepared } from './prepared';
import { outboxValues, toOutboxItem as toItem } from './rows';
import { outbox } from './schema';
import type { Sync } from './sync-gate';

/** `OutboxStore` on SQLite. */
export function createSqliteOutboxStore(
  db: Db,
  prepared: SqlitePrepared = createSqlitePrepared(db),
): Sync<OutboxStore> {
  const waiting = isNull(outbox.doneAt);
  // Only the first waiting delivery of each lane may go (see `createSqlitePrepared`'s lane heads).

  return {
    enqueue: (item, now) =>
      withDbErrors('outbox.enqueue', () => {
        if (item.kind === 'card-update' && item.requestId !== undefined) {
          // The card is rendered fresh when it is sent, so one waiting update says all there is to say.
          const queued = prepared.waitingCardUpdate.get({ id: item.requestId });
          if (queued !== undefined) return;
        }
        db.insert(outbox).values(outboxValues(item, now)).run();
      }),

    ready: (now, limit) =>
      withDbErrors('outbox.ready', () =>
        prepared.readyDeliveries.all({ now: now.getTime(), limit }).map(toItem),
      ),

    done: (id, at) =>
      withDbErrors('outbox.done', () => {
        db.update(outbox)
          .set({ doneAt: at.getTime(), attempts: sql`${outbox.attempts} + 1` })
          .where(eq(outbox.id, id))
          .run();
      }),

    retryLater: (id, attempts, nextAt, error) =>
      withDbErrors('outbox.retryLater', () => {
        db.update(outbox)
          .set({ attempts, nextAt: nextAt.getTime(), lastError: error.slice(0, 500) })
          .where(eq(outbox.id, id))
          .run();
      }),

    abandon: (id, at, error) =>
      withDbErrors('outbox.abandon', () => {
        db.update(outbox)
          .set({
            doneAt: at.getTime(),
            abandoned: true,
            attempts: sql`${outbox.attempts} + 1`,
            lastError: error.slice(0, 500),
          })
          .where(eq(outbox.id, id))
          .run();
      }),

    nextAttempt: () =>
      withDbErrors('outbox.nextAttempt', () => {
        const row = prepared.nextDelivery.get();
        return row?.at === null || row?.at === undefined ? undefined : new Date(row.at);
      }),

    waiting: () =>
      withDbErrors(
        'outbox.waiting',
        () => db.select({ n: count() }).from(outbox).where(waiting).get()?.n ?? 0,
      ),

    prune: (before, limit) =>
      withDbErrors('outbox.prune', () => {
        const oldest = db
          .select({ id: outbox.id })
          .from(outbox)
          .where(and(lt(outbox.doneAt, before.getTime()), eq(outbox.abandoned, false)))
          .orderBy(asc(outbox.id))
          .limit(limit);
        return db.delete(outbox).where(inArray(outbox.id, oldest)).run().changes;
      }),
  };
}
