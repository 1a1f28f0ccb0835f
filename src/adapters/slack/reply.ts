import type { RespondFn, types } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { describeError } from '../../app/notify';
import type { Logger } from '../../app/ports';

export type Message = { readonly text: string; readonly blocks?: types.KnownBlock[] | undefined };

/**
 * Answers one user privately, by the best route still open: the interaction's `response_url`
 * (works in any conversation), else an ephemeral message in the channel, else a direct message.
 * A reply is never allowed to throw into the handler that produced it.
 */
export async function replyPrivately(
  route: {
    respond?: RespondFn | undefined;
    client: WebClient;
    channel?: string | undefined;
    user: string;
    logger: Logger;
  },
  message: Message,
): Promise<void> {
  const { blocks } = message;
  if (route.respond !== undefined) {
    try {
      await route.respond({
        response_type: 'ephemeral',
        replace_original: false,
        text: message.text,
        blocks,
      });
      return;
    } catch (error) {
      route.logger.warn(
        { err: describeError(error) },
        'response_url failed; falling back to chat.postEphemeral',
      );
    }
  }
  if (route.channel !== undefined) {
    try {
      await route.client.chat.postEphemeral({
        channel: route.channel,
        user: route.user,
        text: message.text,
        blocks,
      });
      return;
    } catch (error) {
      route.logger.warn(
        { err: describeError(error) },
        'chat.postEphemeral failed; falling back to a direct message',
      );
    }
  }
  try {
    await route.client.chat.postMessage({ channel: route.user, text: message.text, blocks });
  } catch (error) {
    route.logger.error(
      { err: describeError(error), user: route.user },
      'could not reply to the user by any route',
    );
  }
}
