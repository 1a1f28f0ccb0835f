import type { types } from '@slack/bolt';
import type { ApprovalCard } from '../../../app/notices';
import { formatDuration } from '../../../domain/duration';
import type { Grant } from '../../../domain/grant';
import { describePorts } from '../../../domain/policy';
import { type AccessRequest, SYSTEM_ACTOR } from '../../../domain/request';
import { LEASE_ACTOR } from '../../../domain/token';
import { inertText, isoUtc, mention, safeCode, safeText, slackDate } from '../escape';
import { ACTION, BLOCK } from '../ids';
import {
  context,
  fallback,
  fieldsSection,
  header,
  plain,
  quoteBlock,
  type SlackMessage,
  section,
} from './blocks';
import {
  approvalsLine,
  endWords,
  mentionList,
  plainPrincipal,
  principalsText,
  resourceTitle,
  sourceText,
  type ViewOptions,
} from './describe';

/** Deny reasons and failure notes are shown in full up to this length. */
const NOTE_MAX = 1000;

/**
 * The approval message in the resource's channel, for every state of the request and its grant.
 * Approve / Deny appear only while the request is pending; Review only while a break-glass grant
 * is unreviewed (whatever its state: a review is owed even after it ended). Button values are
 * ids; every click is authorized from the policy, never from the value. An `extension` request
 * shows the grant it lengthens (`card.extends`); every grant line shows the grant's *current*
 * `expiresAt`, so an approved extension reads right. `opts.mention` addresses the approvers.
 */
export function approvalCardMessage(card: ApprovalCard, now: Date, opts: ViewOptions = {}): SlackMessage {
  const render = opts.mention ?? plainPrincipal;
  const { request, resource } = card;
  const grant = targetGrant(card);
  const breakGlass = isBreakGlass(card);
  const blocks: types.KnownBlock[] = [
    header(`${headline(card)}: ${resource.id}`),
    section(introText(card)),
    fieldsSection(detailFields(card)),
    request.reason.trim() === '' ? context(['_No reason given_']) : quoteBlock('Reason', request.reason),
    context([
      breakGlass
        ? 'No approval was asked (break-glass); an approver reviews it afterwards'
        : approvalsLine(card.approvals, resource.approvals),
    ]),
    section(statusText(card, now, render)),
  ];
  if (request.state === 'pending') blocks.push(approvalButtons(request.id));
  const opened = card.grant;
  if (opened?.breakGlass === true) {
    const reviewed = reviewedText(opened);
    if (reviewed === undefined) {
      const approvers = principalsText(resource.approvers, render) || 'Approvers';
      blocks.push(section(`${approvers}: please review this break-glass access.`));
      blocks.push(reviewButton(opened.id));
    } else {
      blocks.push(section(reviewed));
    }
  }
  blocks.push(context([auditLine(card, grant)]));
  return { text: fallback(fallbackText(card)), blocks };
}

const isExtension = (card: ApprovalCard): boolean => card.request.kind === 'extension';

const isBreakGlass = (card: ApprovalCard): boolean =>
  card.request.breakGlass || card.grant?.breakGlass === true;

/** The grant the card is about: the one it lengthens for an extension, else the one it opened. */
const targetGrant = (card: ApprovalCard): Grant | undefined =>
  isExtension(card) ? card.extends : card.grant;

function headline(card: ApprovalCard): string {
  if (isExtension(card)) return 'Extension request';
  if (isBreakGlass(card)) return 'Break-glass access';
  return 'Access request';
}

/**
 * Who asked, as the card reads it: a person's mention, or for the HTTP API "automation <name> (owner
 * <@admin>)" and "agent <agent> via automation <name> (owner <@admin>), for <whom>".
 */
export function requesterWords(card: Pick<ApprovalCard, 'request' | 'automation'>): string {
  const a = card.automation;
  if (a === undefined) return mention(card.request.requesterId);
  const automation = `automation ${safeCode(a.tokenName, 60)} (owner ${mention(a.ownerId)})`;
  if (a.agentName === undefined) return automation;
  const forWhom = a.onBehalfOf === undefined ? '' : `, for ${safeText(a.onBehalfOf, 120)}`;
  return `agent ${safeCode(a.agentName, 80)} via ${automation}${forWhom}`;
}

function introText(card: ApprovalCard): string {
  const { request, resource } = card;
  const who = requesterWords(card);
  const duration = formatDuration(request.durationMs);
  if (isExtension(card)) {
    const grantId = safeCode(card.extends?.id ?? request.extendsGrantId ?? 'unknown', 80);
    const asks = request.state === 'pending' ? 'asks' : 'asked';
    return `${who} ${asks} for *${duration}* more on grant ${grantId} for ${resourceTitle(resource)}${extensionWindow(card)}`;
  }
  if (isBreakGlass(card)) {
    return `${who} opened *${duration}* of access to ${resourceTitle(resource)} at once, without approval (break-glass)`;
  }
  return `${who} asks for *${duration}* of access to ${resourceTitle(resource)}`;
}

