import type { types } from '@slack/bolt';
import type { AccessRequest } from '../../../domain/request';
import { escapeMrkdwn, mention, slackDate } from '../escape';
import { capList, context, divider, header, section } from './blocks';
import { type ActiveItem, activeLine, pendingLine } from './list';

/** Items shown per list on the Home tab; the rest are counted ("and N more"). Keeps the tab far below 100 blocks. */
export const HOME_ITEMS_PER_LIST = 20;

/**
 * The App Home tab: how to use hallpass, then the user's own pending requests and active grants
 * (items of other users in the input are left out). One section per item, capped, so the view
 * stays within Slack's 100 blocks however much is open.
 */
export function homeView(input: {
  userId: string;
  pending: readonly AccessRequest[];
  active: readonly ActiveItem[];
  now: Date;
}): types.HomeView {
  const { userId, now } = input;
  const pending = input.pending.filter((r) => r.requesterId === userId);
  const active = input.active.filter((a) => a.grant.requesterId === userId);
  const blocks: types.KnownBlock[] = [
    header('hallpass'),
    section(
      `Hi ${mention(userId)}. hallpass gives you temporary access to production: you ask, an approver says yes in the resource's channel, and the access closes by itself when your time is up.`,
    ),
    section(
      escapeMrkdwn(
        [
          '`/access` — open the request form',
          '`/access <resource> [<duration>] [from <ip|cidr>] <reason…>` — ask directly, e.g. `/access prod-db 30m from 203.0.113.7 debugging slow queries`',
          '`/access resources` — what you may ask for',
          '`/access list` — what is pending or active',
          '`/access revoke <grant-id>` — end your access early',
          '`/access help` — everything else',
        ].join('\n'),
      ),
    ),
    divider(),
  ];
  addList(
    blocks,
    '*Your pending requests*',
    pending.map((r) => pendingLine(r, now, false)),
    'Nothing pending.',
  );
  addList(
    blocks,
    '*Your active access*',
    active.map((a) => activeLine(a, now, false)),
    'Nothing open right now.',
  );
  blocks.push(context([`Updated ${slackDate(now)}`]));
  return { type: 'home', blocks };
}

function addList(blocks: types.KnownBlock[], title: string, lines: readonly string[], empty: string): void {
  blocks.push(section(`${title} (${lines.length})`));
  if (lines.length === 0) {
    blocks.push(context([empty]));
    return;
  }
  const { shown, more } = capList(lines, HOME_ITEMS_PER_LIST);
  blocks.push(...shown.map((line) => section(line)));
  if (more > 0) blocks.push(context([`…and ${more} more; \`/access list\` shows them all.`]));
}
