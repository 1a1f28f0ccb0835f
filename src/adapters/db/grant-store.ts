import { and, asc, eq, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import type { GrantStore, NewGrant } from '../../app/ports';
import type { Grant } from '../../domain/grant';
import { err, ok } from '../../domain/result';
import { idChunks, inIdOrder, sqliteIdIn } from './chunks';
import { notFound, withDbErrors } from './db-error';
import { sqliteDueQuery } from './due-query';
import { grantCloseAt, grantCloseParts, longEnoughToWarn } from './due-times';
import type { Db } from './open-db';
import { createSqlitePrepared, type SqlitePrepared } from './prepared';
import { grantMove, grantValues, toGrant } from './rows';
import { grants } from './schema';
import { NOTHING_DUE_NOW, type Sync, type SyncDueQuery } from './sync-gate';

/** When a grant is due to be closed (see `grantCloseAt`). */
const dueAt = grantCloseAt(grants);

const longEnough = (warnBeforeMs: number) => longEnoughToWarn(grants, warnBeforeMs);

/** `GrantStore` on SQLite. */
export function createSqliteGrantStore(
  db: Db,
  prepared: SqlitePrepared = createSqlitePrepared(db),
): Sync<GrantStore> {
  const warningsBy = new Map<number, SyncDueQuery<Grant>>();
  return {
    insert: (grant: NewGrant) =>
      withDbErrors('grants.insert', () =>
        // UNIQUE (request_id) makes a second grant for one request throw here, whatever raced.
        toGrant(db.insert(grants).values(grantValues(grant)).returning().get()),
      ),

    get: (id) =>
      withDbErrors('grants.get', () => {
        const row = prepared.grantById.get({ id });
        return row === undefined ? undefined : toGrant(row);
      }),

    getAll: (ids) =>
      withDbErrors('grants.getAll', () =>
        idChunks(ids).flatMap((chunk) =>
          db
            .select()
            .from(grants)
            .where(sqliteIdIn(grants.id, chunk))
            .orderBy(asc(grants.id))
            .all()
            .map(toGrant),
        ),
      ),

    byRequest: (requestId) =>
      withDbErrors('grants.byRequest', () => {
        const row = prepared.grantByRequest.get({ id: requestId });
        return row === undefined ? undefined : toGrant(row);
      }),

    move: (id, from, to, patch = {}) =>
      withDbErrors('grants.move', () => {
        // Compare-and-set on the expected states: of two closers (expiry and a revoke click), one wins.
        const row =
          from.length === 0
            ? undefined
            : db
                .update(grants)
                .set(grantMove(to, patch))
                .where(and(eq(grants.id, id), inArray(grants.state, [...from])))
                .returning()
                .get();
        if (row !== undefined) return ok(toGrant(row));
        const current = prepared.grantStateById.get({ id });
        if (current === undefined) throw notFound('grants.move', 'grant', id);
        return err('STATE_CHANGED', { state: current.state });
      }),

    moveAll: (ids, from, to, patch = {}) =>
      withDbErrors('grants.moveAll', () =>
        from.length === 0
          ? []
          : // One transaction for all the chunks (a savepoint when the caller already has one).
            db.transaction(
              () =>
                inIdOrder(
                  idChunks(ids).flatMap((chunk) =>
                    db
                      .update(grants)
                      .set(grantMove(to, patch))
                      .where(and(sqliteIdIn(grants.id, chunk), inArray(grants.state, [...from])))
                      .returning()
                      .all()
                      .map(toGrant),
                  ),
                ),
              { behavior: 'immediate' },
            ),
      ),

    list: (states, requesterId) =>
      withDbErrors('grants.list', () =>
        states.length === 0
          ? []
          : db
              .select()
              .from(grants)
              .where(
                and(
                  inArray(grants.state, [...states]),
                  requesterId === undefined ? undefined : eq(grants.requesterId, requesterId),
                ),
              )
              .orderBy(asc(grants.expiresAt), asc(grants.id))
              .all()
              .map(toGrant),
      ),

    closes: sqliteDueQuery({
      name: 'grants.closes',
      db,
      table: grants,
      parts: grantCloseParts(grants),
      at: dueAt,
      tiebreak: grants.id,
      toItem: toGrant,
    }),

    closeFailed: (id, retryAt) =>
      withDbErrors('grants.closeFailed', () => {
        const row = db
          .update(grants)
          .set({ closeAttempts: sql`${grants.closeAttempts} + 1`, retryAt: retryAt.getTime() })
          .where(and(eq(grants.id, id), eq(grants.state, 'closing')))
          .returning()
          .get();
        return row === undefined ? undefined : toGrant(row);
      }),

    extend: (id, expiresAt) =>
      withDbErrors('grants.extend', () => {
        const row = db
          .update(grants)
          .set({ expiresAt: expiresAt.getTime(), warnedAt: null })
          .where(and(eq(grants.id, id), eq(grants.state, 'active')))
          .returning()
          .get();
        return row === undefined ? err('STATE_CHANGED') : ok(toGrant(row));
      }),

    warnings: (warnBeforeMs) => {
      if (warnBeforeMs <= 0) return NOTHING_DUE_NOW;
      // One query per warning time (a setting: a handful at most), so its `next` stays prepared.
      let query = warningsBy.get(warnBeforeMs);
      if (query === undefined) {
        query = sqliteDueQuery({
          name: 'grants.warnings',
          db,
          table: grants,
          waiting: and(eq(grants.state, 'active'), isNull(grants.warnedAt), longEnough(warnBeforeMs)),
          at: sql<number>`(${grants.expiresAt} - ${warnBeforeMs})`,
          tiebreak: grants.id,
          toItem: toGrant,
        });
        warningsBy.set(warnBeforeMs, query);
      }
      return query;
    },

    markWarned: (id, at) =>
      withDbErrors('grants.markWarned', () => {
        const result = db
          .update(grants)
          .set({ warnedAt: at.getTime() })
          .where(and(eq(grants.id, id), isNull(grants.warnedAt)))
          .run();
        return result.changes > 0;
      }),

    markReviewed: (id, by, at) =>
      withDbErrors('grants.markReviewed', () => {
        const row = db
          .update(grants)
          .set({ reviewedBy: by, reviewedAt: at.getTime() })
          .where(and(eq(grants.id, id), eq(grants.breakGlass, true), isNull(grants.reviewedAt)))
          .returning()
          .get();
        return row === undefined ? err('ALREADY_REVIEWED') : ok(toGrant(row));
      }),

    unreviewedBreakGlass: () =>
      withDbErrors('grants.unreviewedBreakGlass', () =>
        db
          .select()
          .from(grants)
          .where(and(eq(grants.breakGlass, true), isNull(grants.reviewedAt), isNotNull(grants.startsAt)))
          .orderBy(asc(grants.startsAt))
          .all()
          .map(toGrant),
      ),
  };
}
