/**
 * Row → domain, once for both engines: the SQLite stores (`*-store.ts`) and the PostgreSQL ones
 * (`pg/*-store.ts`) read rows of the same shape — `pg-schema.ts` mirrors `schema.ts` column for column
 * and types its columns so values read back as SQLite returns them (epoch-ms numbers, 0 / 1 flags as
 * booleans). The row types are SQLite's; the checks below fail to compile if PostgreSQL's drift from them.
 *
 * Absent optional fields stay absent (no `undefined` keys), so rows compare equal to built objects.
 */
import type {
  BackstopRecord,
  ConnectionCut,
  OutboxItem,
  RuleHold,
  RuleTarget,
  StoredRoleSession,
} from '../../app/ports';
import type { Grant } from '../../domain/grant';
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
] = [true, true, true, true, true, true, true, true];
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
