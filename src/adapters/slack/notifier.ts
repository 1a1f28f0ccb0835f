import type { WebClient } from '@slack/web-api';
import type { ApprovalCard, ChannelNotice, Notice } from '../../app/notices';
import type { Clock, Notifier, SessionCredentials } from '../../app/ports';
import type { Grant } from '../../domain/grant';
import type { MessageRef } from '../../domain/request';
import type { Mention } from './directory';
import { grantAlertMessage } from './views/alerts';
import { approvalCardMessage } from './views/approval-card';
import { auditHeadMessage } from './views/audit-head';
import { credentialsMessage } from './views/credentials';
import { noticeMessage } from './views/notices';
import { reconcileReportMessage } from './views/reconcile';
import { classifySlackError } from './web-client';

/**
 * The `Notifier` port on Slack's Web API. It wraps an injected `WebClient` (built with
 * `singleAttemptClientOptions`: one attempt, a timeout, a 429 returned at once), so the outbox
 * dispatcher decides about retries; every failure is thrown as an `InfraError` saying whether it may
 * succeed later (`classifySlackError`). Messages are built by the pure views.
 */
/** The line every message carries under `HALLPASS_AWS=dry-run`. */
export const DRY_RUN_LINE = ':test_tube: Dry run: no AWS change was made (HALLPASS_AWS=dry-run).';
/** ...and a credentials message: the values are placeholders. */
export const DRY_RUN_CREDENTIALS_LINE =
  ':test_tube: Dry run: no credentials were issued; these values are placeholders that open nothing (HALLPASS_AWS=dry-run).';

/** A message marked as a dry run: a context line at the end, and `[dry run]` before its fallback text. */
export function dryRunMessage<M extends { text?: string; blocks?: unknown[] }>(
  message: M,
  line = DRY_RUN_LINE,
): M {
  return {
    ...message,
    text: `[dry run] ${message.text ?? ''}`,
    ...(message.blocks === undefined
      ? {}
      : { blocks: [...message.blocks, { type: 'context', elements: [{ type: 'mrkdwn', text: line }] }] }),
  };
}

export function createSlackNotifier(deps: {
  client: WebClient;
  clock: Clock;
  /** Resolves how principals are mentioned (group handles → `<!subteam^…>`), read fresh for each message. */
  mentioner?: () => Promise<Mention>;
  /** `HALLPASS_AWS=dry-run`: every message says no AWS change was made (and credentials that none were issued). */
  dryRun?: boolean;
}): Notifier {
  const { client } = deps;
  const mark = <M extends { text?: string; blocks?: unknown[] }>(message: M, line = DRY_RUN_LINE): M =>
    deps.dryRun === true ? dryRunMessage(message, line) : message;
  const opts = async () => ({
    now: deps.clock.now(),
    ...(deps.mentioner === undefined ? {} : { mention: await deps.mentioner() }),
  });
  const call = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      throw classifySlackError(error, operation);
    }
  };
  return {
    postApprovalCard: (card: ApprovalCard): Promise<MessageRef> =>
      call('chat.postMessage', async () => {
        const message = mark(approvalCardMessage(card, deps.clock.now(), await opts()));
        const res = await client.chat.postMessage({
          channel: card.resource.channel,
          ...message,
          unfurl_links: false,
        });
        if (res.channel === undefined || res.ts === undefined)
          throw new Error('chat.postMessage returned no channel or ts');
        return { channel: res.channel, ts: res.ts };
      }),
    updateApprovalCard: (ref: MessageRef, card: ApprovalCard): Promise<void> =>
      call('chat.update', async () => {
        await client.chat.update({
          channel: ref.channel,
          ts: ref.ts,
          ...mark(approvalCardMessage(card, deps.clock.now(), await opts())),
        });
      }),
    notifyThread: (ref: MessageRef, notice: Notice): Promise<void> =>
      call('chat.postMessage', async () => {
        await client.chat.postMessage({
          channel: ref.channel,
          thread_ts: ref.ts,
          ...mark(noticeMessage(notice, 'thread', await opts())),
          unfurl_links: false,
        });
      }),
    notifyUser: (userId: string, notice: Notice): Promise<void> =>
      call('chat.postMessage', async () => {
        // The requester hears "you"; anyone else (an admin told of a failing close) reads what the channel reads.
        const audience = userId === notice.card.request.requesterId ? 'requester' : 'thread';
        // Posting to a user id lands in the app's direct-message conversation with that user.
        await client.chat.postMessage({
          channel: userId,
          ...mark(noticeMessage(notice, audience, await opts())),
          unfurl_links: false,
        });
      }),
    async sendCredentials(userId: string, card: ApprovalCard, grant: Grant, credentials: SessionCredentials) {
      try {
        // A direct message to the requester only; never a channel, never a thread.
        await client.chat.postMessage({
          channel: userId,
          ...mark(credentialsMessage(card, grant, credentials), DRY_RUN_CREDENTIALS_LINE),
          unfurl_links: false,
        });
      } catch (error) {
        // Without its cause: the failed request carried the credentials, and a cause could reach a log.
        throw classifySlackError(error, 'chat.postMessage').withoutCause();
      }
    },
    notifyChannel: (channel: string, notice: ChannelNotice): Promise<void> =>
      call('chat.postMessage', async () => {
        const message =
          notice.type === 'audit-head'
            ? auditHeadMessage(notice)
            : notice.type === 'grant-alert'
              ? grantAlertMessage(notice, (await opts()).mention)
              : reconcileReportMessage(notice);
        await client.chat.postMessage({ channel, ...mark(message), unfurl_links: false });
      }),
  };
}
