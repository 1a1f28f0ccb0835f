import { and, asc, eq, isNotNull, isNull, lte, sql } from 'drizzle-orm';
import type { ApiRequestLink, ApiRequestStore, ApiToken, TokenStore } from '../../app/ports';
import { withDbErrors } from './db-error';
import { sqliteDueQuery } from './due-query';
import type { Db } from './open-db';
import { apiRequests, apiTokens } from './schema';
import type { Sync } from './sync-gate';

type TokenRow = typeof apiTokens.$inferSelect;
type LinkRow = typeof apiRequests.$inferSelect;

const date = (ms: number | null): Date | undefined => (ms === null ? undefined : new Date(ms));

/** A row of `api_tokens` as the domain reads it (shared with the PostgreSQL store). */
export function toToken(row: TokenRow): ApiToken {
  return {
    id: row.id,
    name: row.name,
    ownerId: row.ownerId,
    resources: JSON.parse(row.resources) as string[],
    autoApproveWithinMs: row.autoApproveWithinMs ?? undefined,
    secretHash: row.secretHash,
    previousHash: row.previousHash ?? undefined,
    previousValidUntil: date(row.previousValidUntil),
    createdAt: new Date(row.createdAt),
    expiresAt: new Date(row.expiresAt),
    rotatedAt: date(row.rotatedAt),
    revokedAt: date(row.revokedAt),
    revokedBy: row.revokedBy ?? undefined,
    lastUsedAt: date(row.lastUsedAt),
  };
}

export function tokenValues(t: ApiToken): TokenRow {
  return {
    id: t.id,
    name: t.name,
    ownerId: t.ownerId,
    resources: JSON.stringify(t.resources),
    autoApproveWithinMs: t.autoApproveWithinMs ?? null,
    secretHash: t.secretHash,
    previousHash: t.previousHash ?? null,
    previousValidUntil: t.previousValidUntil?.getTime() ?? null,
    createdAt: t.createdAt.getTime(),
    expiresAt: t.expiresAt.getTime(),
    rotatedAt: t.rotatedAt?.getTime() ?? null,
    revokedAt: t.revokedAt?.getTime() ?? null,
    revokedBy: t.revokedBy ?? null,
    lastUsedAt: t.lastUsedAt?.getTime() ?? null,
  };
}

export function toLink(row: LinkRow): ApiRequestLink {
  return {
    requestId: row.requestId,
    tokenId: row.tokenId,
    tokenName: row.tokenName,
    ownerId: row.ownerId,
    agentName: row.agentName ?? undefined,
    onBehalfOf: row.onBehalfOf ?? undefined,
    leaseTtlMs: row.leaseTtlMs ?? undefined,
    leaseExpiresAt: date(row.leaseExpiresAt),
    leaseLapsedAt: date(row.leaseLapsedAt),
  };
}

export function linkValues(l: ApiRequestLink): LinkRow {
  return {
    requestId: l.requestId,
    tokenId: l.tokenId,
    tokenName: l.tokenName,
    ownerId: l.ownerId,
    agentName: l.agentName ?? null,
    onBehalfOf: l.onBehalfOf ?? null,
    leaseTtlMs: l.leaseTtlMs ?? null,
    leaseExpiresAt: l.leaseExpiresAt?.getTime() ?? null,
    leaseLapsedAt: l.leaseLapsedAt?.getTime() ?? null,
  };
}

/** `TokenStore` on SQLite. */
export function createSqliteTokenStore(db: Db): Sync<TokenStore> {
  return {
    insert: (token) =>
      withDbErrors('tokens.insert', () => {
        const taken = db
          .select({ id: apiTokens.id })
          .from(apiTokens)
          .where(and(eq(apiTokens.name, token.name), isNull(apiTokens.revokedAt)))
          .get();
        if (taken !== undefined) return false;
        db.insert(apiTokens).values(tokenValues(token)).run();
        return true;
      }),
    get: (id) =>
      withDbErrors('tokens.get', () => {
        const row = db.select().from(apiTokens).where(eq(apiTokens.id, id)).get();
        return row === undefined ? undefined : toToken(row);
      }),
    byName: (name) =>
      withDbErrors('tokens.byName', () => {
        const row = db
          .select()
          .from(apiTokens)
          .where(and(eq(apiTokens.name, name), isNull(apiTokens.revokedAt)))
          .get();
        return row === undefined ? undefined : toToken(row);
      }),
    live: () =>
      withDbErrors('tokens.live', () =>
        db
          .select()
          .from(apiTokens)
          .where(isNull(apiTokens.revokedAt))
          .orderBy(asc(apiTokens.name))
          .all()
          .map(toToken),
      ),
    rotate: (id, c) =>
      withDbErrors('tokens.rotate', () => {
        db.update(apiTokens)
          .set({
            secretHash: c.secretHash,
            previousHash: c.previousHash,
            previousValidUntil: c.previousValidUntil.getTime(),
            rotatedAt: c.at.getTime(),
          })
          .where(eq(apiTokens.id, id))
          .run();
      }),
    revoke: (id, by, at) =>
      withDbErrors(
        'tokens.revoke',
        () =>
          db
            .update(apiTokens)
            .set({ revokedAt: at.getTime(), revokedBy: by })
            .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
            .run().changes === 1,
      ),
    touch: (id, at) =>
      withDbErrors('tokens.touch', () => {
        db.update(apiTokens).set({ lastUsedAt: at.getTime() }).where(eq(apiTokens.id, id)).run();
      }),
  };
}

/** `ApiRequestStore` on SQLite. */
export function createSqliteApiRequestStore(db: Db): Sync<ApiRequestStore> {
  const held = isNotNull(apiRequests.leaseExpiresAt);
  return {
    insert: (link) =>
      withDbErrors('apiRequests.insert', () => {
        db.insert(apiRequests).values(linkValues(link)).run();
      }),
    get: (requestId) =>
      withDbErrors('apiRequests.get', () => {
        const row = db.select().from(apiRequests).where(eq(apiRequests.requestId, requestId)).get();
        return row === undefined ? undefined : toLink(row);
      }),
    renew: (requestId, expiresAt) =>
      withDbErrors(
        'apiRequests.renew',
        () =>
          db
            .update(apiRequests)
            .set({ leaseExpiresAt: expiresAt.getTime() })
            .where(and(eq(apiRequests.requestId, requestId), held))
            .run().changes === 1,
      ),
    release: (requestId) =>
      withDbErrors('apiRequests.release', () => {
        db.update(apiRequests)
          .set({ leaseExpiresAt: null })
          .where(eq(apiRequests.requestId, requestId))
          .run();
      }),
    markLapsed: (requestId, now) =>
      withDbErrors(
        'apiRequests.markLapsed',
        () =>
          db
            .update(apiRequests)
            .set({ leaseExpiresAt: null, leaseLapsedAt: now.getTime() })
            .where(
              and(eq(apiRequests.requestId, requestId), held, lte(apiRequests.leaseExpiresAt, now.getTime())),
            )
            .run().changes === 1,
      ),
    lapses: sqliteDueQuery({
      name: 'apiRequests.lapses',
      db,
      table: apiRequests,
      waiting: held,
      at: sql<number | null>`${apiRequests.leaseExpiresAt}`,
      tiebreak: apiRequests.requestId,
      toItem: toLink,
    }),
  };
}
