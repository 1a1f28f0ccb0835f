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
  const { text, blocks } = message;
  /** The routes in order of preference, each with what to log when it fails; absent ones are skipped. */
  const routes: { readonly via: string; readonly send: () => Promise<unknown> }[] = [];
  const { respond, channel } = route;
  if (respond !== undefined) {
    routes.push({
      via: 'response_url',
      send: () => respond({ response_type: 'ephemeral', replace_original: false, text, blocks }),
    });
  }
  if (channel !== undefined) {
    routes.push({
      via: 'chat.postEphemeral',
      send: () => route.client.chat.postEphemeral({ channel, user: route.user, text, blocks }),
    });
  }
  routes.push({
    via: 'a direct message',
    send: () => route.client.chat.postMessage({ channel: route.user, text, blocks }),
  });
  for (const [i, r] of routes.entries()) {
    try {
      await r.send();
      return;
    } catch (error) {
      const next = routes[i + 1];
      if (next !== undefined) {
        route.logger.warn({ err: describeError(error) }, `${r.via} failed; falling back to ${next.via}`);
      } else {
        route.logger.error(
          { err: describeError(error), user: route.user },
          'could not reply to the user by any route',
        );
      }
    }
  }
}
