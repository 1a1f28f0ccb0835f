import { and, asc, countDistinct, eq, gte, inArray, isNull, ne, or, sql } from 'drizzle-orm';
import type { RuleHold, RuleStore } from '../../../app/ports';
import { idChunks } from '../chunks';
import { grants, ruleHolds } from '../pg-schema';
import { holdValues, toHold, toTarget } from '../rows';
import { LIVE_GRANT_STATES } from '../schema-shared';
import { bytewise } from './order';
import type { PgContext } from './unit-of-work';

/**
 * `RuleStore` on PostgreSQL, behaving as the SQLite one (`../rule-store.ts`) does. A rule is shared by
 * every grant holding it; "live" means the holding grant is opening, active or closing and the hold is
 * not released.
 */
export function createPgRuleStore(ctx: PgContext): RuleStore {
  const liveHold = and(isNull(ruleHolds.releasedAt), inArray(grants.state, [...LIVE_GRANT_STATES]));

  return {
    hold: (hold) =>
      ctx.write(
        'rules.hold',
        async (db) => {
          // Idempotent: a grant already holding this rule (a retried open, or two at once) is not
          // counted twice — ON CONFLICT on `rule_holds_live_uq` waits for a concurrent insert of the same hold.
          await db.insert(ruleHolds).values(holdValues(hold)).onConflictDoNothing();
        },
        // An unknown grant is refused (foreign key); the caller's transaction survives it.
        { savepoint: true },
      ),

    holdsOf: (grantId) =>
      ctx.read('rules.holdsOf', async (db) =>
        (
          await db
            .select()
            .from(ruleHolds)
            .where(and(eq(ruleHolds.grantId, grantId), isNull(ruleHolds.releasedAt)))
            .orderBy(asc(ruleHolds.id))
        ).map(toHold),
      ),

    holdsOfAll: (grantIds) =>
      ctx.read('rules.holdsOfAll', async (db) => {
        const holds: RuleHold[] = [];
        for (const chunk of idChunks(grantIds)) {
          const rows = await db
            .select()
            .from(ruleHolds)
            .where(and(inArray(ruleHolds.grantId, chunk), isNull(ruleHolds.releasedAt)))
            .orderBy(asc(ruleHolds.id));
          holds.push(...rows.map(toHold));
        }
        return holds;
      }),

    heldByOthers: (ruleIds, exceptGrantIds) =>
      ctx.read('rules.heldByOthers', async (db) => {
        // The exceptions are left out here rather than in SQL: a batch may name more grants than one
        // statement binds.
        const except = new Set(exceptGrantIds);
        const held = new Set<string>();
        for (const chunk of idChunks(ruleIds)) {
          const holders = await db
            .selectDistinct({ ruleId: ruleHolds.ruleId, grantId: ruleHolds.grantId })
            .from(ruleHolds)
            .innerJoin(grants, eq(grants.id, ruleHolds.grantId))
            .where(and(inArray(ruleHolds.ruleId, chunk), liveHold));
          for (const h of holders) if (!except.has(h.grantId)) held.add(h.ruleId);
        }
        return held;
      }),

    otherLiveHolders: (ruleId, exceptGrantId) =>
      ctx.read('rules.otherLiveHolders', async (db) => {
        const [row] = await db
          .select({ n: countDistinct(ruleHolds.grantId) })
          .from(ruleHolds)
          .innerJoin(grants, eq(grants.id, ruleHolds.grantId))
          .where(and(eq(ruleHolds.ruleId, ruleId), ne(ruleHolds.grantId, exceptGrantId), liveHold));
        return row?.n ?? 0;
      }),

    findLive: (key) =>
      ctx.read('rules.findLive', async (db) => {
        const [row] = await db
          .select({ hold: ruleHolds })
          .from(ruleHolds)
          .innerJoin(grants, eq(grants.id, ruleHolds.grantId))
          .where(
            and(
              eq(ruleHolds.region, key.region),
              eq(ruleHolds.groupId, key.groupId),
              eq(ruleHolds.protocol, key.protocol),
              eq(ruleHolds.fromPort, key.fromPort),
              eq(ruleHolds.toPort, key.toPort),
              eq(ruleHolds.cidr, key.cidr),
              liveHold,
            ),
          )
          .orderBy(asc(ruleHolds.id))
          .limit(1);
        return row === undefined ? undefined : toHold(row.hold);
      }),

    release: (grantId, at) =>
      ctx.write('rules.release', async (db) => {
        await db
          .update(ruleHolds)
          .set({ releasedAt: at.getTime() })
          .where(and(eq(ruleHolds.grantId, grantId), isNull(ruleHolds.releasedAt)));
      }),

    releaseAll: (grantIds, at) =>
      ctx.write('rules.releaseAll', async (db) => {
        for (const chunk of idChunks(grantIds)) {
          await db
            .update(ruleHolds)
            .set({ releasedAt: at.getTime() })
            .where(and(inArray(ruleHolds.grantId, chunk), isNull(ruleHolds.releasedAt)));
        }
      }),

    knownTargets: (releasedSince) =>
      ctx.read('rules.knownTargets', async (db) =>
        (
          await db
            .select({
              region: ruleHolds.region,
              groupId: ruleHolds.groupId,
              assumeRoleArn: ruleHolds.assumeRoleArn,
            })
            .from(ruleHolds)
            .where(or(isNull(ruleHolds.releasedAt), gte(ruleHolds.releasedAt, releasedSince.getTime())))
            // GROUP BY rather than DISTINCT: DISTINCT would refuse an ORDER BY on `COLLATE "C"` expressions.
            .groupBy(ruleHolds.region, ruleHolds.groupId, ruleHolds.assumeRoleArn)
            // SQLite puts NULL first in ascending order; PostgreSQL, last unless told.
            .orderBy(
              asc(bytewise(ruleHolds.region)),
              asc(bytewise(ruleHolds.groupId)),
              sql`${bytewise(ruleHolds.assumeRoleArn)} ASC NULLS FIRST`,
            )
        ).map(toTarget),
      ),

    recordLegacyTargets: (roleOf) =>
      ctx.write('rules.recordLegacyTargets', async (db) => {
        // Locked until the end of the transaction: a replica starting at the same moment waits, then
        // finds them recorded (FOR UPDATE re-checks `target_recorded` on the committed rows).
        const legacy = await db
          .select({ id: ruleHolds.id, resourceId: grants.resourceId })
          .from(ruleHolds)
          .innerJoin(grants, eq(grants.id, ruleHolds.grantId))
          .where(eq(ruleHolds.targetRecorded, false))
          .for('update', { of: ruleHolds });
        for (const row of legacy) {
          await db
            .update(ruleHolds)
            .set({ assumeRoleArn: roleOf(row.resourceId) ?? null, targetRecorded: true })
            .where(eq(ruleHolds.id, row.id));
        }
        return legacy.length;
      }),

    liveHoldsIn: (group) =>
      ctx.read('rules.liveHoldsIn', async (db) =>
        (
          await db
            .select({ hold: ruleHolds })
            .from(ruleHolds)
            .innerJoin(grants, eq(grants.id, ruleHolds.grantId))
            .where(and(eq(ruleHolds.region, group.region), eq(ruleHolds.groupId, group.groupId), liveHold))
            .orderBy(asc(ruleHolds.id))
        ).map((r) => toHold(r.hold)),
      ),

    liveHoldsOn: (ruleId) =>
      ctx.read('rules.liveHoldsOn', async (db) =>
        (
          await db
            .select({ hold: ruleHolds })
            .from(ruleHolds)
            .innerJoin(grants, eq(grants.id, ruleHolds.grantId))
            .where(and(eq(ruleHolds.ruleId, ruleId), liveHold))
            .orderBy(asc(ruleHolds.id))
        ).map((r) => toHold(r.hold)),
      ),
  };
}
