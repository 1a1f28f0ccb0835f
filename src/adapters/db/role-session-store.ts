import { and, asc, eq, gt, isNotNull, isNull, sql } from 'drizzle-orm';
import type { RoleSessionStore } from '../../app/ports';
import { withDbErrors } from './db-error';
import { sqliteDueQuery } from './due-query';
import type { Db } from './open-db';
import { roleSessionValues, toSession } from './rows';
import { roleSessions } from './schema';
import type { Sync } from './sync-gate';

/** `RoleSessionStore` on SQLite. Only identity and timing are stored: never credentials. */
export function createSqliteRoleSessionStore(db: Db): Sync<RoleSessionStore> {
  const attached = and(isNotNull(roleSessions.deniedAt), isNull(roleSessions.denyRemovedAt));
  return {
    record: (grantId, roleArn, session) =>
      withDbErrors('roleSessions.record', () => {
        db.insert(roleSessions)
          .values(roleSessionValues(grantId, roleArn, session))
          .onConflictDoNothing()
          .run();
      }),
    get: (grantId) =>
      withDbErrors('roleSessions.get', () => {
        const row = db.select().from(roleSessions).where(eq(roleSessions.grantId, grantId)).get();
        return row === undefined ? undefined : toSession(row);
      }),
    liveOfRole: (roleArn, now) =>
      withDbErrors('roleSessions.liveOfRole', () =>
        db
          .select()
          .from(roleSessions)
          .where(and(eq(roleSessions.roleArn, roleArn), gt(roleSessions.expiresAt, now.getTime())))
          .orderBy(asc(roleSessions.expiresAt), asc(roleSessions.grantId))
          .all()
          .map(toSession),
      ),
    markDenied: (grantId, policyName, at) =>
      withDbErrors('roleSessions.markDenied', () => {
        db.update(roleSessions)
          .set({ denyPolicyName: policyName, deniedAt: at.getTime() })
          .where(eq(roleSessions.grantId, grantId))
          .run();
      }),
    markDenyRemoved: (grantId, at) =>
      withDbErrors('roleSessions.markDenyRemoved', () => {
        db.update(roleSessions)
          .set({ denyRemovedAt: at.getTime() })
          .where(eq(roleSessions.grantId, grantId))
          .run();
      }),
    cleanups: sqliteDueQuery({
      name: 'roleSessions.cleanups',
      db,
      table: roleSessions,
      waiting: attached,
      at: sql<number>`${roleSessions.expiresAt}`,
      tiebreak: roleSessions.grantId,
      toItem: toSession,
    }),
  };
}
