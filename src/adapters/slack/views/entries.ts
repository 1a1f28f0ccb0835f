import type { ApprovalCard } from '../../../app/notices';
import type { ActiveEntry } from '../../../app/queries';
import { formatDuration } from '../../../domain/duration';
import type { Grant } from '../../../domain/grant';
import type { Resource } from '../../../domain/policy';
import type { AccessRequest } from '../../../domain/request';
import { inertText, mention, safeCode, safeText, slackDate } from '../escape';
import { timeLeft } from './blocks';
import { accessPhrase, endWords } from './describe';

/**
 * What the App Home and `/access list` show: the viewer's own grants and pending requests, what
 * waits for their approval, what is open across the workspace, and break-glass grants nobody has
 * reviewed. Lists are shown in the order given.
 */
export type DashboardInput = {
  readonly userId: string;
  readonly now: Date;
  /** The viewer's own live grants. */
  readonly mine: readonly ActiveEntry[];
  /** The viewer's own pending requests (access and extension). */
  readonly minePending: readonly AccessRequest[];
  /** Pending requests the viewer may approve. */
  readonly awaitingMe: readonly ApprovalCard[];
  /** Every live grant in the workspace. */
  readonly everyone: readonly ActiveEntry[];
  /** Break-glass grants nobody has reviewed yet. */
  readonly unreviewed: readonly ActiveEntry[];
  /** A grant this close to its end is marked "ends soon" (the policy's `warnBefore`, ms). */
  readonly warnBefore?: number | undefined;
  /**
   * The policy's resources, to say what each grant opens (ports or role) and to leave Extend off
   * role grants. Optional: without it a grant shows only its address.
   */
  readonly resources?: readonly Resource[] | undefined;
};

const REASON_MAX = 300;

