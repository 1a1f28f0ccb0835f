import type { types } from '@slack/bolt';
import { escapeMrkdwn } from '../escape';
import { context, header, pack, type SlackMessage, section } from './blocks';
import {
  cardText,
  type DashboardInput,
  everyoneLine,
  myGrantText,
  myRequestText,
  uniqueBy,
  unreviewedText,
} from './entries';
import { LIMITS } from './limits';

/** Lists in the message, in order. */
const LISTS = 5;
/**
 * Sections per list: with the header, one "and N more" per list and the footer, the message stays
 * within 50 blocks: 1 + 5 × (8 + 1) + 1 = 47.
 */
export const LIST_SECTIONS_PER_LIST = Math.floor((LIMITS.messageBlocks - 2) / LISTS) - 1;

/**
 * The answer to `/access list`: the same content as the Home tab, as text with the ids to type
 * (`/access extend grt_…`, `/access cancel req_…`). No buttons.
 */
export function listMessage(input: DashboardInput): SlackMessage {
  const mine = uniqueBy(input.mine, (e) => e.grant.id);
  const minePending = uniqueBy(input.minePending, (r) => r.id);
  const awaitingMe = uniqueBy(input.awaitingMe, (c) => c.request.id);
  const everyone = uniqueBy(input.everyone, (e) => e.grant.id);
  const unreviewed = uniqueBy(input.unreviewed, (e) => e.grant.id);
  const total = mine.length + minePending.length + awaitingMe.length + everyone.length + unreviewed.length;
  if (total === 0) {
    const sentence = 'Nothing is pending or active.';
    return { text: sentence, blocks: [section(sentence)] };
  }
  const blocks: types.KnownBlock[] = [header('Pending and active access')];
  addList(
    blocks,
    `*Your access* (${mine.length})`,
    mine.map((e) => myGrantText(e, input)),
  );
  addList(
    blocks,
    `*Your pending requests* (${minePending.length})`,
    minePending.map((r) => myRequestText(r, input.now)),
  );
  addList(
    blocks,
    `*Waiting for your approval* (${awaitingMe.length})`,
    awaitingMe.map((c) => cardText(c, input.now)),
  );
  addList(
    blocks,
    `*Active across the workspace* (${everyone.length})`,
    everyone.map((e) => everyoneLine(e, input, true)),
  );
  addList(
    blocks,
    `*Break-glass grants to review* (${unreviewed.length})`,
    unreviewed.map((e) => unreviewedText(e, input)),
  );
  blocks.push(
    context([
      escapeMrkdwn(
        'More time: `/access extend <grant-id> <duration>` · end now: `/access revoke <grant-id>` · withdraw: `/access cancel <request-id>` · the Home tab has buttons for all of it.',
      ),
    ]),
  );
  const text = `${mine.length} yours active, ${minePending.length} yours pending, ${awaitingMe.length} waiting for you, ${everyone.length} active in all, ${unreviewed.length} to review`;
  return { text, blocks };
}

function addList(blocks: types.KnownBlock[], title: string, entries: readonly string[]): void {
  if (entries.length === 0) {
    blocks.push(section(`${title}\nnone`));
    return;
  }
  // Multi-line entries read as separate items only with a blank line between them.
  const { chunks, dropped } = pack([title, ...entries], {
    maxChunks: LIST_SECTIONS_PER_LIST,
    separator: '\n\n',
  });
  blocks.push(...chunks.map((c) => section(c)));
  if (dropped > 0) blocks.push(context([`…and ${dropped} more.`]));
}
