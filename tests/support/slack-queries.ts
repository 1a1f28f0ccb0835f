import { ACTION } from '../../src/adapters/slack/ids';
import { CHANNEL, type Harness } from './harness';
import type { SlackCall, SlackStandIn } from './slack-stand-in';

/** Every string found in a call's text and blocks, joined: what a reader could see. */
export function allText(call: SlackCall | undefined): string {
  if (call === undefined) return '';
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(call.args['text']);
  walk(call.args['blocks']);
  walk(call.args['view']);
  return out.join('\n');
}

/** Approval messages: top-level posts in the resource channel. */
export const approvalPosts = (slack: SlackStandIn, channel = CHANNEL): SlackCall[] =>
  slack
    .callsTo('chat.postMessage')
    .filter((c) => c.args['channel'] === channel && c.args['thread_ts'] === undefined);

/** Replies in the approval message's thread. */
export const threadPosts = (slack: SlackStandIn, channel = CHANNEL): SlackCall[] =>
  slack
    .callsTo('chat.postMessage')
    .filter((c) => c.args['channel'] === channel && c.args['thread_ts'] !== undefined);

/** Direct messages: posts addressed to a user id. */
export const dmsTo = (slack: SlackStandIn, user: string): SlackCall[] =>
  slack.callsTo('chat.postMessage').filter((c) => c.args['channel'] === user);

/** What only one user sees: posts to their response_url (the harness puts the user in it) and ephemeral messages. */
export const privateReplies = (slack: SlackStandIn, user: string): SlackCall[] =>
  slack.calls.filter(
    (c) =>
      (c.method === 'response_url' && String(c.args['response_id']).startsWith(`${user}-`)) ||
      (c.method === 'chat.postEphemeral' && c.args['user'] === user),
  );

/** The last private reply's text. */
export const lastReply = (slack: SlackStandIn, user: string): string => {
  const replies = privateReplies(slack, user);
  return allText(replies[replies.length - 1]);
};

/** The value of the first element with this action_id in a call's blocks. */
export function buttonValue(call: SlackCall | undefined, actionId: string): string | undefined {
  let found: string | undefined;
  const walk = (v: unknown): void => {
    if (found !== undefined || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      v.forEach(walk);
      return;
    }
    const o = v as Record<string, unknown>;
    if (o['action_id'] === actionId && typeof o['value'] === 'string') found = o['value'];
    else Object.values(o).forEach(walk);
  };
  walk(call?.args['blocks']);
  return found;
}

/** The request id carried by the newest approval message's Approve button. */
export function lastRequestId(h: Harness): string {
  const posts = approvalPosts(h.slack);
  const id = buttonValue(posts[posts.length - 1], ACTION.approveRequest);
  if (id === undefined) throw new Error('no approval message with an Approve button was posted');
  return id;
}
