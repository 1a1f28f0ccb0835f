import type { WebClient } from '@slack/web-api';
import type { Clock, Logger, Timers } from '../../app/ports';
import type { ListenerContext } from './context';
import { homeView } from './views/home';
import { classifySlackError } from './web-client';

/** How many people's Home tabs are kept fresh (those who opened it most recently). */
const MAX_VIEWERS = 500;
/**
 * `views.publish` is Tier 4 (100+ a minute). Publishes are paced well under it: a burst of up to
 * `BURST`, then one every `SPACING_MS` (80 a minute at most), so no number of viewers can use up the
 * limit — and the notices go through a client and a queue of their own anyway.
 */
export const HOME_BURST = 20;
export const HOME_SPACING_MS = 750;

export type HomeRefresher = {
  /** Someone opened the tab: publish theirs first, and remember them for later refreshes. */
  publish(userId: string): Promise<void>;
  /** Something changed: every remembered tab is refreshed, once per person however many changes came. */
  changed(): void;
  /** Resolves when no publish is in progress (a paced wait, armed on the timers, does not count). */
  idle(): Promise<void>;
};

/**
 * Keeps App Home tabs current. Slack has no "visible now" signal, so hallpass remembers who opened
 * the tab (in memory: after a restart a tab refreshes again when next opened) and republishes theirs
 * whenever anything changes. Per person, changes coalesce: a tab waiting to be refreshed is refreshed
 * once, with the state at that moment. Publishes are paced under Slack's limit (token bucket on the
 * injected timers); a 429 pauses this refresher alone for its `Retry-After`. The refresher has its own
 * Web API client, so it never delays a notice.
 */
export function createHomeRefresher(deps: {
  client: WebClient;
  ctx: ListenerContext;
  logger: Logger;
  clock: Clock;
  timers: Timers;
}): HomeRefresher {
  const viewers = new Set<string>();
  /** Tabs waiting to be published, in order; a Set, so a person waits once however many changes came. */
  let queue = new Set<string>();
  let tokens = HOME_BURST;
  let refilledAt = deps.clock.now().getTime();
  let pausedUntil = 0;
  let running: Promise<void> | undefined;
  let timer: unknown;

  const remember = (userId: string): void => {
    viewers.delete(userId);
    viewers.add(userId); // most recent last
    while (viewers.size > MAX_VIEWERS) {
      const oldest = viewers.values().next().value;
      if (oldest === undefined) break;
      viewers.delete(oldest);
      queue.delete(oldest);
    }
  };

  const refill = (now: number): void => {
    // A clock that went backwards refills nothing and restarts the count from now.
    const gained = now > refilledAt ? (now - refilledAt) / HOME_SPACING_MS : 0;
    tokens = Math.min(HOME_BURST, tokens + gained);
    refilledAt = now;
  };

  const publishNow = async (userId: string): Promise<void> => {
    const actor = await deps.ctx.useCases.directory.actor(userId);
    const dashboard = await deps.ctx.useCases.dashboard(actor);
    await deps.client.views.publish({
      user_id: userId,
      view: homeView({
        ...dashboard,
        now: deps.ctx.clock.now(),
        warnBefore: deps.ctx.useCases.policy().warnBefore,
      }),
    });
  };

  const drain = async (): Promise<void> => {
    for (;;) {
      const next = queue.values().next();
      if (next.done === true) return;
      const now = deps.clock.now().getTime();
      refill(now);
      const wait = Math.max(pausedUntil - now, tokens >= 1 ? 0 : (1 - tokens) * HOME_SPACING_MS);
      if (wait > 0) {
        timer = deps.timers.setTimeout(() => {
          timer = undefined;
          kick();
        }, wait);
        return;
      }
      const userId = next.value;
      queue.delete(userId);
      tokens -= 1;
      try {
        await publishNow(userId);
      } catch (error) {
        const infra = classifySlackError(error, 'views.publish');
        if (infra.retryAfterMs !== undefined) {
          // Slack asked us to slow down: this tab goes first once the pause is over.
          pausedUntil = deps.clock.now().getTime() + infra.retryAfterMs;
          queue = new Set([userId, ...queue]);
        }
        deps.logger.warn({ user: userId, err: infra.message }, 'home refresh failed');
      }
    }
  };

  /** Starts draining unless it is already (or a paced wait is armed); `later` lets the caller's own work finish first. */
  function kick(later = false): void {
    if (running !== undefined || timer !== undefined) return;
    const start = later ? new Promise<void>((resolve) => setImmediate(resolve)) : Promise.resolve();
    running = start.then(drain).finally(() => {
      running = undefined;
    });
  }

  return {
    async publish(userId) {
      remember(userId);
      queue = new Set([userId, ...queue]);
      kick();
    },
    changed() {
      if (viewers.size === 0) return;
      for (const userId of viewers) queue.add(userId);
      // Let the change's own work finish first (its transaction, its reply); then one pass.
      kick(true);
    },
    async idle() {
      while (running !== undefined) await running;
    },
  };
}
