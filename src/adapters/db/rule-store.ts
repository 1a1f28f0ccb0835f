import { and, asc, countDistinct, eq, gte, inArray, isNull, ne, or } from 'drizzle-orm';
import type { RuleStore } from '../../app/ports';
import { idChunks, sqliteIdIn } from './chunks';
import { withDbErrors } from './db-error';
import type { Db } from './open-db';
import { createSqlitePrepared, type SqlitePrepared } from './prepared';
import { holdValues, toHold } from './rows';
import { grants, ruleHolds } from './schema';
import { LIVE_GRANT_STATES } from './schema-shared';
import type { Sync } from './sync-gate';

/**
 * `RuleStore` on SQLite. A rule is shared by every grant holding it; "live" means the holding grant is
 * opening, active or closing and the hold is not released. Closed and failed grants never keep a rule open,
 * even if their holds were not released (a crash between the state change and the release).
 */
export function createSqliteRuleStore(
  db: Db,
  prepared: SqlitePrepared = createSqlitePrepared(db),
): Sync<RuleStore> {
  const liveHold = and(isNull(ruleHolds.releasedAt), inArray(grants.state, [...LIVE_GRANT_STATES]));

  return {
    hold: (hold) =>
      withDbErrors('rules.hold', () => {
        // Idempotent: a grant already holding this rule (a retried open) is not counted twice.
        db.insert(ruleHolds).values(holdValues(hold)).onConflictDoNothing().run();
      }),

    holdsOf: (grantId) =>
      withDbErrors('rules.holdsOf', () => prepared.holdsOf.all({ id: grantId }).map(toHold)),

    holdsOfAll: (grantIds) =>
      withDbErrors('rules.holdsOfAll', () =>
        idChunks(grantIds).flatMap((chunk) =>
          db
            .select()
            .from(ruleHolds)
            .where(and(sqliteIdIn(ruleHolds.grantId, chunk), isNull(ruleHolds.releasedAt)))
            .orderBy(asc(ruleHolds.id))
            .all()
            .map(toHold),
        ),
      ),

    heldByOthers: (ruleIds, exceptGrantIds) =>
      withDbErrors('rules.heldByOthers', () => {
        // The exceptions are left out here rather than in SQL: a batch may name more grants than one
        // statement binds.
        const except = new Set(exceptGrantIds);
        const held = new Set<string>();
        for (const chunk of idChunks(ruleIds)) {
          const holders = db
            .selectDistinct({ ruleId: ruleHolds.ruleId, grantId: ruleHolds.grantId })
            .from(ruleHolds)
            .innerJoin(grants, eq(grants.id, ruleHolds.grantId))
            .where(and(sqliteIdIn(ruleHolds.ruleId, chunk), liveHold))
            .all();
          for (const h of holders) if (!except.has(h.grantId)) held.add(h.ruleId);
        }
        return held;
      }),

    otherLiveHolders: (ruleId, exceptGrantId) =>
      withDbErrors('rules.otherLiveHolders', () => {
        const row = db
          .select({ n: countDistinct(ruleHolds.grantId) })
          .from(ruleHolds)
          .innerJoin(grants, eq(grants.id, ruleHolds.grantId))
          .where(and(eq(ruleHolds.ruleId, ruleId), ne(ruleHolds.grantId, exceptGrantId), liveHold))
          .get();
        return row?.n ?? 0;
      }),

    findLive: (key) =>
      withDbErrors('rules.findLive', () => {
        const row = prepared.liveHoldOf.get({
          region: key.region,
          groupId: key.groupId,
          protocol: key.protocol,
          fromPort: key.fromPort,
          toPort: key.toPort,
          cidr: key.cidr,
        });
        return row === undefined ? undefined : toHold(row.hold);
      }),

    release: (grantId, at) =>
      withDbErrors('rules.release', () => {
        db.update(ruleHolds)
          .set({ releasedAt: at.getTime() })
          .where(and(eq(ruleHolds.grantId, grantId), isNull(ruleHolds.releasedAt)))
          .run();
      }),

    releaseAll: (grantIds, at) =>
      withDbErrors('rules.releaseAll', () => {
        // One transaction for all the chunks (a savepoint when the caller already has one).
        db.transaction(
          () => {
            for (const chunk of idChunks(grantIds)) {
              db.update(ruleHolds)
                .set({ releasedAt: at.getTime() })
                .where(and(sqliteIdIn(ruleHolds.grantId, chunk), isNull(ruleHolds.releasedAt)))
                .run();
            }
          },
          { behavior: 'immediate' },
        );
      }),

    knownTargets: (releasedSince) =>
      withDbErrors('rules.knownTargets', () =>
        db
          .selectDistinct({
            region: ruleHolds.region,
            groupId: ruleHolds.groupId,
            assumeRoleArn: ruleHolds.assumeRoleArn,
          })
          .from(ruleHolds)
          .where(or(isNull(ruleHolds.releasedAt), gte(ruleHolds.releasedAt, releasedSince.getTime())))
          .orderBy(asc(ruleHolds.region), asc(ruleHolds.groupId), asc(ruleHolds.assumeRoleArn))
          .all()
          .map((t) => ({
            region: t.region,
            groupId: t.groupId,
            ...(t.assumeRoleArn === null ? {} : { assumeRoleArn: t.assumeRoleArn }),
          })),
      ),

    recordLegacyTargets: (roleOf) =>
      withDbErrors('rules.recordLegacyTargets', () => {
        const legacy = db
          .select({ id: ruleHolds.id, resourceId: grants.resourceId })
          .from(ruleHolds)
          .innerJoin(grants, eq(grants.id, ruleHolds.grantId))
          .where(eq(ruleHolds.targetRecorded, false))
          .all();
        for (const row of legacy) {
          db.update(ruleHolds)
            .set({ assumeRoleArn: roleOf(row.resourceId) ?? null, targetRecorded: true })
            .where(eq(ruleHolds.id, row.id))
            .run();
        }
        return legacy.length;
      }),

    liveHoldsIn: (group) =>
      withDbErrors('rules.liveHoldsIn', () =>
        db
          .select({ hold: ruleHolds })
          .from(ruleHolds)
          .innerJoin(grants, eq(grants.id, ruleHolds.grantId))
          .where(and(eq(ruleHolds.region, group.region), eq(ruleHolds.groupId, group.groupId), liveHold))
          .orderBy(asc(ruleHolds.id))
          .all()
          .map((r) => toHold(r.hold)),
      ),

    liveHoldsOn: (ruleId) =>
      withDbErrors('rules.liveHoldsOn', () =>
        db
          .select({ hold: ruleHolds })
          .from(ruleHolds)
          .innerJoin(grants, eq(grants.id, ruleHolds.grantId))
          .where(and(eq(ruleHolds.ruleId, ruleId), liveHold))
          .orderBy(asc(ruleHolds.id))
          .all()
          .map((r) => toHold(r.hold)),
      ),
  };
}
