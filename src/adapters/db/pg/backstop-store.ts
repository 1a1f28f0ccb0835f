import { and, asc, desc, eq, inArray, isNull } from 'drizzle-orm';
import type { BackstopStore } from '../../../app/ports';
import { idChunks } from '../chunks';
import { backstops, grants, ruleHolds } from '../pg-schema';
import { backstopValues, toBackstopRecord, toTarget } from '../rows';
import { LIVE_GRANT_STATES } from '../schema-shared';
import { bytewise } from './order';
import type { PgContext } from './unit-of-work';

/**
 * `BackstopStore` on PostgreSQL (see `../backstop-store.ts`): what hallpass last made EventBridge
 * Scheduler hold, and what it should hold, derived from the live holds.
 */
export function createPgBackstopStore(ctx: PgContext): BackstopStore {
  return {
    get: (ruleId) =>
      ctx.read('backstops.get', async (db) => {
        const [row] = await db.select().from(backstops).where(eq(backstops.ruleId, ruleId)).limit(1);
        return row === undefined ? undefined : toBackstopRecord(row);
      }),

    set: (ruleId, record, at) =>
      ctx.write('backstops.set', async (db) => {
        if (record === undefined) {
          await db.delete(backstops).where(eq(backstops.ruleId, ruleId));
          return;
        }
        const values = backstopValues(record, at);
        await db
          .insert(backstops)
          .values({ ruleId, ...values })
          .onConflictDoUpdate({ target: backstops.ruleId, set: values });
      }),

    all: () =>
      ctx.read('backstops.all', async (db) =>
        (
          await db
            .select()
            .from(backstops)
            .orderBy(asc(bytewise(backstops.ruleId)))
        ).map(toBackstopRecord),
      ),

    wanted: (ruleIds) =>
      ctx.read('backstops.wanted', async (db) => {
        if (ruleIds !== undefined && ruleIds.length === 0) return [];
        // Per rule, its live managed hold whose grant ends last (the earliest hold among equal ends), as
        // the SQLite store picks it; a rule held by a grant still opening counts: its rule is open in AWS.
        const rows = await db
          .selectDistinctOn([bytewise(ruleHolds.ruleId)], {
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
              ruleIds === undefined ? undefined : inArray(ruleHolds.ruleId, [...ruleIds]),
            ),
          )
          .orderBy(asc(bytewise(ruleHolds.ruleId)), desc(grants.expiresAt), asc(ruleHolds.id));
        return rows.map((r) => ({
          ruleId: r.ruleId,
          target: toTarget(r),
          grantId: r.grantId,
          resourceId: r.resourceId,
          lastEnd: new Date(r.expiresAt),
        }));
      }),

    ours: (ruleIds) =>
      ctx.read('backstops.ours', async (db) => {
        const found = new Set<string>();
        for (const chunk of idChunks(ruleIds)) {
          const held = await db
            .selectDistinct({ ruleId: ruleHolds.ruleId })
            .from(ruleHolds)
            .where(and(eq(ruleHolds.managed, true), inArray(ruleHolds.ruleId, chunk)));
          const recorded = await db
            .select({ ruleId: backstops.ruleId })
            .from(backstops)
            .where(inArray(backstops.ruleId, chunk));
          for (const r of [...held, ...recorded]) found.add(r.ruleId);
        }
        return found;
      }),
  };
}
