import type { Clock, Logger } from '../../app/ports';
import type { UseCases } from '../../app/use-cases';

/** Publishes and refreshes App Home tabs (see home-refresher.ts). */
export type HomePublisher = {
  publish(userId: string): Promise<void>;
  /** Something changed for everyone (a user group): every open tab is refreshed. */
  changed?(): void;
};

/** What every listener gets: the use cases, the clock, the logger and the Home publisher. Nothing else. */
export type ListenerContext = {
  readonly uc: UseCases;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly home?: HomePublisher | undefined;
};
