import type { types } from '@slack/bolt';
import type { ApprovalCard, Notice } from '../../../app/ports';
import { formatDuration } from '../../../domain/duration';
import type { Grant } from '../../../domain/grant';
import { SYSTEM_ACTOR } from '../../../domain/request';
import { channelLink, mention, safeText, slackDate } from '../escape';
import { fallback, type SlackMessage, section } from './blocks';
import { accessPhrase } from './describe';

/** Who reads the notice: the approval message's thread (the channel), or the requester in a DM ("you"). */
export type NoticeAudience = 'thread' | 'requester';

const NOTE_MAX = 1000;

/**
 * A notice as a message. Thread notices speak to the channel about the requester; requester
 * notices speak to "you". Every time carries its ISO-8601 UTC form; user text is escaped.
 */
export function noticeMessage(notice: Notice, audience: NoticeAudience): SlackMessage {
  const { main, extra } = words(notice, audience === 'requester');
  const blocks: types.KnownBlock[] = [section(main)];
  if (extra !== undefined) blocks.push(section(extra));
  return { text: fallback(main), blocks };
}

type Words = { main: string; extra?: string | undefined };

function words(notice: Notice, toRequester: boolean): Words {
  const { request, resource } = notice.card;
  const id = safeText(request.id, 80);
  const res = resource.id;
  switch (notice.type) {
    case 'request-submitted': {
      if (isAutoApproved(notice.card)) {
        return toRequester
          ? { main: `Your request ${id} for ${res} was auto-approved; access opens shortly.` }
          : { main: `${mention(request.requesterId)}'s request ${id} for ${res} was auto-approved.` };
      }
      const deadline = `times out at ${slackDate(request.approvalDeadline)}`;
      if (toRequester) {
        return {
          main: `Your request ${id} for ${res} was sent to ${channelLink(resource.channel)} for approval; ${deadline}.`,
        };
      }
      const needed = `${resource.approvals} approval${resource.approvals === 1 ? '' : 's'} needed`;
      return {
        main: `${mention(request.requesterId)} asked for ${formatDuration(request.durationMs)} of access to ${res} ${accessPhrase(request, resource)}; ${needed}; ${deadline}.`,
      };
    }
    case 'approval-recorded': {
      const count = `(${notice.card.approvals.length} of ${resource.approvals})`;
      return toRequester
        ? { main: `${mention(notice.approverId)} approved your request ${id} for ${res} ${count}.` }
        : { main: `${mention(notice.approverId)} approved ${count}.` };
    }
    case 'request-denied': {
      const by = mention(request.decidedBy ?? 'an approver');
      const at = slackDate(request.decidedAt ?? request.approvalDeadline);
      const extra = reasonText(request.note);
      return toRequester
        ? { main: `Your request ${id} for ${res} was denied by ${by} at ${at}.`, extra }
        : { main: `${by} denied request ${id} at ${at}.`, extra };
    }
    case 'request-timed-out': {
      const at = slackDate(request.decidedAt ?? request.approvalDeadline);
      return toRequester
        ? {
            main: `Your request ${id} for ${res} timed out at ${at} — nobody approved it in time. You can ask again with /access.`,
          }
        : { main: `Request ${id} timed out at ${at} — nobody approved it in time.` };
    }
    case 'request-failed': {
      const note = safeText(nonEmpty(request.note) ?? 'hallpass could not open the access', NOTE_MAX);
      return toRequester
        ? { main: `Your request ${id} for ${res} failed: ${note}` }
        : { main: `Request ${id} for ${res} failed: ${note}` };
    }
    case 'grant-started': {
      const { grant } = notice;
      const open = `is open until ${slackDate(grant.expiresAt)} (grant ${safeText(grant.id, 80)})`;
      const what = accessPhrase(request, resource);
      return toRequester
        ? {
            main: `Your access to ${res} ${what} ${open}. To end it early: /access revoke ${safeText(grant.id, 80)}`,
          }
        : { main: `Access to ${res} for ${mention(request.requesterId)} ${what} ${open}.` };
    }
    case 'grant-ended': {
      const { grant } = notice;
      const closed = `closed at ${slackDate(grant.endedAt ?? grant.expiresAt)} ${endPhrase(grant)}`;
      const what = accessPhrase(request, resource);
      return toRequester
        ? { main: `Your access to ${res} ${what} ${closed}.` }
        : { main: `Access to ${res} for ${mention(request.requesterId)} ${what} ${closed}.` };
    }
  }
}

/** `(expired)`, `(revoked) by <@U…>`, `(done)`; the grant id follows. */
function endPhrase(grant: Grant): string {
  const reason = grant.endReason ?? 'expired';
  const by =
    grant.endedBy !== undefined && grant.endedBy !== SYSTEM_ACTOR && reason !== 'expired'
      ? ` by ${mention(grant.endedBy)}`
      : '';
  return `(${reason})${by} (grant ${safeText(grant.id, 80)})`;
}

function isAutoApproved(card: ApprovalCard): boolean {
  return (
    card.request.state === 'approved' &&
    card.approvals.length === 0 &&
    (card.request.decidedBy === SYSTEM_ACTOR || card.resource.autoApprove)
  );
}

function reasonText(note: string | undefined): string | undefined {
  const n = nonEmpty(note);
  return n === undefined ? undefined : `Reason: ${safeText(n, NOTE_MAX)}`;
}

const nonEmpty = (s: string | undefined): string | undefined =>
  s === undefined || s.trim() === '' ? undefined : s.trim();
