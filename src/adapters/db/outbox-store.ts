import { and, asc, eq, isNull, lte, min } from 'drizzle-orm';
import type { OutboxItem, OutboxStore } from '../../app/ports';
import { withDbErrors } from './db-error';
import type { Db } from './open-db';
import { outbox } from './schema';

/** `OutboxStore` on SQLite. */
export function createSqliteOutboxStore(db: Db): OutboxStore {
  const waiting = isNull(outbox.doneAt);
  return {
    enqueue: (item, now, nextAt, error) =>
      withDbErrors('outbox.enqueue', () => {
        db.insert(outbox)
          .values({
            requestId: item.requestId,
            kind: item.kind,
            userId: item.userId ?? null,
            notice: item.notice ?? null,
            attempts: 1,
            createdAt: now.getTime(),
            nextAt: nextAt.getTime(),
            lastError: error.slice(0, 500),
          })
          .run();
      }),
    due: (now, limit) =>
      withDbErrors('outbox.due', () =>
        db
          .select()
          .from(outbox)
          .where(and(waiting, lte(outbox.nextAt, now.getTime())))
          .orderBy(asc(outbox.nextAt), asc(outbox.id))
          .limit(limit)
          .all()
          .map(
            (r): OutboxItem => ({
              id: r.id,
              requestId: r.requestId,
              kind: r.kind,
              ...(r.userId === null ? {} : { userId: r.userId }),
              ...(r.notice === null ? {} : { notice: r.notice }),
              attempts: r.attempts,
            }),
          ),
      ),
    done: (id, at) =>
      withDbErrors('outbox.done', () => {
        db.update(outbox).set({ doneAt: at.getTime() }).where(eq(outbox.id, id)).run();
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
          .set({ doneAt: at.getTime(), abandoned: true, lastError: error.slice(0, 500) })
          .where(eq(outbox.id, id))
          .run();
      }),
    nextAttempt: () =>
      withDbErrors('outbox.nextAttempt', () => {
        const row = db
          .select({ at: min(outbox.nextAt) })
          .from(outbox)
          .where(waiting)
          .get();
        return row?.at === null || row?.at === undefined ? undefined : new Date(row.at);
      }),
  };
}
