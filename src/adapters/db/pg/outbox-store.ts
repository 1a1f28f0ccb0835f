import { and, asc, count, eq, inArray, isNull, lt, lte, min, sql } from 'drizzle-orm';
import type { OutboxStore } from '../../../app/ports';
import { outbox } from '../pg-schema';
import { outboxValues, toOutboxItem } from '../rows';
import { ADVISORY, lockUntilCommit } from './advisory';
import type { PgContext, PgExec } from './unit-of-work';

/**
 * `OutboxStore` on PostgreSQL, behaving as the SQLite one (`../outbox-store.ts`) does: deliveries of a
 * lane go out in `id` order, each only once the ones before it are done.
 *
 * What SQLite's single writer gives for free, taken here by lock: an identity is drawn when a row is
 * inserted, not when it commits, so two transactions enqueueing on one lane could commit in the other
 * order and a reader could send the later one first. Each enqueue therefore holds its lane's advisory
 * lock until its transaction ends: within a lane, ids follow commit order.
 */
export function createPgOutboxStore(ctx: PgContext): OutboxStore {
  const waiting = isNull(outbox.doneAt);
  /** The first waiting delivery of each lane: only these may go (the rest wait behind them, in order). */
  const heads = (db: PgExec) =>
    db
      .select({ id: min(outbox.id) })
      .from(outbox)
      .where(waiting)
      .groupBy(outbox.lane);

  return {
    enqueue: (item, now) =>
      ctx.write('outbox.enqueue', async (db) => {
        await lockUntilCommit(db, ADVISORY.outboxLane, item.lane);
        if (item.kind === 'card-update' && item.requestId !== undefined) {
          // The card is rendered fresh when it is sent, so one waiting update says all there is to say.
          await lockUntilCommit(db, ADVISORY.cardUpdate, item.requestId);
          const [queued] = await db
            .select({ id: outbox.id })
            .from(outbox)
            .where(and(waiting, eq(outbox.kind, 'card-update'), eq(outbox.requestId, item.requestId)))
            .limit(1);
          if (queued !== undefined) return;
        }
        await db.insert(outbox).values(outboxValues(item, now));
      }),

    ready: (now, limit) =>
      ctx.read('outbox.ready', async (db) =>
        (
          await db
            .select()
            .from(outbox)
            .where(and(inArray(outbox.id, heads(db)), lte(outbox.nextAt, now.getTime())))
            .orderBy(asc(outbox.id))
            .limit(limit)
        ).map(toOutboxItem),
      ),

    done: (id, at) =>
      ctx.write('outbox.done', async (db) => {
        await db
          .update(outbox)
          .set({ doneAt: at.getTime(), attempts: sql`${outbox.attempts} + 1` })
          .where(eq(outbox.id, id));
      }),

    retryLater: (id, attempts, nextAt, error) =>
      ctx.write('outbox.retryLater', async (db) => {
        await db
          .update(outbox)
          .set({ attempts, nextAt: nextAt.getTime(), lastError: error.slice(0, 500) })
          .where(eq(outbox.id, id));
      }),

    abandon: (id, at, error) =>
      ctx.write('outbox.abandon', async (db) => {
        await db
          .update(outbox)
          .set({
            doneAt: at.getTime(),
            abandoned: true,
            attempts: sql`${outbox.attempts} + 1`,
            lastError: error.slice(0, 500),
          })
          .where(eq(outbox.id, id));
      }),

    nextAttempt: () =>
      ctx.read('outbox.nextAttempt', async (db) => {
        const [row] = await db
          .select({ at: min(outbox.nextAt) })
          .from(outbox)
          .where(inArray(outbox.id, heads(db)));
        return row?.at === null || row?.at === undefined ? undefined : new Date(row.at);
      }),

    waiting: () =>
      ctx.read('outbox.waiting', async (db) => {
        const [row] = await db.select({ n: count() }).from(outbox).where(waiting);
        return row?.n ?? 0;
      }),

    prune: (before, limit) =>
      ctx.write('outbox.prune', async (db) => {
        const oldest = db
          .select({ id: outbox.id })
          .from(outbox)
          .where(and(lt(outbox.doneAt, before.getTime()), eq(outbox.abandoned, false)))
          .orderBy(asc(outbox.id))
          .limit(limit);
        const gone = await db.delete(outbox).where(inArray(outbox.id, oldest)).returning({ id: outbox.id });
        return gone.length;
      }),
  };
}
