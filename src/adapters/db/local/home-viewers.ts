import type { HomeViewers } from '../../../app/ports';

/**
 * `HomeViewers` in memory, for one process: the `max` people who opened their Home tab most recently
 * (a restart forgets them; a tab refreshes again when next opened). Most recent first; people who
 * opened it at the same millisecond in user-id order, as the PostgreSQL version orders them. Someone
 * remembered at an earlier time than already known (a clock that went backwards) keeps the later one.
 */
export function createLocalHomeViewers(max: number): HomeViewers {
  const openedAt = new Map<string, number>();

  /** Most recent first; ties by user id (code-unit order, as `COLLATE "C"`). */
  const newerFirst = ([a, at]: [string, number], [b, bt]: [string, number]): number =>
    bt - at || (a < b ? -1 : a > b ? 1 : 0);

  return {
    async remember(userId, at) {
      openedAt.set(userId, Math.max(openedAt.get(userId) ?? Number.NEGATIVE_INFINITY, at.getTime()));
      if (openedAt.size <= max) return;
      // At most one over: drop whoever sorts last.
      let last: [string, number] | undefined;
      for (const entry of openedAt) {
        if (last === undefined || newerFirst(entry, last) > 0) last = entry;
      }
      if (last !== undefined) openedAt.delete(last[0]);
    },
    async recent(limit) {
      return [...openedAt]
        .sort(newerFirst)
        .slice(0, Math.max(0, limit))
        .map(([userId]) => userId);
    },
  };
}
