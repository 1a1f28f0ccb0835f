import { and, asc, desc, eq, inArray, isNull, lte, min, sql } from 'drizzle-orm';
import type { Db } from './open-db';
import { approvals, auditEvents, grants, outbox, requests, ruleHolds } from './schema';
import { LIVE_GRANT_STATES } from './schema-shared';

/**
 * The SQLite queries on the paths of `/access` and Approve, built once per connection with drizzle's
 * `.prepare()`: run with their values, never built again. drizzle builds a query anew on every call
 * (its SQL text walked out of the query objects, each column checked), which cost more than running it:
 * an approval runs the request, vote and grant lookups below a few dozen times between them. Each is
 * the very query the store ran before, with the value bound where it was inlined in the builder.
 */
export function createSqlitePrepared(db: Db) {
  const id = sql.placeholder('id');
  /** The first waiting delivery of each lane: only these may go (the rest wait behind them, in order). */
  const laneHeads = db
    .select({ id: min(outbox.id) })
    .from(outbox)
    .where(isNull(outbox.doneAt))
    .groupBy(outbox.lane);
  return {
    /** The request `id`. */
    requestById: db.select().from(requests).where(eq(requests.id, id)).prepare(),
    /** The votes for request `id`, in the order they were cast. */
    approvalsOf: db
      .select()
      .from(approvals)
      .where(eq(approvals.requestId, id))
      .orderBy(asc(approvals.id))
      .prepare(),
    /** The grant `id`. */
    grantById: db.select().from(grants).where(eq(grants.id, id)).prepare(),
    /** Only the state of grant `id`. */
    grantStateById: db.select({ state: grants.state }).from(grants).where(eq(grants.id, id)).prepare(),
    /** The grant of request `id`. */
    grantByRequest: db.select().from(grants).where(eq(grants.requestId, id)).prepare(),
    /** The rules grant `id` still holds, oldest first. */
    holdsOf: db
      .select()
      .from(ruleHolds)
      .where(and(eq(ruleHolds.grantId, id), isNull(ruleHolds.releasedAt)))
      .orderBy(asc(ruleHolds.id))
      .prepare(),
    /**
     * The oldest live hold (unreleased, its grant opening, active or closing) of the rule
     * `region`/`groupId`/`protocol`/`fromPort`-`toPort`/`cidr`: a rule another grant already holds.
     */
    liveHoldOf: db
      .select({ hold: ruleHolds })
      .from(ruleHolds)
      .innerJoin(grants, eq(grants.id, ruleHolds.grantId))
      .where(
        and(
          eq(ruleHolds.region, sql.placeholder('region')),
          eq(ruleHolds.groupId, sql.placeholder('groupId')),
          eq(ruleHolds.protocol, sql.placeholder('protocol')),
          eq(ruleHolds.fromPort, sql.placeholder('fromPort')),
          eq(ruleHolds.toPort, sql.placeholder('toPort')),
          eq(ruleHolds.cidr, sql.placeholder('cidr')),
          isNull(ruleHolds.releasedAt),
          inArray(grants.state, [...LIVE_GRANT_STATES]),
        ),
      )
      .orderBy(asc(ruleHolds.id))
      .limit(1)
      .prepare(),
    /** Up to `limit` lane heads of the outbox due by `now` (epoch ms), oldest first: run by every delivery pass. */
    readyDeliveries: db
      .select()
      .from(outbox)
      .where(and(inArray(outbox.id, laneHeads), lte(outbox.nextAt, sql.placeholder('now'))))
      .orderBy(asc(outbox.id))
      .limit(sql.placeholder('limit'))
      .prepare(),
    /** When the soonest lane head of the outbox is due (epoch ms), or null when none waits. */
    nextDelivery: db
      .select({ at: min(outbox.nextAt) })
      .from(outbox)
      .where(inArray(outbox.id, laneHeads))
      .prepare(),
    /** A card update of request `id` still waiting in the outbox. */
    waitingCardUpdate: db
      .select({ id: outbox.id })
      .from(outbox)
      .where(and(isNull(outbox.doneAt), eq(outbox.kind, 'card-update'), eq(outbox.requestId, id)))
      .prepare(),
    /** The audit events of request `id`, in the order they were appended. */
    auditOfRequest: db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.requestId, id))
      .orderBy(asc(auditEvents.seq))
      .prepare(),
    /** The newest audit event's link: its `seq`, hash and key. */
    lastAuditLink: db
      .select({ seq: auditEvents.seq, hash: auditEvents.hash, keyId: auditEvents.keyId })
      .from(auditEvents)
      .orderBy(desc(auditEvents.seq))
      .limit(1)
      .prepare(),
  };
}

export type SqlitePrepared = ReturnType<typeof createSqlitePrepared>;
