import { and, asc, eq, gt, isNotNull, isNull, sql } from 'drizzle-orm';
import type { RoleSessionStore } from '../../../app/ports';
import { roleSessions } from '../pg-schema';
import { roleSessionValues, toSession } from '../rows';
import { pgDueQuery } from './due-query';
import { bytewise } from './order';
import type { PgContext } from './unit-of-work';

/** `RoleSessionStore` on PostgreSQL (see `../role-session-store.ts`). Never credentials: identity and timing only. */
export function createPgRoleSessionStore(ctx: PgContext): RoleSessionStore {
  const attached = and(isNotNull(roleSessions.deniedAt), isNull(roleSessions.denyRemovedAt));
  return {
    record: (grantId, roleArn, session) =>
      ctx.write(
        'roleSessions.record',
        async (db) => {
          // The first session of a grant stands (ON CONFLICT waits for a concurrent first, then keeps it).
          await db
            .insert(roleSessions)
            .values(roleSessionValues(grantId, roleArn, session))
            .onConflictDoNothing();
        },
        // An unknown grant is refused (foreign key); the caller's transaction survives it.
        { savepoint: true },
      ),
    get: (grantId) =>
      ctx.read('roleSessions.get', async (db) => {
        const [row] = await db.select().from(roleSessions).where(eq(roleSessions.grantId, grantId)).limit(1);
        return row === undefined ? undefined : toSession(row);
      }),
    liveOfRole: (roleArn, now) =>
      ctx.read('roleSessions.liveOfRole', async (db) =>
        (
          await db
            .select()
            .from(roleSessions)
            .where(and(eq(roleSessions.roleArn, roleArn), gt(roleSessions.expiresAt, now.getTime())))
            .orderBy(asc(roleSessions.expiresAt), asc(bytewise(roleSessions.grantId)))
        ).map(toSession),
      ),
    markDenied: (grantId, policyName, at) =>
      ctx.write('roleSessions.markDenied', async (db) => {
        await db
          .update(roleSessions)
          .set({ denyPolicyName: policyName, deniedAt: at.getTime() })
          .where(eq(roleSessions.grantId, grantId));
      }),
    markDenyRemoved: (grantId, at) =>
      ctx.write('roleSessions.markDenyRemoved', async (db) => {
        await db
          .update(roleSessions)
          .set({ denyRemovedAt: at.getTime() })
          .where(eq(roleSessions.grantId, grantId));
      }),
    cleanups: pgDueQuery({
      name: 'roleSessions.cleanups',
      ctx,
      table: roleSessions,
      waiting: attached,
      at: sql<number>`${roleSessions.expiresAt}`,
      tiebreak: bytewise(roleSessions.grantId),
      toItem: toSession,
    }),
  };
}
