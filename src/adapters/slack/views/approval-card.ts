import type { types } from '@slack/bolt';
import type { ApprovalCard } from '../../../app/ports';
import { formatDuration } from '../../../domain/duration';
import type { Grant } from '../../../domain/grant';
import { describePorts } from '../../../domain/policy';
import { type AccessRequest, SYSTEM_ACTOR } from '../../../domain/request';
import { isoUtc, mention, safeCode, safeText, slackDate } from '../escape';
import { ACTION, BLOCK } from '../ids';
import { context, fallback, fieldsSection, header, plain, type SlackMessage, section } from './blocks';
import { approvalsLine, mentionList, principalsText, resourceTitle, sourceText } from './describe';

/** Room left in the reason section after its `*Reason*` label; the reason is cut to fit. */
const REASON_MAX = 2900;
/** Deny reasons and failure notes are shown in full up to this length. */
const NOTE_MAX = 1000;

/**
 * The approval message in the resource's channel, for every state of the request and its grant.
 * Approve / Deny buttons appear only while the request is pending; their value is the request
 * id (the click is authorized from the policy, never from the value).
 */
export function approvalCardMessage(card: ApprovalCard, now: Date): SlackMessage {
  const { request, resource } = card;
  const blocks: types.KnownBlock[] = [
    header(`Access request: ${resource.id}`),
    section(
      `${mention(request.requesterId)} asks for *${formatDuration(request.durationMs)}* of access to ${resourceTitle(resource)}`,
    ),
    fieldsSection(detailFields(card)),
    section(`*Reason*\n${safeText(request.reason, REASON_MAX) || '_none given_'}`),
    context([approvalsLine(card.approvals, resource.approvals)]),
    section(statusText(card, now)),
  ];
  if (request.state === 'pending') blocks.push(approvalButtons(request.id));
  blocks.push(context([auditLine(card)]));
  return { text: fallback(fallbackText(card)), blocks };
}

function detailFields(card: ApprovalCard): string[] {
  const { request, resource } = card;
  const fields = [
    `*Duration*\n${formatDuration(request.durationMs)}`,
    `*Request*\n${safeCode(request.id, 80)}`,
  ];
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

/**
 * The state line(s): what happened, by whom, when — each time carrying its ISO-8601 UTC form.
 * No "time left": the message is rewritten only on state changes, so a countdown would go stale.
 */
function statusText(card: ApprovalCard, now: Date): string {
  const { request, resource } = card;
  const decidedAt = request.decidedAt ?? now;
  switch (request.state) {
    case 'pending': {
      const waiting = `Waiting for approval from ${principalsText(resource.approvers) || 'the approvers'}`;
      return `${waiting}\nTimes out at ${slackDate(request.approvalDeadline)}`;
    }
    case 'approved':
      return `${approvedLine(card, decidedAt)}\n${grantLine(card.grant, request)}`;
    case 'denied': {
      const reason = nonEmpty(request.note);
      const line = `Denied by ${mention(request.decidedBy ?? 'an approver')} at ${slackDate(decidedAt)}`;
      return reason === undefined ? line : `${line}\n*Why:* ${safeText(reason, NOTE_MAX)}`;
    }
    case 'timed_out':
      return `Timed out at ${slackDate(request.decidedAt ?? request.approvalDeadline)} — nobody approved in time`;
    case 'cancelled':
      return `Cancelled by ${mention(request.decidedBy ?? request.requesterId)} at ${slackDate(decidedAt)}`;
    case 'failed': {
      const note = nonEmpty(request.note) ?? 'hallpass could not open the access';
      return `Failed: ${safeText(note, NOTE_MAX)}\nat ${slackDate(decidedAt)}; nothing is open for this request`;
    }
  }
}

function approvedLine(card: ApprovalCard, at: Date): string {
  const { request, approvals } = card;
  if (approvals.length === 0 && (request.decidedBy === SYSTEM_ACTOR || card.resource.autoApprove)) {
    return `Auto-approved at ${slackDate(at)} (this resource needs no approval)`;
  }
  const by =
    approvals.length > 0
      ? mentionList(approvals.map((a) => a.approverId))
      : mention(request.decidedBy ?? 'an approver');
  return `Approved by ${by} at ${slackDate(at)}`;
}

function grantLine(grant: Grant | undefined, request: AccessRequest): string {
  if (grant === undefined || grant.state === 'opening') return 'Opening access…';
  const id = safeCode(grant.id, 80);
  switch (grant.state) {
    case 'active':
      return `Active until ${slackDate(grant.expiresAt)} — grant ${id}`;
    case 'closing':
      return `Closing access (planned end ${slackDate(grant.expiresAt)}) — grant ${id}`;
    case 'closed': {
      const reason = grant.endReason ?? 'expired';
      const by =
        grant.endedBy !== undefined && grant.endedBy !== SYSTEM_ACTOR && reason !== 'expired'
          ? ` by ${mention(grant.endedBy)}`
          : '';
      return `Ended at ${slackDate(grant.endedAt ?? grant.expiresAt)} (${reason})${by} — grant ${id}`;
    }
    case 'failed': {
      const note = nonEmpty(request.note) ?? 'AWS refused or did not answer';
      return `Failed: could not open access — ${safeText(note, NOTE_MAX)} — grant ${id}`;
    }
  }
}

/** Always-visible exact UTC times and ids, for whoever audits the channel later. */
function auditLine(card: ApprovalCard): string {
  const { request, grant } = card;
  const parts = [`${safeText(request.id, 80)}`, `requested ${isoUtc(request.createdAt)}`];
  if (request.state === 'pending') parts.push(`times out ${isoUtc(request.approvalDeadline)}`);
  if (request.decidedAt !== undefined)
    parts.push(`${request.state.replace('_', ' ')} ${isoUtc(request.decidedAt)}`);
  if (grant !== undefined) {
    parts.push(safeText(grant.id, 80));
    if (grant.state === 'closed' && grant.endedAt !== undefined) parts.push(`ended ${isoUtc(grant.endedAt)}`);
    else parts.push(`until ${isoUtc(grant.expiresAt)}`);
  }
  return parts.join(' · ');
}

function fallbackText(card: ApprovalCard): string {
  const { request, resource, grant } = card;
  const who = `${mention(request.requesterId)} asks for ${formatDuration(request.durationMs)} of access to ${resource.id}`;
  return `${who}: ${stateWord(request.state, grant)} (${safeText(request.id, 80)})`;
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
