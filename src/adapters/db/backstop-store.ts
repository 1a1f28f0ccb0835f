import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { BackstopStore, BackstopWant } from '../../app/ports';
import { idChunks, sqliteIdIn } from './chunks';
import { withDbErrors } from './db-error';
import type { Db } from './open-db';
import { backstopValues, toBackstopRecord as toRecord } from './rows';
import { backstops, grants, ruleHolds } from './schema';
import { LIVE_GRANT_STATES } from './schema-shared';
import type { Sync } from './sync-gate';

/**
 * `BackstopStore` on SQLite: what hallpass last made EventBridge Scheduler hold (`backstops`), and what
 * it should hold, derived from the live holds (`wanted`).
 */
export function createSqliteBackstopStore(db: Db): Sync<BackstopStore> {
  return {
    get: (ruleId) =>
      withDbErrors('backstops.get', () => {
        const row = db.select().from(backstops).where(eq(backstops.ruleId, ruleId)).get();
        return row === undefined ? undefined : toRecord(row);
      }),

    set: (ruleId, record, at) =>
      withDbErrors('backstops.set', () => {
        if (record === undefined) {
          db.delete(backstops).where(eq(backstops.ruleId, ruleId)).run();
          return;
        }
        const values = backstopValues(record, at);
        db.insert(backstops)
          .values({ ruleId, ...values })
          .onConflictDoUpdate({ target: backstops.ruleId, set: values })
          .run();
      }),

    all: () =>
      withDbErrors('backstops.all', () =>
        db.select().from(backstops).orderBy(asc(backstops.ruleId)).all().map(toRecord),
      ),

    wanted: (ruleIds) =>
      withDbErrors('backstops.wanted', () => {
        if (ruleIds !== undefined && ruleIds.length === 0) return [];
        // Every live, managed hold with its grant's end; the last end per rule wins below. A rule held
        // by a grant still opening counts: its rule is open in AWS already.
        const rows = db
          .select({
            ruleId: ruleHolds.ruleId,
            region: ruleHolds.region,
            groupId: ruleHolds.groupId,
            assumeRoleArn: ruleHolds.assumeRoleArn,
            grantId: grants.id,
            resourceId: grants.resourceId,
            expiresAt: grants.expiresAt,
          })
          .from(ruleHolds)
          .innerJoin(grants, eq(grants.id, ruleHolds.grantId))
          .where(
            and(
              isNull(ruleHolds.releasedAt),
              eq(ruleHolds.managed, true),
              inArray(grants.state, [...LIVE_GRANT_STATES]),
              ruleIds === undefined ? sql`1 = 1` : sqliteIdIn(ruleHolds.ruleId, [...ruleIds]),
            ),
          )
          .orderBy(asc(ruleHolds.ruleId), asc(ruleHolds.id))
          .all();
        const byRule = new Map<string, BackstopWant>();
        for (const r of rows) {
          const seen = byRule.get(r.ruleId);
          const lastEnd = new Date(r.expiresAt);
          if (seen !== undefined && seen.lastEnd >= lastEnd) continue;
          byRule.set(r.ruleId, {
            ruleId: r.ruleId,
            target: {
              region: r.region,
              groupId: r.groupId,
              ...(r.assumeRoleArn === null ? {} : { assumeRoleArn: r.assumeRoleArn }),
            },
            grantId: r.grantId,
            resourceId: r.resourceId,
            lastEnd,
          });
        }
        return [...byRule.values()];
      }),

    ours: (ruleIds) =>
      withDbErrors('backstops.ours', () => {
        const found = new Set<string>();
        for (const chunk of idChunks(ruleIds)) {
          const held = db
            .selectDistinct({ ruleId: ruleHolds.ruleId })
            .from(ruleHolds)
            .where(and(eq(ruleHolds.managed, true), sqliteIdIn(ruleHolds.ruleId, chunk)))
            .all();
          const recorded = db
            .select({ ruleId: backstops.ruleId })
            .from(backstops)
            .where(sqliteIdIn(backstops.ruleId, chunk))
            .all();
          for (const r of [...held, ...recorded]) found.add(r.ruleId);
        }
        return found;
      }),
  };
}
