import { and, asc, eq, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import { type GrantStore, type NewGrant, NOTHING_DUE } from '../../../app/ports';
import type { Grant } from '../../../domain/grant';
import { err, ok } from '../../../domain/result';
import { idChunks, inIdOrder } from '../chunks';
import { notFound } from '../db-error';
import { grantCloseAt, grantCloseParts, longEnoughToWarn } from '../due-times';
import { grants } from '../pg-schema';
import { grantMove, grantValues, toGrant } from '../rows';
import { pgDueQuery } from './due-query';
import { returned } from './errors';
import { bytewise } from './order';
import type { PgContext } from './unit-of-work';

/**
 * `GrantStore` on PostgreSQL, behaving as the SQLite one (`../grant-store.ts`) does. Each state change
 * is one conditional UPDATE … RETURNING: under READ COMMITTED a concurrent change of the same row
 * makes it wait and re-check its condition on the committed row, so of two closers on two replicas
 * exactly one moves the grant.
 */
export function createPgGrantStore(ctx: PgContext): GrantStore {
  return {
    insert: (grant: NewGrant) =>
      ctx.write(
        'grants.insert',
        async (db) => {
          // UNIQUE (request_id) makes a second grant for one request throw here, whatever raced.
          const rows = await db.insert(grants).values(grantValues(grant)).returning();
          return toGrant(returned('grants.insert', rows));
        },
        // A refused insert leaves the caller's transaction usable, as on SQLite.
        { savepoint: true },
      ),

    get: (id) =>
      ctx.read('grants.get', async (db) => {
        const [row] = await db.select().from(grants).where(eq(grants.id, id)).limit(1);
        return row === undefined ? undefined : toGrant(row);
      }),

    getAll: (ids) =>
      ctx.read('grants.getAll', async (db) => {
        const found: Grant[] = [];
        for (const chunk of idChunks(ids)) {
          const rows = await db
            .select()
            .from(grants)
            .where(inArray(grants.id, chunk))
            .orderBy(asc(bytewise(grants.id)));
          found.push(...rows.map(toGrant));
        }
        return found;
      }),

    byRequest: (requestId) =>
      ctx.read('grants.byRequest', async (db) => {
        const [row] = await db.select().from(grants).where(eq(grants.requestId, requestId)).limit(1);
        return row === undefined ? undefined : toGrant(row);
      }),

    move: (id, from, to, patch = {}) =>
      ctx.write('grants.move', async (db) => {
        // Compare-and-set on the expected states: of two closers (expiry and a revoke click), one wins.
        const [row] =
          from.length === 0
            ? []
            : await db
                .update(grants)
                .set(grantMove(to, patch))
                .where(and(eq(grants.id, id), inArray(grants.state, [...from])))
                .returning();
        if (row !== undefined) return ok(toGrant(row));
        const [current] = await db.select({ state: grants.state }).from(grants).where(eq(grants.id, id));
        if (current === undefined) throw notFound('grants.move', 'grant', id);
        return err('STATE_CHANGED', { state: current.state });
      }),

    moveAll: (ids, from, to, patch = {}) =>
      ctx.write('grants.moveAll', async (db) => {
        // Each chunk a compare-and-set as `move`'s: a grant another closer moved meanwhile is skipped.
        const moved: Grant[] = [];
        if (from.length === 0) return moved;
        for (const chunk of idChunks(ids)) {
          const rows = await db
            .update(grants)
            .set(grantMove(to, patch))
            .where(and(inArray(grants.id, chunk), inArray(grants.state, [...from])))
            .returning();
          moved.push(...rows.map(toGrant));
        }
        return inIdOrder(moved);
      }),

    list: (states, requesterId) =>
      ctx.read('grants.list', async (db) =>
        states.length === 0
          ? []
          : (
              await db
                .select()
                .from(grants)
                .where(
                  and(
                    inArray(grants.state, [...states]),
                    requesterId === undefined ? undefined : eq(grants.requesterId, requesterId),
                  ),
                )
                .orderBy(asc(grants.expiresAt), asc(bytewise(grants.id)))
            ).map(toGrant),
      ),

    closes: pgDueQuery({
      name: 'grants.closes',
      ctx,
      table: grants,
      parts: grantCloseParts(grants),
      at: grantCloseAt(grants),
      tiebreak: bytewise(grants.id),
      toItem: toGrant,
    }),

    closeFailed: (id, retryAt) =>
      ctx.write('grants.closeFailed', async (db) => {
        const [row] = await db
          .update(grants)
          .set({ closeAttempts: sql`${grants.closeAttempts} + 1`, retryAt: retryAt.getTime() })
          .where(and(eq(grants.id, id), eq(grants.state, 'closing')))
          .returning();
        return row === undefined ? undefined : toGrant(row);
      }),

    extend: (id, expiresAt) =>
      ctx.write('grants.extend', async (db) => {
        const [row] = await db
          .update(grants)
          .set({ expiresAt: expiresAt.getTime(), warnedAt: null })
          .where(and(eq(grants.id, id), eq(grants.state, 'active')))
          .returning();
        return row === undefined ? err('STATE_CHANGED') : ok(toGrant(row));
      }),

    warnings: (warnBeforeMs) =>
      warnBeforeMs <= 0
        ? NOTHING_DUE
        : pgDueQuery({
            name: 'grants.warnings',
            ctx,
            table: grants,
            waiting: and(
              eq(grants.state, 'active'),
              isNull(grants.warnedAt),
              longEnoughToWarn(grants, warnBeforeMs),
            ),
            at: sql<number>`(${grants.expiresAt} - ${warnBeforeMs})`,
            tiebreak: bytewise(grants.id),
            toItem: toGrant,
          }),

    markWarned: (id, at) =>
      ctx.write('grants.markWarned', async (db) => {
        // Compare-and-set: of two replicas warning at once, only one finds it unwarned.
        const result = await db
          .update(grants)
          .set({ warnedAt: at.getTime() })
          .where(and(eq(grants.id, id), isNull(grants.warnedAt)));
        return (result.rowCount ?? 0) > 0;
      }),

    markReviewed: (id, by, at) =>
      ctx.write('grants.markReviewed', async (db) => {
        const [row] = await db
          .update(grants)
          .set({ reviewedBy: by, reviewedAt: at.getTime() })
          .where(and(eq(grants.id, id), eq(grants.breakGlass, true), isNull(grants.reviewedAt)))
          .returning();
        return row === undefined ? err('ALREADY_REVIEWED') : ok(toGrant(row));
      }),

    unreviewedBreakGlass: () =>
      ctx.read('grants.unreviewedBreakGlass', async (db) =>
        (
          await db
            .select()
            .from(grants)
            .where(and(eq(grants.breakGlass, true), isNull(grants.reviewedAt), isNotNull(grants.startsAt)))
            .orderBy(asc(grants.startsAt), asc(bytewise(grants.id)))
        ).map(toGrant),
      ),
  };
}
