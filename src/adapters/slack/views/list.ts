import type { types } from '@slack/bolt';
import { formatDuration } from '../../../domain/duration';
import type { Grant } from '../../../domain/grant';
import type { AccessRequest } from '../../../domain/request';
import { mention, safeCode, safeText, slackDate } from '../escape';
import { context, header, pack, type SlackMessage, section, timeLeft } from './blocks';
import { LIMITS } from './limits';

/** An active grant with the request it came from. */
export type ActiveItem = { readonly grant: Grant; readonly request: AccessRequest };

/** One line for a pending request: id, resource, requester, address, duration, deadline. */
export function pendingLine(r: AccessRequest, now: Date, withRequester = true): string {
  const parts = [safeCode(r.id, 80), `*${safeText(r.resourceId, 64)}*`];
  if (withRequester) parts.push(mention(r.requesterId));
  if (r.source !== undefined) parts.push(`from ${safeText(r.source.cidr, 60)}`);
  parts.push(formatDuration(r.durationMs));
  parts.push(`times out at ${slackDate(r.approvalDeadline)} (${timeLeft(r.approvalDeadline, now)})`);
  return parts.join(' · ');
}

/** One line for an active grant: id, resource, requester, address, end and time left. */
export function activeLine({ grant, request }: ActiveItem, now: Date, withRequester = true): string {
  const parts = [safeCode(grant.id, 80), `*${safeText(grant.resourceId, 64)}*`];
  if (withRequester) parts.push(mention(grant.requesterId));
  if (request.source !== undefined) parts.push(`from ${safeText(request.source.cidr, 60)}`);
  parts.push(`until ${slackDate(grant.expiresAt)} (${timeLeft(grant.expiresAt, now)})`);
  return parts.join(' · ');
}

/** Sections per list; with the header and two "and N more" lines the message stays within 50 blocks. */
const SECTIONS_PER_LIST = Math.floor((LIMITS.messageBlocks - 3) / 2);

/** The answer to `/access list`: what is pending and what is open, with ids to act on. */
export function listMessage(input: {
  pending: readonly AccessRequest[];
  active: readonly ActiveItem[];
  now: Date;
}): SlackMessage {
  const { pending, active, now } = input;
  if (pending.length === 0 && active.length === 0) {
    const sentence = 'Nothing is pending or active.';
    return { text: sentence, blocks: [section(sentence)] };
  }
  const blocks: types.KnownBlock[] = [header('Pending and active access')];
  addList(
    blocks,
    `*Pending* (${pending.length})`,
    pending.map((r) => pendingLine(r, now)),
  );
  addList(
    blocks,
    `*Active* (${active.length})`,
    active.map((a) => activeLine(a, now)),
  );
  return { text: `${pending.length} pending, ${active.length} active`, blocks };
}

function addList(blocks: types.KnownBlock[], title: string, lines: readonly string[]): void {
  if (lines.length === 0) {
    blocks.push(section(`${title}\nnone`));
    return;
  }
  const { chunks, dropped } = pack([title, ...lines], { maxChunks: SECTIONS_PER_LIST });
  blocks.push(...chunks.map((c) => section(c)));
  if (dropped > 0) blocks.push(context([`…and ${dropped} more.`]));
}
