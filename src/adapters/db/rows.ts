/**
 * Row ↔ domain, once for both engines: the SQLite stores (`*-store.ts`) and the PostgreSQL ones
 * (`pg/*-store.ts`) read and write rows of the same shape — `pg-schema.ts` mirrors `schema.ts` column
 * for column and types its columns so values read back as SQLite returns them (epoch-ms numbers, 0 / 1
 * flags as booleans). The row types are SQLite's; the checks below fail to compile if PostgreSQL's
 * drift from them.
 *
 * Reading, absent optional fields stay absent (no `undefined` keys), so rows compare equal to built
 * objects. Writing, the `…Values` functions give what a store inserts for a new domain object.
 */
import type {
  BackstopRecord,
  ConnectionCut,
  CutStore,
  NewGrant,
  NewRequest,
  OutboxItem,
  OutboxStore,
  RoleSession,
  RuleHold,
  RuleTarget,
  StoredRoleSession,
} from '../../app/ports';
import type { EndReason, Grant, GrantState } from '../../domain/grant';
import type { Resource } from '../../domain/policy';
import type { AccessRequest, Approval } from '../../domain/request';
import type * as pg from './pg-schema';
import type * as sqlite from './schema';

export type RequestRow = typeof sqlite.requests.$inferSelect;
export type ApprovalRow = typeof sqlite.approvals.$inferSelect;
export type GrantRow = typeof sqlite.grants.$inferSelect;
export type HoldRow = typeof sqlite.ruleHolds.$inferSelect;
export type RoleSessionRow = typeof sqlite.roleSessions.$inferSelect;
export type OutboxRow = typeof sqlite.outbox.$inferSelect;
export type BackstopRow = typeof sqlite.backstops.$inferSelect;
export type CutRow = typeof sqlite.connectionCuts.$inferSelect;

type RequestValues = typeof sqlite.requests.$inferInsert;
type GrantValues = typeof sqlite.grants.$inferInsert;
type HoldValues = typeof sqlite.ruleHolds.$inferInsert;
type RoleSessionValues = typeof sqlite.roleSessions.$inferInsert;
type OutboxValues = typeof sqlite.outbox.$inferInsert;
type BackstopValues = Omit<typeof sqlite.backstops.$inferInsert, 'ruleId'>;
type CutValues = typeof sqlite.connectionCuts.$inferInsert;

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Fails to compile when a PostgreSQL row stops having exactly the SQLite row's shape.
const rowsMatch: [
  Same<RequestRow, typeof pg.requests.$inferSelect>,
  Same<ApprovalRow, typeof pg.approvals.$inferSelect>,
  Same<GrantRow, typeof pg.grants.$inferSelect>,
  Same<HoldRow, typeof pg.ruleHolds.$inferSelect>,
  Same<RoleSessionRow, typeof pg.roleSessions.$inferSelect>,
  Same<OutboxRow, typeof pg.outbox.$inferSelect>,
  Same<BackstopRow, typeof pg.backstops.$inferSelect>,
  Same<CutRow, typeof pg.connectionCuts.$inferSelect>,
  Same<RequestValues, typeof pg.requests.$inferInsert>,
  Same<GrantValues, typeof pg.grants.$inferInsert>,
  Same<HoldValues, typeof pg.ruleHolds.$inferInsert>,
  Same<RoleSessionValues, typeof pg.roleSessions.$inferInsert>,
  Same<OutboxValues, typeof pg.outbox.$inferInsert>,
  Same<BackstopValues, Omit<typeof pg.backstops.$inferInsert, 'ruleId'>>,
  Same<CutValues, typeof pg.connectionCuts.$inferInsert>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true, true, true];
void rowsMatch;

/** The resource snapshot as written by `insert` (our own JSON of a domain `Resource`). */
const parseResource = (json: string): Resource => JSON.parse(json) as Resource;

export function toAccessRequest(row: RequestRow): AccessRequest {
  const { sourceCidr, sourceFamily, sourcePrefix } = row;
  return {
    id: row.id,
    resourceId: row.resourceId,
    requesterId: row.requesterId,
    durationMs: row.durationMs,
    ...(sourceCidr !== null && sourcePrefix !== null && (sourceFamily === 4 || sourceFamily === 6)
      ? { source: { family: sourceFamily, cidr: sourceCidr, prefix: sourcePrefix } }
      : {}),
    reason: row.reason,
    state: row.state,
    createdAt: new Date(row.createdAt),
    approvalDeadline: new Date(row.approvalDeadline),
    ...(row.decidedAt !== null ? { decidedAt: new Date(row.decidedAt) } : {}),
    ...(row.decidedBy !== null ? { decidedBy: row.decidedBy } : {}),
    ...(row.note !== null ? { note: row.note } : {}),
    ...(row.messageChannel !== null && row.messageTs !== null
      ? { message: { channel: row.messageChannel, ts: row.messageTs } }
      : {}),
    kind: row.kind,
    ...(row.extendsGrantId !== null ? { extendsGrantId: row.extendsGrantId } : {}),
    breakGlass: row.breakGlass,
    ...(row.remindedAt !== null ? { remindedAt: new Date(row.remindedAt) } : {}),
    ...(row.resourceSnapshot !== null ? { resourceAtRequest: parseResource(row.resourceSnapshot) } : {}),
  };
}

