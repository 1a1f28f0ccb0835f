import type { WebClient } from '@slack/web-api';
import type { Logger } from '../../app/ports';
import type { ListenerContext } from './context';
import { homeView } from './views/home';

/** How many people's Home tabs are kept fresh (those who opened it most recently). */
const MAX_VIEWERS = 500;

export type HomeRefresher = {
  /** Publishes one person's Home tab now, and remembers them for later refreshes. */
  publish(userId: string): Promise<void>;
  /** Something changed: refresh every remembered Home tab, soon (changes in one burst coalesce into one pass). */
  changed(): void;
  /** Resolves when no refresh is running or queued (tests). */
  idle(): Promise<void>;
};

/**
 * Keeps App Home tabs current. Slack has no "visible now" signal, so hallpass remembers who opened
 * the tab (in memory: after a restart a tab refreshes again when next opened) and republishes theirs
 * whenever anything changes. `views.publish` is Tier 4 (100+/min); passes never overlap and a burst of
 * changes costs one pass.
 */
export function createHomeRefresher(deps: {
  client: WebClient;
  ctx: ListenerContext;
  logger: Logger;
}): HomeRefresher {
  const viewers = new Set<string>();
  let running: Promise<void> | undefined;
  let dirty = false;

  const publish = async (userId: string): Promise<void> => {
    viewers.delete(userId);
    viewers.add(userId); // most recent last
    while (viewers.size > MAX_VIEWERS) {
      const oldest = viewers.values().next().value;
      if (oldest === undefined) break;
      viewers.delete(oldest);
    }
    const actor = await deps.ctx.uc.directory.actor(userId);
    const dashboard = deps.ctx.uc.dashboard(actor);
    await deps.client.views.publish({
      user_id: userId,
      view: homeView({
        ...dashboard,
        now: deps.ctx.clock.now(),
        warnBefore: deps.ctx.uc.policy().warnBefore,
      }),
    });
  };

  const pass = async (): Promise<void> => {
    do {
      dirty = false;
      for (const userId of [...viewers]) {
        try {
          await publish(userId);
        } catch (error) {
          deps.logger.warn(
            { user: userId, err: error instanceof Error ? error.message : String(error) },
            'home refresh failed',
          );
        }
      }
    } while (dirty);
  };

  return {
    publish,
    changed() {
      if (viewers.size === 0) return;
      if (running !== undefined) {
        dirty = true;
        return;
      }
      // Let the change's own Slack messages go first; then one pass for the burst.
      running = new Promise<void>((resolve) => setImmediate(resolve)).then(pass).finally(() => {
        running = undefined;
      });
    },
    async idle() {
      while (running !== undefined) await running;
    },
  };
}
