import type { Clock, Logger } from '../../app/ports';
import type { UseCases } from '../../app/use-cases';
import type { Actor } from '../../domain/policy';
import type { Message } from './reply';

/** Publishes and refreshes App Home tabs (see home-refresher.ts). */
export type HomePublisher = {
  publish(userId: string): Promise<void>;
  /** Something changed for everyone (a user group): every open tab is refreshed. */
  changed?(): void;
};

/** What every listener gets: the use cases, the clock, the logger and the Home publisher. Nothing else. */
export type ListenerContext = {
  readonly useCases: UseCases;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly home?: HomePublisher | undefined;
  /**
   * Counts `work` as a listener in progress (shutdown and `settled` wait for it) after the listener has
   * returned: see `goOnBehind` (listeners/middleware.ts). Absent: the listener awaits its work itself.
   */
  readonly track?: ((work: Promise<void>) => void) | undefined;
};

/**
 * What the listener middleware (listeners/middleware.ts) puts on Bolt's `context` for a command, a
 * button, a form or the Home tab, before the listener runs.
 */
export type Scope = {
  /** Who typed, clicked, submitted or opened. */
  readonly userId: string;
  /**
   * That person as Slack says now, checked against where the payload was signed. Looked up on first
   * use — after the ack — and once per payload however often it is asked for.
   */
  readonly actor: () => Promise<Actor>;
  /** Answers that person privately: a command or button by its `response_url`, a form by direct message. */
  readonly reply: (message: Message) => Promise<void>;
};