export const toApproval = (row: ApprovalRow): Approval => ({
  requestId: row.requestId,
  approverId: row.approverId,
  at: new Date(row.at),
});

export function toGrant(row: GrantRow): Grant {
  return {
    id: row.id,
    requestId: row.requestId,
    resourceId: row.resourceId,
    requesterId: row.requesterId,
    state: row.state,
    startsAt: new Date(row.startsAt),
    expiresAt: new Date(row.expiresAt),
    ...(row.endedAt !== null ? { endedAt: new Date(row.endedAt) } : {}),
    ...(row.endReason !== null ? { endReason: row.endReason } : {}),
    ...(row.endedBy !== null ? { endedBy: row.endedBy } : {}),
    ...(row.warnedAt !== null ? { warnedAt: new Date(row.warnedAt) } : {}),
    breakGlass: row.breakGlass,
    ...(row.reviewedBy !== null ? { reviewedBy: row.reviewedBy } : {}),
    ...(row.reviewedAt !== null ? { reviewedAt: new Date(row.reviewedAt) } : {}),
    closeAttempts: row.closeAttempts,
    ...(row.retryAt !== null ? { retryAt: new Date(row.retryAt) } : {}),
  };
}

/** Where a rule lives, from the three columns every table that names one has. */
export const toTarget = (row: {
  readonly region: string;
  readonly groupId: string;
  readonly assumeRoleArn: string | null;
}): RuleTarget => ({
  region: row.region,
  groupId: row.groupId,
  ...(row.assumeRoleArn === null ? {} : { assumeRoleArn: row.assumeRoleArn }),
});

export const toHold = (row: HoldRow): RuleHold => ({
  grantId: row.grantId,
  ruleId: row.ruleId,
  region: row.region,
  groupId: row.groupId,
  protocol: row.protocol,
  fromPort: row.fromPort,
  toPort: row.toPort,
  cidr: row.cidr,
  managed: row.managed,
  ...(row.assumeRoleArn === null ? {} : { assumeRoleArn: row.assumeRoleArn }),
});

export const toSession = (row: RoleSessionRow): StoredRoleSession => ({
  grantId: row.grantId,
  roleArn: row.roleArn,
  sessionName: row.sessionName,
  assumedRoleId: row.assumedRoleId,
  expiresAt: new Date(row.expiresAt),
  ...(row.denyPolicyName === null ? {} : { denyPolicyName: row.denyPolicyName }),
  ...(row.deniedAt === null ? {} : { deniedAt: new Date(row.deniedAt) }),
  ...(row.denyRemovedAt === null ? {} : { denyRemovedAt: new Date(row.denyRemovedAt) }),
});

export const toOutboxItem = (r: OutboxRow): OutboxItem => ({
  id: r.id,
  kind: r.kind,
  lane: r.lane,
  ...(r.requestId === null ? {} : { requestId: r.requestId }),
  ...(r.userId === null ? {} : { userId: r.userId }),
  ...(r.channel === null ? {} : { channel: r.channel }),
  ...(r.notice === null ? {} : { notice: r.notice }),
  attempts: r.attempts,
  createdAt: new Date(r.createdAt),
});

export const toBackstopRecord = (row: BackstopRow): BackstopRecord => ({
  ruleId: row.ruleId,
  target: toTarget(row),
  fireAt: new Date(row.fireAt),
});

export const toCut = (row: CutRow): ConnectionCut => ({
  id: row.id,
  grantId: row.grantId,
  target: toTarget(row),
  protocol: row.protocol,
  fromPort: row.fromPort,
  toPort: row.toPort,
  cidr: row.cidr,
  ...(row.networkAclId === null ? {} : { aclId: row.networkAclId }),
  ...(row.ruleNumber === null ? {} : { ruleNumber: row.ruleNumber }),
  state: row.state,
  ...(row.removeAt === null ? {} : { removeAt: new Date(row.removeAt) }),
  ...(row.note === null ? {} : { note: row.note }),
});

