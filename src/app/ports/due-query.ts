/**
 * One kind of due work as its store sees it: what is due now, and when the next is due. A store builds
 * both from one predicate and one due time, so "what is due" and "when to wake" can never disagree
 * (the bug this shape exists to prevent: a grant stuck in `closing` that nothing woke up for).
 */
export interface DueQuery<T> {
  /** Everything due at or before `now`, soonest first. */
  due(now: Date): Promise<T[]>;
  /** The earliest due time (possibly already past), or `undefined` when nothing is waiting. */
  next(): Promise<Date | undefined>;
}

/** A kind of work with nothing in it (e.g. warnings when `warnBefore` is 0). */
export const NOTHING_DUE: DueQuery<never> = {
  due: async () => [],
  next: async () => undefined,
};
