import type { types } from '@slack/bolt';
import { escapeMrkdwn, mention, slackDate } from '../escape';
import { ACTION, ITEM_BLOCK, itemBlockId } from '../ids';
import { capList, context, divider, header, pack, section } from './blocks';
import { actions, button, grantButtons } from './buttons';
import {
  canExtend,
  cardText,
  type DashboardInput,
  everyoneLine,
  myGrantText,
  myRequestText,
  uniqueBy,
  unreviewedText,
} from './entries';

/** What the Home tab is built from: the dashboard, and whether the viewer may review break-glass grants. */
export type HomeInput = DashboardInput & { readonly canReview: boolean };

/**
 * Items shown per list on the Home tab; the rest are counted ("and N more"). With two blocks per
 * item (text and buttons) the whole tab stays within Slack's 100 blocks:
 * 4 (intro) + 3 × (1 + 2·10 + 1) + (1 + 3 + 1) + (1 + 2·8 + 1) + 4 dividers + 1 footer = 98.
 */
export const HOME_LIMITS = {
  mine: 10,
  minePending: 10,
  awaitingMe: 10,
  /** Sections the workspace-wide list is packed into (many lines each). */
  everyoneSections: 3,
  unreviewed: 8,
} as const;

const HOW_TO = [
  '`/access` — open the request form',
  '`/access <resource> [<duration>] [from <ip|cidr>] <reason…>` — ask directly, e.g. `/access prod-db 30m from 203.0.113.7 debugging slow queries`',
  '`/access extend <grant-id> <duration>` · `/access cancel <request-id>` · `/access revoke <grant-id>`',
  '`/access list` — all of this as a message, with ids · `/access help` — everything else',
].join('\n');

/**
 * The App Home dashboard. Every item with buttons gets its own actions block with a distinct
 * `block_id` (`my_grant:grt_…`), so the buttons keep the plain `ACTION` ids listeners match on.
 * Buttons: Extend / Done on the viewer's active grants, Cancel on their pending requests,
 * Approve / Deny on requests awaiting them, Review on unreviewed break-glass grants (only when
 * `canReview`). Each click is authorized again from the policy.
 */
export function homeView(input: HomeInput): types.HomeView {
  const { userId, now } = input;
  const blocks: types.KnownBlock[] = [
    header('hallpass'),
    section(
      `Hi ${mention(userId)}. hallpass gives you temporary access to production: you ask, an approver says yes in the resource's channel, and the access closes by itself when your time is up.`,
    ),
    section(escapeMrkdwn(HOW_TO)),
    divider(),
  ];

  const mine = uniqueBy(input.mine, (e) => e.grant.id);
  addItems(blocks, '*Your access*', mine, HOME_LIMITS.mine, 'Nothing open right now.', (e) => {
    const text = section(myGrantText(e, input));
    if (e.grant.state !== 'active') return [text];
    const buttons = grantButtons(e.grant.id, { extend: canExtend(e.grant, input.resources) });
    return [text, actions(itemBlockId(ITEM_BLOCK.myGrant, e.grant.id), buttons)];
  });
  blocks.push(divider());

  const pending = uniqueBy(input.minePending, (r) => r.id);
  addItems(blocks, '*Your pending requests*', pending, HOME_LIMITS.minePending, 'Nothing pending.', (r) => [
    section(myRequestText(r, now)),
    actions(itemBlockId(ITEM_BLOCK.myRequest, r.id), [button(ACTION.cancelRequest, 'Cancel', r.id)]),
  ]);
  blocks.push(divider());

  const awaiting = uniqueBy(input.awaitingMe, (c) => c.request.id);
  addItems(
    blocks,
    '*Waiting for your approval*',
    awaiting,
    HOME_LIMITS.awaitingMe,
    'Nothing waits for you.',
    (c) => [
      section(cardText(c, now)),
      actions(itemBlockId(ITEM_BLOCK.toApprove, c.request.id), [
        button(ACTION.approveRequest, 'Approve', c.request.id, 'primary'),
        button(ACTION.denyRequest, 'Deny', c.request.id, 'danger'),
      ]),
    ],
  );
  blocks.push(divider());

  const everyone = uniqueBy(input.everyone, (e) => e.grant.id);
  blocks.push(section(`*Active across the workspace* (${everyone.length})`));
  if (everyone.length === 0) blocks.push(context(['Nothing is open anywhere.']));
  else {
    const { chunks, dropped } = pack(
      everyone.map((e) => everyoneLine(e, input, false)),
      { maxChunks: HOME_LIMITS.everyoneSections },
    );
    blocks.push(...chunks.map((c) => section(c)));
    if (dropped > 0) blocks.push(context([moreText(dropped)]));
  }
  blocks.push(divider());

  const unreviewed = uniqueBy(input.unreviewed, (e) => e.grant.id);
  addItems(
    blocks,
    '*Break-glass grants to review*',
    unreviewed,
    HOME_LIMITS.unreviewed,
    'None: every break-glass grant has been reviewed.',
    (e) => {
      const text = section(unreviewedText(e, input));
      if (!input.canReview) return [text];
      return [
        text,
        actions(itemBlockId(ITEM_BLOCK.toReview, e.grant.id), [
          button(ACTION.reviewGrant, 'Review', e.grant.id),
        ]),
      ];
    },
  );

  blocks.push(context([`Updated ${slackDate(now)}`]));
  return { type: 'home', blocks };
}

/** A titled list: title with count, then up to `max` items (one or two blocks each), then "and N more" or the empty line. */
function addItems<T>(
  blocks: types.KnownBlock[],
  title: string,
  items: readonly T[],
  max: number,
  empty: string,
  render: (item: T) => types.KnownBlock[],
): void {
  blocks.push(section(`${title} (${items.length})`));
  if (items.length === 0) {
    blocks.push(context([empty]));
    return;
  }
  const { shown, more } = capList(items, max);
  for (const item of shown) blocks.push(...render(item));
  if (more > 0) blocks.push(context([moreText(more)]));
}

const moreText = (n: number): string => `…and ${n} more; \`/access list\` shows more of them, with ids.`;