/** A new request, pending. */
export const requestValues = (request: NewRequest): RequestValues => ({
  id: request.id,
  resourceId: request.resourceId,
  requesterId: request.requesterId,
  durationMs: request.durationMs,
  sourceCidr: request.source?.cidr ?? null,
  sourceFamily: request.source?.family ?? null,
  sourcePrefix: request.source?.prefix ?? null,
  reason: request.reason,
  state: 'pending',
  createdAt: request.createdAt.getTime(),
  approvalDeadline: request.approvalDeadline.getTime(),
  kind: request.kind ?? 'access',
  extendsGrantId: request.extendsGrantId ?? null,
  breakGlass: request.breakGlass ?? false,
  resourceSnapshot:
    request.resourceAtRequest === undefined ? null : JSON.stringify(request.resourceAtRequest),
});

/** A new grant, opening. */
export const grantValues = (grant: NewGrant): GrantValues => ({
  id: grant.id,
  requestId: grant.requestId,
  resourceId: grant.resourceId,
  requesterId: grant.requesterId,
  state: 'opening',
  startsAt: grant.startsAt.getTime(),
  expiresAt: grant.expiresAt.getTime(),
  breakGlass: grant.breakGlass ?? false,
});

/** A new hold, its target recorded. */
export const holdValues = (hold: RuleHold): HoldValues => ({
  grantId: hold.grantId,
  ruleId: hold.ruleId,
  region: hold.region,
  groupId: hold.groupId,
  protocol: hold.protocol,
  fromPort: hold.fromPort,
  toPort: hold.toPort,
  cidr: hold.cidr,
  managed: hold.managed,
  assumeRoleArn: hold.assumeRoleArn ?? null,
  targetRecorded: true,
});

/** A grant's role session, not denied. */
export const roleSessionValues = (
  grantId: string,
  roleArn: string,
  session: RoleSession,
): RoleSessionValues => ({
  grantId,
  roleArn,
  sessionName: session.sessionName,
  assumedRoleId: session.assumedRoleId,
  expiresAt: session.expiresAt.getTime(),
});

/** A delivery at the end of its lane, due at once. */
export const outboxValues = (item: Parameters<OutboxStore['enqueue']>[0], now: Date): OutboxValues => ({
  requestId: item.requestId ?? null,
  kind: item.kind,
  lane: item.lane,
  userId: item.userId ?? null,
  channel: item.channel ?? null,
  notice: item.notice ?? null,
  attempts: 0,
  createdAt: now.getTime(),
  nextAt: now.getTime(),
});

/** What AWS now holds for a rule (the columns besides the key, so an upsert can set them). */
export const backstopValues = (record: BackstopRecord, at: Date): BackstopValues => ({
  region: record.target.region,
  groupId: record.target.groupId,
  assumeRoleArn: record.target.assumeRoleArn ?? null,
  fireAt: record.fireAt.getTime(),
  updatedAt: at.getTime(),
});

/** A cut, planned. */
export const plannedCutValues = (cut: Parameters<CutStore['plan']>[0], at: Date): CutValues => ({
  grantId: cut.grantId,
  region: cut.target.region,
  groupId: cut.target.groupId,
  assumeRoleArn: cut.target.assumeRoleArn ?? null,
  protocol: cut.protocol,
  fromPort: cut.fromPort,
  toPort: cut.toPort,
  cidr: cut.cidr,
  state: 'planned',
  createdAt: at.getTime(),
  updatedAt: at.getTime(),
});

/** The rows a planned cut expands into (see `CutStore.expand`): `adding` per numbered entry, then `refused` per ACL without. */
export function expandedCutValues(
  planned: CutRow,
  entries: Parameters<CutStore['expand']>[1],
  refused: Parameters<CutStore['expand']>[2],
  removeAt: Date,
  at: Date,
): CutValues[] {
  const { id: _id, ...base } = planned;
  return [
    ...entries.map((e) => ({
      ...base,
      networkAclId: e.aclId,
      ruleNumber: e.ruleNumber,
      state: 'adding' as const,
      removeAt: removeAt.getTime(),
      updatedAt: at.getTime(),
    })),
    ...refused.map((r) => ({
      ...base,
      networkAclId: r.aclId,
      ruleNumber: null,
      state: 'refused' as const,
      note: r.note,
      updatedAt: at.getTime(),
    })),
  ];
}

/**
 * The columns a grant's state change sets, on both engines (`move`, `moveAll`): the new state, the end
 * fields given, and no retry time — a state change is a fresh start, so a close started now is
 * attempted at once.
 */
export const grantMove = (
  to: GrantState,
  patch: { endedAt?: Date; endReason?: EndReason; endedBy?: string },
) => ({
  state: to,
  retryAt: null,
  ...(patch.endedAt !== undefined ? { endedAt: patch.endedAt.getTime() } : {}),
  ...(patch.endReason !== undefined ? { endReason: patch.endReason } : {}),
  ...(patch.endedBy !== undefined ? { endedBy: patch.endedBy } : {}),
});
