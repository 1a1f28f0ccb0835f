import type { WebClient } from '@slack/web-api';
import type { ApprovalCard, Clock, Notice, Notifier, SessionCredentials } from '../../app/ports';
import type { Grant } from '../../domain/grant';
import type { MessageRef } from '../../domain/request';
import { approvalCardMessage } from './views/approval-card';
import { credentialsMessage } from './views/credentials';
import { noticeMessage } from './views/notices';

/**
 * The `Notifier` port on Slack's Web API. It wraps an injected `WebClient`, so the scheduler can
 * post without a listener context. Messages are built by the pure views.
 */
export function createSlackNotifier(deps: { client: WebClient; clock: Clock }): Notifier {
  const { client } = deps;
  return {
    async postApprovalCard(card: ApprovalCard): Promise<MessageRef> {
      const message = approvalCardMessage(card, deps.clock.now());
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
        ...approvalCardMessage(card, deps.clock.now()),
      });
    },
    async notifyThread(ref: MessageRef, notice: Notice): Promise<void> {
      await client.chat.postMessage({
        channel: ref.channel,
        thread_ts: ref.ts,
        ...noticeMessage(notice, 'thread'),
        unfurl_links: false,
      });
    },
    async notifyUser(userId: string, notice: Notice): Promise<void> {
      // Posting to a user id lands in the app's direct-message conversation with that user.
      await client.chat.postMessage({
        channel: userId,
        ...noticeMessage(notice, 'requester'),
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
  };
}