/** Keeps the first of each id: a duplicate would repeat a block_id, and Slack refuses the whole view. */
export function uniqueBy<T>(items: readonly T[], id: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = id(item);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export const findIn = (resources: readonly Resource[] | undefined, id: string): Resource | undefined =>
  resources?.find((r) => r.id === id);

/**
 * `from 203.0.113.7/32 (tcp 5432)` with the resource, `from 203.0.113.7/32` without, `as role …` for
 * roles. With `address: false` (the policy's visibility, for a viewer not involved) the address is left
 * out: `from an address shown to those involved (tcp 5432)`.
 */
export function whatPhrase(request: AccessRequest, resource: Resource | undefined, address = true): string {
  const shown = address || request.source === undefined ? request : { ...request, source: undefined };
  const phrase =
    resource !== undefined
      ? accessPhrase(shown, resource)
      : shown.source === undefined
        ? 'no address'
        : `from ${safeText(shown.source.cidr, 60)}`;
  return address || request.source === undefined ? phrase : phrase.replace(HIDDEN_FROM, HIDDEN_ADDRESS);
}

/** What `accessPhrase` and `whatPhrase` say without an address, and what a hidden one reads as. */
const HIDDEN_FROM = /^(from an unknown address|no address)/;
const HIDDEN_ADDRESS = 'from an address shown to those involved';

const STATE_NOTE: Partial<Record<Grant['state'], string>> = {
  opening: ' · _opening…_',
  closing: ' · _closing…_',
};

/** Since / until / time left of a live grant, with "ends soon" inside the warning window. */
export function grantTimes(grant: Grant, now: Date, warnBefore?: number): string {
  const left = grant.expiresAt.getTime() - now.getTime();
  const soon =
    warnBefore !== undefined && warnBefore > 0 && left > 0 && left <= warnBefore ? ' · *ends soon*' : '';
  return `since ${slackDate(grant.startsAt)} · until ${slackDate(grant.expiresAt)} (${timeLeft(grant.expiresAt, now)})${soon}${STATE_NOTE[grant.state] ?? ''}`;
}

/** `*prod-db*` · what · times · id — one of the viewer's grants. */
export function myGrantText(entry: ActiveEntry, d: DashboardInput): string {
  const { grant, request } = entry;
  const resource = findIn(d.resources, grant.resourceId);
  const bg = grant.breakGlass ? ' · break-glass' : '';
  return `*${safeText(grant.resourceId, 64)}* ${whatPhrase(request, resource)}${bg}\n${grantTimes(grant, d.now, d.warnBefore)} · grant ${safeCode(grant.id, 80)}`;
}

/** `*prod-db*` · 30m (or 30m more on grant …) · from … · times out … · id — one of the viewer's pending requests. */
export function myRequestText(request: AccessRequest, now: Date): string {
  const what =
    request.kind === 'extension'
      ? `${formatDuration(request.durationMs)} more on grant ${safeCode(request.extendsGrantId ?? 'unknown', 80)}`
      : `${formatDuration(request.durationMs)}${request.source === undefined ? '' : ` from ${safeText(request.source.cidr, 60)}`}`;
  return `*${safeText(request.resourceId, 64)}* · ${what} · times out at ${slackDate(request.approvalDeadline)} (${timeLeft(request.approvalDeadline, now)}) · request ${safeCode(request.id, 80)}`;
}

/** Requester, resource, duration, address or role, reason (bounded), approvals so far, deadline. */
export function cardText(card: ApprovalCard, now: Date): string {
  const { request, resource } = card;
  const who = mention(request.requesterId);
  const asks =
    request.kind === 'extension'
      ? `asks for *${formatDuration(request.durationMs)}* more on grant ${safeCode(request.extendsGrantId ?? 'unknown', 80)} (*${safeText(resource.id, 64)}*)`
      : `asks for *${formatDuration(request.durationMs)}* of *${safeText(resource.id, 64)}* ${accessPhrase(request, resource)}`;
  const reason = request.reason.trim() === '' ? '_no reason given_' : inertText(request.reason, REASON_MAX);
  const window =
    card.extends === undefined
      ? ''
      : `\nGrant now until ${slackDate(card.extends.expiresAt)}; would end at ${slackDate(new Date(card.extends.expiresAt.getTime() + request.durationMs))}`;
  const count = `${card.approvals.length} of ${resource.approvals} approval${resource.approvals === 1 ? '' : 's'}`;
  return `${who} ${asks}\nReason: ${reason}${window}\n${count} · times out at ${slackDate(request.approvalDeadline)} (${timeLeft(request.approvalDeadline, now)}) · request ${safeCode(request.id, 80)}`;
}

/** Who, what, since, until — a live grant anyone may see. */
export function everyoneLine(entry: ActiveEntry, d: DashboardInput, withId: boolean): string {
  const { grant, request } = entry;
  const resource = findIn(d.resources, grant.resourceId);
  const id = withId ? ` · ${safeCode(grant.id, 80)}` : '';
  const bg = grant.breakGlass ? ' · break-glass' : '';
  return `${mention(grant.requesterId)} · *${safeText(grant.resourceId, 64)}* ${whatPhrase(request, resource, entry.shown.address)}${bg} · ${grantTimes(grant, d.now)}${id}`;
}

/** Who opened what without approval, when, until when (or how it ended), why. */
export function unreviewedText(entry: ActiveEntry, d: DashboardInput): string {
  const { grant, request } = entry;
  const resource = findIn(d.resources, grant.resourceId);
  const when =
    grant.state === 'closed' || grant.state === 'failed'
      ? `ended at ${slackDate(grant.endedAt ?? grant.expiresAt)} (${endWords(grant)})`
      : `until ${slackDate(grant.expiresAt)} (${timeLeft(grant.expiresAt, d.now)})`;
  const reason = !entry.shown.reason
    ? '_shown to the requester, the approvers and the admins_'
    : request.reason.trim() === ''
      ? 'no reason given'
      : inertText(request.reason, REASON_MAX);
  return `${mention(grant.requesterId)} opened *${safeText(grant.resourceId, 64)}* ${whatPhrase(request, resource, entry.shown.address)} without approval at ${slackDate(grant.startsAt)}, ${when} · grant ${safeCode(grant.id, 80)}\nReason: ${reason}`;
}

/** Extend works only where the resource is known to be a security group, or unknown (the modal explains). */
export const canExtend = (grant: Grant, resources: readonly Resource[] | undefined): boolean =>
  findIn(resources, grant.resourceId)?.kind !== 'aws-role';