/** ` (now until T1; would end at T2)` while an extension is pending on a live grant. */
function extensionWindow(card: ApprovalCard): string {
  const grant = card.extends;
  if (card.request.state !== 'pending' || grant === undefined) return '';
  if (grant.state === 'closed' || grant.state === 'failed') {
    return ` (the grant already ended at ${slackDate(grant.endedAt ?? grant.expiresAt)})`;
  }
  const wouldEnd = new Date(grant.expiresAt.getTime() + card.request.durationMs);
  return ` (now until ${slackDate(grant.expiresAt)}; would end at ${slackDate(wouldEnd)})`;
}

function detailFields(card: ApprovalCard): string[] {
  const { request, resource } = card;
  const fields = [
    `*${isExtension(card) ? 'More time' : 'Duration'}*\n${formatDuration(request.durationMs)}`,
    `*Request*\n${safeCode(request.id, 80)}`,
  ];
  const grantId = isExtension(card) ? (card.extends?.id ?? request.extendsGrantId) : undefined;
  if (grantId !== undefined) fields.push(`*Grant*\n${safeCode(grantId, 80)}`);
  if (resource.kind === 'security-group') {
    fields.push(`*From*\n${request.source === undefined ? '_no address_' : sourceText(request)}`);
    fields.push(`*Ports*\n${safeText(describePorts(resource), 500)}`);
  } else {
    fields.push(`*Role*\n${safeCode(resource.roleArn, 1900)}`);
  }
  fields.push(`*Region*\n${safeText(resource.region, 100)}`);
  return fields;
}

function approvalButtons(requestId: string): types.ActionsBlock {
  return {
    type: 'actions',
    block_id: BLOCK.approvalActions,
    elements: [
      {
        type: 'button',
        action_id: ACTION.approveRequest,
        text: plain('Approve', 75),
        style: 'primary',
        value: requestId,
      },
      {
        type: 'button',
        action_id: ACTION.denyRequest,
        text: plain('Deny', 75),
        style: 'danger',
        value: requestId,
      },
    ],
  };
}

function reviewButton(grantId: string): types.ActionsBlock {
  return {
    type: 'actions',
    block_id: BLOCK.reviewActions,
    elements: [{ type: 'button', action_id: ACTION.reviewGrant, text: plain('Review', 75), value: grantId }],
  };
}

/** `Reviewed by <@U> at T`, or `undefined` while the review is owed. */
function reviewedText(grant: Grant): string | undefined {
  if (grant.reviewedAt === undefined) return undefined;
  return `Reviewed by ${mention(grant.reviewedBy ?? 'an approver')} at ${slackDate(grant.reviewedAt)}`;
}

/**
 * The state line(s): what happened, by whom, when — each time carrying its ISO-8601 UTC form.
 * No "time left": the message is rewritten only on state changes, so a countdown would go stale.
 */
function statusText(card: ApprovalCard, now: Date, render: (p: string) => string): string {
  const { request, resource } = card;
  const decidedAt = request.decidedAt ?? now;
  switch (request.state) {
    case 'pending': {
      const waiting = `Waiting for approval from ${principalsText(resource.approvers, render) || 'the approvers'}`;
      return `${waiting}\nTimes out at ${slackDate(request.approvalDeadline)}`;
    }
    case 'approved':
      return `${approvedLine(card, decidedAt)}\n${grantLine(card, request)}`;
    case 'denied': {
      const reason = nonEmpty(request.note);
      const line = `Denied by ${mention(request.decidedBy ?? 'an approver')} at ${slackDate(decidedAt)}`;
      return reason === undefined ? line : `${line}\nWhy: ${inertText(reason, NOTE_MAX)}`;
    }
    case 'timed_out':
      return `Timed out at ${slackDate(request.decidedAt ?? request.approvalDeadline)} — nobody approved in time`;
    case 'cancelled': {
      const line = `Cancelled by ${mention(request.decidedBy ?? request.requesterId)} at ${slackDate(decidedAt)}`;
      // A cancellation by hallpass itself (a lapsed lease) says why.
      const why = request.decidedBy === LEASE_ACTOR ? nonEmpty(request.note) : undefined;
      return why === undefined ? line : `${line}\nWhy: ${inertText(why, NOTE_MAX)}`;
    }
    case 'failed': {
      const note = nonEmpty(request.note) ?? 'hallpass could not open the access';
      const tail = isExtension(card) ? 'the grant keeps its end' : 'nothing is open for this request';
      return `Failed: ${safeText(note, NOTE_MAX)}\nat ${slackDate(decidedAt)}; ${tail}`;
    }
  }
}

