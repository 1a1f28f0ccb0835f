import { and, asc, eq, isNotNull, isNull, lte, sql } from 'drizzle-orm';
import type { ApiRequestStore, TokenStore } from '../../../app/ports';
import { apiRequests, apiTokens } from '../pg-schema';
import { linkValues, tokenValues, toLink, toToken } from '../token-store';
import { pgDueQuery } from './due-query';
import { bytewise } from './order';
import type { PgContext } from './unit-of-work';

/** `TokenStore` on PostgreSQL (see `../token-store.ts`). */
export function createPgTokenStore(ctx: PgContext): TokenStore {
  return {
    insert: (token) =>
      ctx.write(
        'tokens.insert',
        async (db) => {
          // The partial unique index on live names decides a race between two creates of one name.
          const rows = await db
            .insert(apiTokens)
            .values(tokenValues(token))
            .onConflictDoNothing()
            .returning({ id: apiTokens.id });
          return rows.length === 1;
        },
        { savepoint: true },
      ),
    get: (id) =>
      ctx.read('tokens.get', async (db) => {
        const [row] = await db.select().from(apiTokens).where(eq(apiTokens.id, id)).limit(1);
        return row === undefined ? undefined : toToken(row);
      }),
    byName: (name) =>
      ctx.read('tokens.byName', async (db) => {
        const [row] = await db
          .select()
          .from(apiTokens)
          .where(and(eq(apiTokens.name, name), isNull(apiTokens.revokedAt)))
          .limit(1);
        return row === undefined ? undefined : toToken(row);
      }),
    live: () =>
      ctx.read('tokens.live', async (db) =>
        (
          await db
            .select()
            .from(apiTokens)
            .where(isNull(apiTokens.revokedAt))
            .orderBy(asc(bytewise(apiTokens.name)))
        ).map(toToken),
      ),
    rotate: (id, c) =>
      ctx.write('tokens.rotate', async (db) => {
        await db
          .update(apiTokens)
          .set({
            secretHash: c.secretHash,
            previousHash: c.previousHash,
            previousValidUntil: c.previousValidUntil.getTime(),
            rotatedAt: c.at.getTime(),
          })
          .where(eq(apiTokens.id, id));
      }),
    revoke: (id, by, at) =>
      ctx.write('tokens.revoke', async (db) => {
        const rows = await db
          .update(apiTokens)
          .set({ revokedAt: at.getTime(), revokedBy: by })
          .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
          .returning({ id: apiTokens.id });
        return rows.length === 1;
      }),
    touch: (id, at) =>
      ctx.write('tokens.touch', async (db) => {
        await db.update(apiTokens).set({ lastUsedAt: at.getTime() }).where(eq(apiTokens.id, id));
      }),
  };
}

/** `ApiRequestStore` on PostgreSQL. */
export function createPgApiRequestStore(ctx: PgContext): ApiRequestStore {
  const held = isNotNull(apiRequests.leaseExpiresAt);
  return {
    insert: (link) =>
      ctx.write('apiRequests.insert', async (db) => {
        await db.insert(apiRequests).values(linkValues(link));
      }),
    get: (requestId) =>
      ctx.read('apiRequests.get', async (db) => {
        const [row] = await db
          .select()
          .from(apiRequests)
          .where(eq(apiRequests.requestId, requestId))
          .limit(1);
        return row === undefined ? undefined : toLink(row);
      }),
    renew: (requestId, expiresAt) =>
      ctx.write('apiRequests.renew', async (db) => {
        const rows = await db
          .update(apiRequests)
          .set({ leaseExpiresAt: expiresAt.getTime() })
          .where(and(eq(apiRequests.requestId, requestId), held))
          .returning({ id: apiRequests.requestId });
        return rows.length === 1;
      }),
    release: (requestId) =>
      ctx.write('apiRequests.release', async (db) => {
        await db
          .update(apiRequests)
          .set({ leaseExpiresAt: null })
          .where(eq(apiRequests.requestId, requestId));
      }),
    markLapsed: (requestId, now) =>
      ctx.write('apiRequests.markLapsed', async (db) => {
        const rows = await db
          .update(apiRequests)
          .set({ leaseExpiresAt: null, leaseLapsedAt: now.getTime() })
          .where(
            and(eq(apiRequests.requestId, requestId), held, lte(apiRequests.leaseExpiresAt, now.getTime())),
          )
          .returning({ id: apiRequests.requestId });
        return rows.length === 1;
      }),
    lapses: pgDueQuery({
      name: 'apiRequests.lapses',
      ctx,
      table: apiRequests,
      waiting: held,
      at: sql<number | null>`${apiRequests.leaseExpiresAt}`,
      tiebreak: bytewise(apiRequests.requestId),
      toItem: toLink,
    }),
  };
}
