import type { ChannelNotice, Notice } from '../notices';

/** One Slack message to send (never credentials: those go out directly, once, and are never stored). */
export type Delivery =
  | { readonly kind: 'card-post'; readonly requestId: string }
  | { readonly kind: 'card-update'; readonly requestId: string }
  | { readonly kind: 'thread'; readonly requestId: string; readonly notice: Notice }
  | { readonly kind: 'dm'; readonly requestId: string; readonly userId: string; readonly notice: Notice }
  | { readonly kind: 'channel'; readonly channel: string; readonly notice: ChannelNotice };

/** A delivery as the outbox keeps it. */
export type OutboxItem = {
  readonly id: number;
  readonly kind: Delivery['kind'];
  /** Deliveries of one lane go out in order, each after the ones before it (`req:<id>`, `chan:<channel>`). */
  readonly lane: string;
  readonly requestId?: string | undefined;
  readonly userId?: string | undefined;
  readonly channel?: string | undefined;
  /** The notice as JSON, without its card (the card is read fresh when sent). */
  readonly notice?: string | undefined;
  /** Attempts made so far (0 for one never tried). */
  readonly attempts: number;
  readonly createdAt: Date;
};

/**
 * Every Slack message waits here until it is delivered, so nothing that closes access waits on Slack
 * and a Slack outage delays notices instead of losing them.
 */
export interface OutboxStore {
  /** Appends a delivery to the end of its lane, due at once. */
  enqueue(item: Omit<OutboxItem, 'id' | 'attempts' | 'createdAt'>, now: Date): Promise<void>;
  /** Deliveries that may go now: due, and first among the waiting ones of their lane. Oldest first. */
  ready(now: Date, limit: number): Promise<OutboxItem[]>;
  done(id: number, at: Date): Promise<void>;
  retryLater(id: number, attempts: number, nextAt: Date, error: string): Promise<void>;
  /** Gives up on a delivery (kept, marked abandoned, for the record). */
  abandon(id: number, at: Date, error: string): Promise<void>;
  /** When the first waiting delivery of some lane is due. */
  nextAttempt(): Promise<Date | undefined>;
  /** How many deliveries are waiting (health and tests). */
  waiting(): Promise<number>;
  /**
   * Deletes up to `limit` deliveries sent before `before`, oldest first, and returns how many: nothing
   * reads a sent delivery again. Abandoned ones are kept, for the record.
   */
  prune(before: Date, limit: number): Promise<number>;
}
