import type { types } from '@slack/bolt';
import type { ApprovalCard, Notice } from '../../../app/notices';
import { formatDuration } from '../../../domain/duration';
import type { Grant } from '../../../domain/grant';
import { SYSTEM_ACTOR } from '../../../domain/request';
import { channelLink, inertText, mention, safeCode, safeText, slackDate } from '../escape';
import { BLOCK } from '../ids';
import { fallback, inTime, type SlackMessage, section } from './blocks';
import { actions, grantButtons } from './buttons';
import { accessPhrase, endWords, type MentionPrincipal, plainPrincipal, principalsText } from './describe';

/** Who reads the notice: the approval message's thread (the channel), or the requester in a DM ("you"). */
export type NoticeAudience = 'thread' | 'requester';

/** Options for `noticeMessage`. */
export type NoticeOptions = {
  /** How to address approvers in reminders and break-glass alerts; default: users mentioned, groups as plain `@handle`. */
  readonly mention?: MentionPrincipal | undefined;
  /** The current time, for "in 5m" in a warning; without it the warning gives only the end time. */
  readonly now?: Date | undefined;
};

const NOTE_MAX = 1000;
/** A break-glass reason, in the alert. */
const REASON_MAX = 1500;

/**
 * A notice as a message. Thread notices speak to the channel about the requester; requester
 * notices speak to "you". Every time carries its ISO-8601 UTC form; user text is escaped. The
 * requester's grant-started and grant-expiring messages carry Extend (left out for AWS roles,
 * whose sessions cannot be lengthened) and Done buttons valued with the grant id.
 */
export function noticeMessage(
  notice: Notice,
  audience: NoticeAudience,
  opts: NoticeOptions = {},
): SlackMessage {
  const { main, extra, buttonsFor } = words(notice, audience === 'requester', opts);
  const blocks: types.KnownBlock[] = [section(main)];
  if (extra !== undefined) blocks.push(section(extra));
  if (buttonsFor !== undefined) {
    const extend = notice.card.resource.kind === 'security-group';
    blocks.push(actions(BLOCK.grantActions, grantButtons(buttonsFor.id, { extend })));
  }
  return { text: fallback(main), blocks };
}

type Words = {
  main: string;
  extra?: string | undefined;
  /** The grant whose Extend / Done buttons follow the text. */
  buttonsFor?: Grant | undefined;
};

