import { and, eq, gt, isNull } from 'drizzle-orm';
import type { AddressLink, AddressLinkStore } from '../../app/ports';
import { withDbErrors } from './db-error';
import type { Db } from './open-db';
import { addressLinks } from './schema';
import type { Sync } from './sync-gate';

type Row = typeof addressLinks.$inferSelect;

export const toAddressLink = (row: Row): AddressLink => ({
  tokenHash: row.tokenHash,
  userId: row.userId,
  resourceId: row.resourceId,
  durationMs: row.durationMs ?? undefined,
  reason: row.reason,
  breakGlass: row.breakGlass,
  createdAt: new Date(row.createdAt),
  expiresAt: new Date(row.expiresAt),
});

export const addressLinkValues = (link: AddressLink) => ({
  tokenHash: link.tokenHash,
  userId: link.userId,
  resourceId: link.resourceId,
  durationMs: link.durationMs ?? null,
  reason: link.reason,
  breakGlass: link.breakGlass,
  createdAt: link.createdAt.getTime(),
  expiresAt: link.expiresAt.getTime(),
});

/** `AddressLinkStore` on SQLite: a used link is one `UPDATE … WHERE used_at IS NULL AND expires_at > now`. */
export function createSqliteAddressLinkStore(db: Db): Sync<AddressLinkStore> {
  return {
    insert: (link) =>
      withDbErrors('addressLinks.insert', () => {
        db.insert(addressLinks).values(addressLinkValues(link)).run();
      }),
    consume: (tokenHash, address, now) =>
      withDbErrors('addressLinks.consume', () => {
        const at = now.getTime();
        const [used] = db
          .update(addressLinks)
          .set({ usedAt: at, address })
          .where(
            and(
              eq(addressLinks.tokenHash, tokenHash),
              isNull(addressLinks.usedAt),
              gt(addressLinks.expiresAt, at),
            ),
          )
          .returning()
          .all();
        if (used !== undefined) return { ok: true as const, link: toAddressLink(used) };
        const row = db.select().from(addressLinks).where(eq(addressLinks.tokenHash, tokenHash)).get();
        return {
          ok: false as const,
          why: row === undefined ? 'unknown' : row.usedAt !== null ? 'used' : 'expired',
        };
      }),
  };
}
