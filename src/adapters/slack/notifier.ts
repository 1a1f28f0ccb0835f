import type { WebClient } from '@slack/web-api';
import type {
  ApprovalCard,
  ChannelNotice,
  Clock,
  Notice,
  Notifier,
  SessionCredentials,
} from '../../app/ports';
import type { Grant } from '../../domain/grant';
import type { MessageRef } from '../../domain/request';
import type { Mention } from './directory';
import { approvalCardMessage } from './views/approval-card';
import { credentialsMessage } from './views/credentials';
import { noticeMessage } from './views/notices';
import { reconcileReportMessage } from './views/reconcile';

/**
 * The `Notifier` port on Slack's Web API. It wraps an injected `WebClient`, so the scheduler can
 * post without a listener context. Messages are built by the pure views.
 */
export function createSlackNotifier(deps: {
  client: WebClient;
  clock: Clock;
  /** Resolves how principals are mentioned (group handles → `<!subteam^…>`), read fresh for each message. */
  mentioner?: () => Promise<Mention>;
}): Notifier {
  const { client } = deps;
  const opts = async () => ({
    now: deps.clock.now(),
    ...(deps.mentioner === undefined ? {} : { mention: await deps.mentioner() }),
  });
  return {
    async postApprovalCard(card: ApprovalCard): Promise<MessageRef> {
      const message = approvalCardMessage(card, deps.clock.now(), await opts());
      const res = await client.chat.postMessage({
        channel: card.resource.channel,
        ...message,
        unfurl_links: false,
      });
      if (res.channel === undefined || res.ts === undefined)
        throw new Error('chat.postMessage returned no channel or ts');
      return { channel: res.channel, ts: res.ts };
    },
    async updateApprovalCard(ref: MessageRef, card: ApprovalCard): Promise<void> {
      await client.chat.update({
        channel: ref.channel,
        ts: ref.ts,
        ...approvalCardMessage(card, deps.clock.now(), await opts()),
      });
    },
    async notifyThread(ref: MessageRef, notice: Notice): Promise<void> {
      await client.chat.postMessage({
        channel: ref.channel,
        thread_ts: ref.ts,
        ...noticeMessage(notice, 'thread', await opts()),
        unfurl_links: false,
      });
    },
    async notifyUser(userId: string, notice: Notice): Promise<void> {
      // Posting to a user id lands in the app's direct-message conversation with that user.
      await client.chat.postMessage({
        channel: userId,
        ...noticeMessage(notice, 'requester', await opts()),
        unfurl_links: false,
      });
    },
    async sendCredentials(userId: string, card: ApprovalCard, grant: Grant, credentials: SessionCredentials) {
      // A direct message to the requester only; never a channel, never a thread.
      await client.chat.postMessage({
        channel: userId,
        ...credentialsMessage(card, grant, credentials),
        unfurl_links: false,
      });
    },
    async notifyChannel(channel: string, notice: ChannelNotice): Promise<void> {
      // One kind of channel notice so far; a switch on `notice.type` when there are more.
      await client.chat.postMessage({ channel, ...reconcileReportMessage(notice), unfurl_links: false });
    },
  };
}
