import type { Locks, TryRun } from '../../../app/ports';

/**
 * `Locks` within one process: a FIFO queue per key, exact when one process is the only writer (SQLite).
 * `run` waits its turn behind every earlier `run` of the same key; `tryRun` runs only when nobody holds
 * or waits for the key, and never waits. A key's entry is dropped when its last holder finishes, so
 * memory follows the keys in use, not every key ever seen. The PostgreSQL locks queue through one of
 * these before going to the database, so one process never holds two connections for one key.
 */
export function createLocalLocks(): Locks {
  /** Per key, the promise that settles when the last holder queued so far has finished. */
  const tails = new Map<string, Promise<void>>();

  const run = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const previous = tails.get(key);
    let release: () => void = () => {};
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Set before any await, so a `tryRun` that comes next already sees the key taken.
    const tail = previous === undefined ? mine : previous.then(() => mine);
    tails.set(key, tail);
    if (previous !== undefined) await previous;
    try {
      return await fn();
    } finally {
      release();
      if (tails.get(key) === tail) tails.delete(key);
    }
  };

  return {
    run,
    async tryRun<T>(key: string, fn: () => Promise<T>): Promise<TryRun<T>> {
      if (tails.has(key)) return { ran: false };
      return { ran: true, value: await run(key, fn) };
    },
  };
}