function words(notice: Notice, toRequester: boolean, opts: NoticeOptions): Words {
  const render = opts.mention ?? plainPrincipal;
  const { request, resource } = notice.card;
  const id = safeText(request.id, 80);
  const res = resource.id;
  const extension = request.kind === 'extension';
  const more = `${formatDuration(request.durationMs)} more on grant ${safeText(request.extendsGrantId ?? 'unknown', 80)}`;
  switch (notice.type) {
    case 'request-submitted': {
      if (request.breakGlass) {
        return toRequester
          ? {
              main: `Your break-glass request ${id} for ${res} opens without approval; access opens shortly. The approvers are alerted and will review it.`,
            }
          : {
              main: `${mention(request.requesterId)} used break-glass on ${res} (request ${id}): it opens without approval.`,
            };
      }
      if (isAutoApproved(notice.card)) {
        return toRequester
          ? { main: `Your request ${id} for ${res} was auto-approved; access opens shortly.` }
          : { main: `${mention(request.requesterId)}'s request ${id} for ${res} was auto-approved.` };
      }
      const deadline = `times out at ${slackDate(request.approvalDeadline)}`;
      if (toRequester) {
        const what = extension ? `for ${more} (${res})` : `for ${res}`;
        return {
          main: `Your request ${id} ${what} was sent to ${channelLink(resource.channel)} for approval; ${deadline}.`,
        };
      }
      const needed = `${resource.approvals} approval${resource.approvals === 1 ? '' : 's'} needed`;
      const asked = extension
        ? `asked for ${more} (${res})`
        : `asked for ${formatDuration(request.durationMs)} of access to ${res} ${accessPhrase(request, resource)}`;
      return { main: `${mention(request.requesterId)} ${asked}; ${needed}; ${deadline}.` };
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
    case 'request-cancelled': {
      const at = slackDate(request.decidedAt ?? request.approvalDeadline);
      const canceller = request.decidedBy ?? request.requesterId;
      if (toRequester) {
        const by = canceller === request.requesterId ? '' : ` by ${mention(canceller)}`;
        return { main: `Your request ${id} for ${res} was cancelled${by} at ${at}; nothing was opened.` };
      }
      return { main: `${mention(canceller)} cancelled request ${id} at ${at}.` };
    }
    case 'grant-started': {
      const { grant } = notice;
      const open = `is open until ${slackDate(grant.expiresAt)} (grant ${safeText(grant.id, 80)})`;
      const what = accessPhrase(request, resource);
      return toRequester
        ? {
            main: `Your access to ${res} ${what} ${open}. Press Done when you have finished, or end it with /access revoke ${safeText(grant.id, 80)}`,
            buttonsFor: grant,
          }
        : { main: `Access to ${res} for ${mention(request.requesterId)} ${what} ${open}.` };
    }
    case 'grant-ended': {
      const { grant } = notice;
      if (grant.endReason === 'failed') {
        // The rollback of a request that failed to open finished late: say what was left open is shut.
        const shut = `What failed request ${id} had already opened on ${res} was closed at ${slackDate(grant.endedAt ?? grant.expiresAt)} (grant ${safeText(grant.id, 80)}).`;
        return { main: shut };
      }
      const what = accessPhrase(request, resource);
      if (notice.neverOpened === true) {
        // Never announced open (its time ran out, or it was ended, while it was still opening): not told
        // as access that closed, and whatever it had started to open is shut.
        const ended = `ended at ${slackDate(grant.endedAt ?? grant.expiresAt)} (${endWords(grant)}) before it could open: nothing is open for it (grant ${safeText(grant.id, 80)})`;
        return toRequester
          ? { main: `Your access to ${res} ${what} ${ended}. Ask again with /access if you still need it.` }
          : { main: `Access to ${res} for ${mention(request.requesterId)} ${what} ${ended}.` };
      }
      const closed = `closed at ${slackDate(grant.endedAt ?? grant.expiresAt)} (${endWords(grant)}) (grant ${safeText(grant.id, 80)})`;
      return toRequester
        ? { main: `Your access to ${res} ${what} ${closed}.` }
        : { main: `Access to ${res} for ${mention(request.requesterId)} ${what} ${closed}.` };
    }
    case 'grant-expiring': {
      const { grant } = notice;
      const soon = opts.now === undefined ? '' : ` (${inTime(grant.expiresAt, opts.now)})`;
      const ends = `ends at ${slackDate(grant.expiresAt)}${soon}`;
      if (!toRequester) {
        return {
          main: `Access to ${res} for ${mention(request.requesterId)} ${ends} (grant ${safeText(grant.id, 80)}).`,
        };
      }
      const next =
        resource.kind === 'security-group'
          ? 'Extend asks the approvers for more time; Done closes it now.'
          : 'A role session cannot be lengthened: ask for a new grant if you need more time. Done closes it now.';
      return { main: `Your access to ${res} ${ends}. ${next}`, buttonsFor: grant };
    }
    case 'grant-extended': {
      const { grant, previousEnd } = notice;
      const moved = `was extended from ${slackDate(previousEnd)} to ${slackDate(grant.expiresAt)} (grant ${safeText(grant.id, 80)})`;
      return toRequester
        ? { main: `Your access to ${res} ${moved}.` }
        : { main: `Access to ${res} for ${mention(request.requesterId)} ${moved}.` };
    }
    case 'approval-reminder': {
      const deadline = `it times out at ${slackDate(request.approvalDeadline)}`;
      const what = extension ? `for ${more} (${res})` : `for ${res}`;
      if (toRequester) {
        return {
          main: `Your request ${id} ${what} is still waiting for approval; the approvers were reminded, and ${deadline}.`,
        };
      }
      const who = principalsText(notice.approvers, render);
      const lead = who === '' ? 'Reminder' : `Reminder for ${who}`;
      return {
        main: `${lead}: request ${id} from ${mention(request.requesterId)} ${what} is waiting; ${deadline}.`,
      };
    }
    case 'break-glass-opened': {
      const { grant } = notice;
      const what = accessPhrase(request, resource);
      const until = `until ${slackDate(grant.expiresAt)} (grant ${safeText(grant.id, 80)})`;
      const given = nonEmpty(request.reason);
      const reason = `Reason: ${given === undefined ? 'none given' : inertText(given, REASON_MAX)}`;
      if (toRequester) {
        return {
          main: `You opened ${res} ${what} without approval (break-glass), ${until}. The approvers were alerted and will review it.`,
          extra: reason,
        };
      }
      const who = principalsText(notice.approvers, render) || 'Approvers';
      return {
        main: `:rotating_light: Break-glass: ${mention(request.requesterId)} opened ${res} ${what} without approval, ${until}.`,
        extra: `${reason}\n${who}, please review it.`,
      };
    }
    case 'grant-reviewed': {
      const { grant } = notice;
      const by = mention(grant.reviewedBy ?? 'an approver');
      const at = grant.reviewedAt === undefined ? '' : ` at ${slackDate(grant.reviewedAt)}`;
      return toRequester
        ? { main: `${by} reviewed your break-glass access to ${res} (grant ${safeText(grant.id, 80)})${at}.` }
        : {
            main: `${by} reviewed the break-glass access of ${mention(request.requesterId)} to ${res} (grant ${safeText(grant.id, 80)})${at}.`,
          };
    }
    case 'grant-policy-changed': {
      const { grant } = notice;
      const what = notice.changes.map((c) => safeText(c, 300)).join('; ');
      const keeps = `Grant ${safeText(grant.id, 80)} keeps exactly what was approved and closes as planned at ${slackDate(grant.expiresAt)}, with the account and role that opened it.`;
      const whose = toRequester ? 'your access' : `the access of ${mention(request.requesterId)}`;
      return {
        main: `:information_source: The policy changed under ${whose} to ${res}: ${what}.`,
        extra: keeps,
      };
    }
    case 'connections-cut': {
      const { grant } = notice;
      const id = `grant ${safeText(grant.id, 80)}`;
      const where = notice.entries.map((e) => safeText(e, 80)).join(', ');
      const whose = toRequester ? 'your' : `${mention(request.requesterId)}'s`;
      switch (notice.phase) {
        case 'cut':
          return {
            main: `:scissors: Connections still open from ${whose} address to ${res} (${id}) were cut at its end: network ACL deny ${where}, in place until ${slackDate(notice.until ?? grant.expiresAt)}.`,
          };
        case 'refused':
          return {
            main: `:warning: Connections still open from ${whose} address to ${res} (${id}) could not be cut at its end: ${safeText(notice.why ?? 'the network ACL had no room', 300)}. The rule is closed, so no new connection opens; one already established goes on until EC2 stops tracking it.`,
          };
        case 'lifted':
          return {
            main: `The network ACL deny entries that cut ${whose} connections to ${res} (${id}) were removed as planned: ${where}.`,
          };
      }
      break;
    }
    case 'identity-changed': {
      const who = mention(notice.userId);
      const cause =
        notice.cause.kind === 'deactivated'
          ? `${who}'s Slack account was deactivated`
          : notice.cause.kind === 'account-changed'
            ? `${who}'s Slack account changed (a guest now, or another workspace's)`
            : `${who} left the user group @${safeText(notice.cause.group, 80)}`;
      const grantId = safeText(notice.card.grant?.id ?? 'unknown', 80);
      switch (notice.effect) {
        case 'grant-ended':
          return toRequester
            ? {
                main: `Your access to ${res} (grant ${grantId}) was ended: ${cause}, so you may no longer ask for it.`,
              }
            : {
                main: `:lock: ${cause}, so they may no longer ask for ${res}: grant ${grantId} is being ended.`,
              };
        case 'request-cancelled':
          return toRequester
            ? {
                main: `Your request ${id} for ${res} was cancelled: ${cause}, so you may no longer ask for it.`,
              }
            : {
                main: `:lock: ${cause}, so they may no longer ask for ${res}: request ${id} was cancelled; nothing was opened.`,
              };
        case 'vote-withdrawn': {
          const count = `${notice.card.approvals.length} of ${resource.approvals}`;
          const waits =
            request.state === 'pending' ? `; the request waits for another approver (${count})` : '';
          return toRequester
            ? { main: `An approval of your request ${id} for ${res} no longer counts: ${cause}${waits}.` }
            : {
                main: `:lock: ${cause}, so they no longer approve ${res}: their vote on request ${id} no longer counts${waits}.`,
              };
        }
      }
      break;
    }
    case 'grant-close-failing': {
      const { grant } = notice;
      const id = `grant ${safeText(grant.id, 80)}`;
      const why = `AWS says: ${safeCode(notice.error, 300)}`;
      const tries = `${notice.attempts} attempts`;
      return toRequester
        ? {
            main: `:warning: hallpass could not close your access to ${res} (${id}) after ${tries}; it keeps retrying until AWS confirms.`,
          }
        : {
            main: `:rotating_light: hallpass could not close ${id} (${res} for ${mention(request.requesterId)}, due ${slackDate(grant.expiresAt)}) after ${tries}${alsoFailed(notice.others)}. ${why}. It keeps retrying until AWS confirms; check hallpass's AWS permissions and the AWS console.`,
            extra: adminsLine(notice.admins ?? [], render),
          };
    }
  }
}

/** Who must hear that a close keeps failing, in the thread: the admins (groups are pinged). */
function adminsLine(admins: readonly string[], render: MentionPrincipal): string | undefined {
  const who = principalsText(admins, render);
  return who === '' ? undefined : `${who}: please check.`;
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
  return n === undefined ? undefined : `Reason: ${inertText(n, NOTE_MAX)}`;
}

const nonEmpty = (s: string | undefined): string | undefined =>
  s === undefined || s.trim() === '' ? undefined : s.trim();

/** ", nor N other grants closed with it in one call": a batch's failure, raised once for all. */
export const alsoFailed = (others: number | undefined): string =>
  others === undefined || others <= 0
    ? ''
    : `, nor ${others} other grant${others === 1 ? '' : 's'} closed with it in one call (each one's thread says so)`;
