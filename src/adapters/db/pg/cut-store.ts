import { and, asc, eq, inArray, lte, notInArray, or } from 'drizzle-orm';
import type { CutStore } from '../../../app/ports';
import { connectionCuts, grants } from '../pg-schema';
import { expandedCutValues, plannedCutValues, toCut } from '../rows';
import { HOLDING_CUT_STATES, LIVE_GRANT_STATES } from '../schema-shared';
import { ADVISORY, lockUntilCommit } from './advisory';
import type { PgContext } from './unit-of-work';

/** `CutStore` on PostgreSQL, behaving as the SQLite one (`../cut-store.ts`) does. */
export function createPgCutStore(ctx: PgContext): CutStore {
  return {
    plan: (cut, at) =>
      ctx.write(
        'cuts.plan',
        async (db) => {
          // Two replicas closing one grant at once plan in turn: the second finds the first's plan.
          await lockUntilCommit(db, ADVISORY.cutPlan, cut.grantId);
          const [same] = await db
            .select({ id: connectionCuts.id })
            .from(connectionCuts)
            .where(
              and(
                eq(connectionCuts.grantId, cut.grantId),
                eq(connectionCuts.groupId, cut.target.groupId),
                eq(connectionCuts.protocol, cut.protocol),
                eq(connectionCuts.fromPort, cut.fromPort),
                eq(connectionCuts.toPort, cut.toPort),
                eq(connectionCuts.cidr, cut.cidr),
              ),
            )
            .limit(1);
          // A retried close plans again: once is enough.
          if (same !== undefined) return;
          await db.insert(connectionCuts).values(plannedCutValues(cut, at));
        },
        // An unknown grant is refused (foreign key); the caller's transaction survives it.
        { savepoint: true },
      ),

    unfinished: (now) =>
      ctx.read('cuts.unfinished', async (db) =>
        (
          await db
            .select({ cut: connectionCuts })
            .from(connectionCuts)
            .innerJoin(grants, eq(grants.id, connectionCuts.grantId))
            .where(
              or(
                // Planned: once the grant is no longer live, its rules are revoked and the cut can go ahead.
                and(eq(connectionCuts.state, 'planned'), notInArray(grants.state, [...LIVE_GRANT_STATES])),
                inArray(connectionCuts.state, ['adding', 'removing']),
                and(eq(connectionCuts.state, 'in_place'), lte(connectionCuts.removeAt, now.getTime())),
              ),
            )
            .orderBy(asc(connectionCuts.id))
        ).map((r) => toCut(r.cut)),
      ),

    ofGrant: (grantId) =>
      ctx.read('cuts.ofGrant', async (db) =>
        (
          await db
            .select()
            .from(connectionCuts)
            .where(eq(connectionCuts.grantId, grantId))
            .orderBy(asc(connectionCuts.id))
        ).map(toCut),
      ),

    numbersInUse: (aclId) =>
      ctx.read('cuts.numbersInUse', async (db) =>
        (
          await db
            .select({ n: connectionCuts.ruleNumber })
            .from(connectionCuts)
            .where(
              and(
                eq(connectionCuts.networkAclId, aclId),
                inArray(connectionCuts.state, [...HOLDING_CUT_STATES]),
              ),
            )
            .orderBy(asc(connectionCuts.id))
        )
          .map((r) => r.n)
          .filter((n): n is number => n !== null),
      ),

    liveOnGroup: (region, groupId) =>
      ctx.read('cuts.liveOnGroup', async (db) =>
        (
          await db
            .select()
            .from(connectionCuts)
            .where(
              and(
                eq(connectionCuts.region, region),
                eq(connectionCuts.groupId, groupId),
                inArray(connectionCuts.state, ['adding', 'in_place']),
              ),
            )
            .orderBy(asc(connectionCuts.id))
        ).map(toCut),
      ),

    expand: (plannedId, entries, refused, removeAt, at) =>
      ctx.write('cuts.expand', async (db) => {
        // Locked until the transaction ends: a second expansion waits, then finds it no longer planned.
        const [planned] = await db
          .select()
          .from(connectionCuts)
          .where(and(eq(connectionCuts.id, plannedId), eq(connectionCuts.state, 'planned')))
          .for('update');
        if (planned === undefined) return [];
        const rows = expandedCutValues(planned, entries, refused, removeAt, at);
        // One statement, rows returned in the order given (identity values are drawn in VALUES order).
        const made = rows.length === 0 ? [] : await db.insert(connectionCuts).values(rows).returning();
        await db
          .update(connectionCuts)
          .set({
            state: 'removed',
            note: rows.length === 0 ? 'no network interface uses the group: nothing to cut' : 'expanded',
            updatedAt: at.getTime(),
          })
          .where(eq(connectionCuts.id, plannedId));
        return made.sort((a, b) => a.id - b.id).map(toCut);
      }),

    move: (id, from, to, at, fields = {}) =>
      ctx.write('cuts.move', async (db) => {
        const result = await db
          .update(connectionCuts)
          .set({
            state: to,
            updatedAt: at.getTime(),
            ...(fields.removeAt === undefined ? {} : { removeAt: fields.removeAt.getTime() }),
            ...(fields.note === undefined ? {} : { note: fields.note }),
          })
          .where(and(eq(connectionCuts.id, id), inArray(connectionCuts.state, [...from])));
        return (result.rowCount ?? 0) > 0;
      }),
  };
}
