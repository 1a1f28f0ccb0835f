import { and, eq, gt, isNull } from 'drizzle-orm';
import type { AddressLinkStore, LinkRefusal } from '../../../app/ports';
import { addressLinkValues, toAddressLink } from '../address-link-store';
import { addressLinks } from '../pg-schema';
import type { PgContext } from './unit-of-work';

/** `AddressLinkStore` on PostgreSQL (see `../address-link-store.ts`): one conditional `UPDATE` uses a link. */
export function createPgAddressLinkStore(ctx: PgContext): AddressLinkStore {
  return {
    insert: (link) =>
      ctx.write('addressLinks.insert', async (db) => {
        await db.insert(addressLinks).values(addressLinkValues(link));
      }),
    consume: (tokenHash, address, now) =>
      ctx.write('addressLinks.consume', async (db) => {
        const at = now.getTime();
        const [used] = await db
          .update(addressLinks)
          .set({ usedAt: at, address })
          .where(
            and(
              eq(addressLinks.tokenHash, tokenHash),
              isNull(addressLinks.usedAt),
              gt(addressLinks.expiresAt, at),
            ),
          )
          .returning();
        if (used !== undefined) return { ok: true as const, link: toAddressLink(used) };
        const [row] = await db
          .select()
          .from(addressLinks)
          .where(eq(addressLinks.tokenHash, tokenHash))
          .limit(1);
        const why: LinkRefusal = row === undefined ? 'unknown' : row.usedAt !== null ? 'used' : 'expired';
        return { ok: false as const, why };
      }),
  };
}
