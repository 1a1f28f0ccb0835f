import { and, asc, eq, inArray, lte, notInArray, or } from 'drizzle-orm';
import type { CutState, CutStore } from '../../app/ports';
import { withDbErrors } from './db-error';
import type { Db } from './open-db';
import { expandedCutValues, plannedCutValues, toCut } from './rows';
import { connectionCuts, grants } from './schema';
import { LIVE_GRANT_STATES } from './schema-shared';
import type { Sync } from './sync-gate';

/** States whose entry is (or may be) in AWS, holding its rule number. */
const HOLDING: CutState[] = ['adding', 'in_place', 'removing'];

/** `CutStore` on SQLite (see `connection_cuts` in schema.ts). */
export function createSqliteCutStore(db: Db): Sync<CutStore> {
  return {
    plan: (cut, at) =>
      withDbErrors('cuts.plan', () => {
        const same = db
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
          .get();
        // A retried close plans again: once is enough.
        if (same !== undefined) return;
        db.insert(connectionCuts).values(plannedCutValues(cut, at)).run();
      }),

    unfinished: (now) =>
      withDbErrors('cuts.unfinished', () =>
        db
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
          .all()
          .map((r) => toCut(r.cut)),
      ),

    ofGrant: (grantId) =>
      withDbErrors('cuts.ofGrant', () =>
        db
          .select()
          .from(connectionCuts)
          .where(eq(connectionCuts.grantId, grantId))
          .orderBy(asc(connectionCuts.id))
          .all()
          .map(toCut),
      ),

    numbersInUse: (aclId) =>
      withDbErrors('cuts.numbersInUse', () =>
        db
          .select({ n: connectionCuts.ruleNumber })
          .from(connectionCuts)
          .where(and(eq(connectionCuts.networkAclId, aclId), inArray(connectionCuts.state, HOLDING)))
          .all()
          .map((r) => r.n)
          .filter((n): n is number => n !== null),
      ),

    liveOnGroup: (region, groupId) =>
      withDbErrors('cuts.liveOnGroup', () =>
        db
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
          .all()
          .map(toCut),
      ),

    expand: (plannedId, entries, refused, removeAt, at) =>
      withDbErrors('cuts.expand', () =>
        db.transaction((tx) => {
          const planned = tx
            .select()
            .from(connectionCuts)
            .where(and(eq(connectionCuts.id, plannedId), eq(connectionCuts.state, 'planned')))
            .get();
          if (planned === undefined) return [];
          const rows = expandedCutValues(planned, entries, refused, removeAt, at);
          const made = rows.map((row) => tx.insert(connectionCuts).values(row).returning().get());
          tx.update(connectionCuts)
            .set({
              state: 'removed',
              note: rows.length === 0 ? 'no network interface uses the group: nothing to cut' : 'expanded',
              updatedAt: at.getTime(),
            })
            .where(eq(connectionCuts.id, plannedId))
            .run();
          return made.map(toCut);
        }),
      ),

    move: (id, from, to, at, fields = {}) =>
      withDbErrors('cuts.move', () => {
        const result = db
          .update(connectionCuts)
          .set({
            state: to,
            updatedAt: at.getTime(),
            ...(fields.removeAt === undefined ? {} : { removeAt: fields.removeAt.getTime() }),
            ...(fields.note === undefined ? {} : { note: fields.note }),
          })
          .where(and(eq(connectionCuts.id, id), inArray(connectionCuts.state, [...from])))
          .run();
        return result.changes > 0;
      }),
  };
}
