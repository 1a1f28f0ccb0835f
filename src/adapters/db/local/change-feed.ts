import type { ChangeFeed, ChangeKind, Logger } from '../../../app/ports';

/**
 * `ChangeFeed` within one process: `publish` calls every subscriber at once, synchronously, in the
 * order they subscribed. A subscriber that throws is logged and the others are still called; one that
 * subscribes or unsubscribes during a publish takes effect from the next one. The PostgreSQL feed
 * delivers each notification through one of these.
 */
export function createLocalChangeFeed(deps: { readonly logger?: Logger } = {}): ChangeFeed {
  const subscribers = new Set<(kind: ChangeKind) => void>();
  return {
    publish(kind) {
      for (const fn of [...subscribers]) {
        try {
          fn(kind);
        } catch (e) {
          deps.logger?.error(
            { kind, err: e instanceof Error ? e.message : String(e) },
            'a change subscriber failed',
          );
        }
      }
    },
    subscribe(fn) {
      // A wrapper, so subscribing the same function twice means two calls and two unsubscribes.
      const entry = (kind: ChangeKind): void => fn(kind);
      subscribers.add(entry);
      return () => {
        subscribers.delete(entry);
      };
    },
  };
}