function approvedLine(card: ApprovalCard, at: Date): string {
  const { request, approvals } = card;
  if (isBreakGlass(card)) {
    return `Opened without approval (break-glass) by ${mention(request.requesterId)} at ${slackDate(at)}`;
  }
  if (approvals.length === 0 && (request.decidedBy === SYSTEM_ACTOR || card.resource.autoApprove)) {
    return `Auto-approved at ${slackDate(at)} (this resource needs no approval)`;
  }
  const by =
    approvals.length > 0
      ? mentionList(approvals.map((a) => a.approverId))
      : mention(request.decidedBy ?? 'an approver');
  return `Approved by ${by} at ${slackDate(at)}`;
}

/** The grant's current state, with its current `expiresAt` (an approved extension moves it). */
function grantLine(card: ApprovalCard, request: AccessRequest): string {
  const grant = targetGrant(card);
  if (grant === undefined) {
    return isExtension(card)
      ? `Extending grant ${safeCode(request.extendsGrantId ?? 'unknown', 80)}…`
      : 'Opening access…';
  }
  const id = safeCode(grant.id, 80);
  switch (grant.state) {
    case 'opening':
      return 'Opening access…';
    case 'active':
      return `Active until ${slackDate(grant.expiresAt)} — grant ${id}`;
    case 'closing':
      return `Closing access (planned end ${slackDate(grant.expiresAt)}) — grant ${id}`;
    case 'closed':
      return `Ended at ${slackDate(grant.endedAt ?? grant.expiresAt)} (${endWords(grant)}) — grant ${id}`;
    case 'failed': {
      const note = nonEmpty(request.note) ?? 'AWS refused or did not answer';
      return `Failed: could not open access — ${safeText(note, NOTE_MAX)} — grant ${id}`;
    }
  }
}

/** Always-visible exact UTC times and ids, for whoever audits the channel later. */
function auditLine(card: ApprovalCard, grant: Grant | undefined): string {
  const { request } = card;
  const parts = [`${safeText(request.id, 80)}`, `requested ${isoUtc(request.createdAt)}`];
  if (request.state === 'pending') parts.push(`times out ${isoUtc(request.approvalDeadline)}`);
  if (request.decidedAt !== undefined)
    parts.push(`${request.state.replace('_', ' ')} ${isoUtc(request.decidedAt)}`);
  if (grant === undefined && isExtension(card) && request.extendsGrantId !== undefined) {
    parts.push(`extends ${safeText(request.extendsGrantId, 80)}`);
  }
  if (grant !== undefined) {
    parts.push(isExtension(card) ? `extends ${safeText(grant.id, 80)}` : safeText(grant.id, 80));
    if (grant.state === 'closed' && grant.endedAt !== undefined) parts.push(`ended ${isoUtc(grant.endedAt)}`);
    else parts.push(`until ${isoUtc(grant.expiresAt)}`);
    if (grant.reviewedAt !== undefined) parts.push(`reviewed ${isoUtc(grant.reviewedAt)}`);
  }
  return parts.join(' · ');
}

function fallbackText(card: ApprovalCard): string {
  const { request, resource } = card;
  const who = requesterWords(card);
  const duration = formatDuration(request.durationMs);
  const grant = targetGrant(card);
  if (isExtension(card)) {
    const grantId = safeText(card.extends?.id ?? request.extendsGrantId ?? 'unknown', 80);
    return `${who} asks for ${duration} more on grant ${grantId} (${resource.id}): ${stateWord(request.state, grant)} (${safeText(request.id, 80)})`;
  }
  if (isBreakGlass(card)) {
    const review = card.grant?.reviewedAt === undefined ? 'review owed' : 'reviewed';
    return `${who} opened ${resource.id} for ${duration} without approval (break-glass): ${stateWord(request.state, grant)}, ${review} (${safeText(request.id, 80)})`;
  }
  return `${who} asks for ${duration} of access to ${resource.id}: ${stateWord(request.state, grant)} (${safeText(request.id, 80)})`;
}

function stateWord(state: AccessRequest['state'], grant: Grant | undefined): string {
  switch (state) {
    case 'pending':
      return 'waiting for approval';
    case 'approved':
      if (grant?.state === 'active') return 'approved, access is open';
      if (grant?.state === 'closed') return 'approved, access has ended';
      return 'approved';
    case 'denied':
      return 'denied';
    case 'timed_out':
      return 'timed out';
    case 'cancelled':
      return 'cancelled';
    case 'failed':
      return 'failed';
  }
}

const nonEmpty = (s: string | undefined): string | undefined =>
  s === undefined || s.trim() === '' ? undefined : s.trim();
