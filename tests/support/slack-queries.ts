import { ACTION } from '../../src/adapters/slack/ids';
import { CHANNEL, type Harness } from './harness';
import type { SlackCall, SlackStandIn, StoredMessage } from './slack-stand-in';

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
  walk(call?.args['view']);
  return found;
}

/** The request id carried by the newest approval message's Approve button. */
export function lastRequestId(h: Harness): string {
  const posts = approvalPosts(h.slack);
  const id = buttonValue(posts[posts.length - 1], ACTION.approveRequest);
  if (id === undefined) throw new Error('no approval message with an Approve button was posted');
  return id;
}

/** Every string in a stored message's text and blocks, joined: what the channel shows now. */
export function messageText(message: StoredMessage | undefined): string {
  if (message === undefined) return '';
  return allText({
    method: 'stored',
    args: { text: message.text, blocks: message.blocks },
    at: new Date(0),
    ok: true,
  });
}

/** The approval message of a request as it stands now (after every `chat.update`), if it was posted. */
export async function cardMessage(h: Harness, requestId: string): Promise<StoredMessage | undefined> {
  const ref = (await h.hallpass.useCases.cardOf(requestId))?.request.message;
  return ref === undefined ? undefined : h.slack.message(ref.channel, ref.ts);
}

/**
 * Waits for the first private reply to `user` recorded after the first `since` calls and returns
 * its text. Pass `h.slack.calls.length` taken just before acting, so an older reply never counts.
 */
export function replyAfter(slack: SlackStandIn, user: string, since: number): Promise<string> {
  return slack.waitFor((calls) => {
    const reply = calls
      .slice(since)
      .find(
        (c) => c.method === 'response_url' || (c.method === 'chat.postEphemeral' && c.args['user'] === user),
      );
    return reply === undefined ? undefined : allText(reply);
  });
}

/** EC2 calls that change something in AWS: opening, closing or tagging a rule (reads are left out). */
export const ec2Changes = (h: Harness, action?: string) =>
  h.ec2.calls.filter((c) =>
    action === undefined
      ? ['AuthorizeSecurityGroupIngress', 'RevokeSecurityGroupIngress', 'CreateTags'].includes(c.action)
      : c.action === action,
  );
