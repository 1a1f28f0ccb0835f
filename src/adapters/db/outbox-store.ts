import { and, asc, count, eq, gt, inArray, isNull, lte, min, sql } from 'drizzle-orm';
import type { OutboxStore } from '../../app/ports';
import { withDbErrors } from './db-error';
import type { Db } from './open-db';
import { outboxValues, toOutboxItem as toItem } from './rows';
import { outbox } from './schema';
import type { Sync } from './sync-gate';

/**
 * The ids of the deliveries waiting behind the given lane heads: the 2nd to `perLane`-th waiting one of
 * each of their lanes (a window over the lane index).
 */
function behindHeads(db: Pick<Db, 'select'>, first: readonly { readonly lane: string }[], perLane: number) {
  const ranked = db
    .select({
      id: outbox.id,
      rank: sql<number>`row_number() over (partition by ${outbox.lane} order by ${outbox.id})`.as('rank'),
    })
    .from(outbox)
    .where(and(isNull(outbox.doneAt), inArray(outbox.lane, [...new Set(first.map((i) => i.lane))])))
    .as('ranked');
  return db
    .select({ id: ranked.id })
    .from(ranked)
    .where(and(gt(ranked.rank, 1), lte(ranked.rank, perLane)));
}

/** `OutboxStore` on SQLite. */
export function createSqliteOutboxStore(db: Db): Sync<OutboxStore> {
  const waiting = isNull(outbox.doneAt);
  /** The first waiting delivery of each lane: only these may go (the rest wait behind them, in order). */
  const heads = db
    .select({ id: min(outbox.id) })
    .from(outbox)
    .where(waiting)
    .groupBy(outbox.lane);

  return {
    enqueue: (item, now) =>
      withDbErrors('outbox.enqueue', () => {
        if (item.kind === 'card-update' && item.requestId !== undefined) {
          // The card is rendered fresh when it is sent, so one waiting update says all there is to say.
          const queued = db
            .select({ id: outbox.id })
            .from(outbox)
            .where(and(waiting, eq(outbox.kind, 'card-update'), eq(outbox.requestId, item.requestId)))
            .get();
          if (queued !== undefined) return;
        }
        db.insert(outbox).values(outboxValues(item, now)).run();
      }),

    ready: (now, limit, perLane = 1) =>
      withDbErrors('outbox.ready', () => {
        const first = db
          .select()
          .from(outbox)
          .where(and(inArray(outbox.id, heads), lte(outbox.nextAt, now.getTime())))
          .orderBy(asc(outbox.id))
          .limit(limit)
          .all();
        if (perLane <= 1 || first.length === 0) return first.map(toItem);
        const behind = db
          .select()
          .from(outbox)
          .where(inArray(outbox.id, behindHeads(db, first, perLane)))
          .all();
        return [...first, ...behind].sort((a, b) => a.id - b.id).map(toItem);
      }),

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
        const row = db
          .select({ at: min(outbox.nextAt) })
          .from(outbox)
          .where(inArray(outbox.id, heads))
          .get();
        return row?.at === null || row?.at === undefined ? undefined : new Date(row.at);
      }),

    waiting: () =>
      withDbErrors(
        'outbox.waiting',
        () => db.select({ n: count() }).from(outbox).where(waiting).get()?.n ?? 0,
      ),
  };
}
