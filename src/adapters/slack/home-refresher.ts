import type { WebClient } from '@slack/web-api';
import { type Clock, type HomeViewers, type Logger, MAX_HOME_VIEWERS, type Timers } from '../../app/ports';
import type { ListenerContext } from './context';
import { homeView } from './views/home';
import { classifySlackError } from './web-client';

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
  /** Who opened their tab most recently, shared by every replica (so any of them refreshes any tab). */
  viewers: HomeViewers;
}): HomeRefresher {
  /** Tabs waiting to be published, in order; a Set, so a person waits once however many changes came. */
  let queue = new Set<string>();
  let tokens = HOME_BURST;
  let refilledAt = deps.clock.now().getTime();
  let pausedUntil = 0;
  let running: Promise<void> | undefined;
  let timer: unknown;
  /** Reading the viewers after a change (`idle` waits for it). */
  let reading: Promise<void> | undefined;

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
      queue = new Set([userId, ...queue]);
      kick();
      try {
        await deps.viewers.remember(userId, deps.clock.now());
      } catch (error) {
        deps.logger.warn({ user: userId, err: String(error) }, 'could not remember a home viewer');
      }
    },
    changed() {
      // Let the change's own work finish first (its transaction, its reply); then one pass.
      reading = (async () => {
        const recent = await deps.viewers.recent(MAX_HOME_VIEWERS);
        for (const userId of recent) queue.add(userId);
        if (recent.length > 0) kick(true);
      })()
        .catch((error: unknown) =>
          deps.logger.warn({ err: String(error) }, 'could not read the home viewers'),
        )
        .finally(() => {
          reading = undefined;
        });
    },
    async idle() {
      while (running !== undefined || reading !== undefined) {
        await reading;
        await running;
      }
    },
  };
}
