/**
 * Runs `fn` over `items` with at most `limit` calls in flight, each worker taking the next item as it
 * finishes one, so a slow item holds up one worker, not a whole batch. Resolves when all are done;
 * `fn` must not throw (a throw rejects the whole run).
 */
export async function eachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/** `map` with an async `fn`, at most `limit` calls in flight (as `eachLimit`); the results in `items`' order. */
export async function mapLimit<T, U>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<U>,
): Promise<U[]> {
  const results = new Array<U>(items.length);
  await eachLimit([...items.keys()], limit, async (i) => {
    results[i] = await fn(items[i] as T);
  });
  return results;
}

/** `flatMap` with an async `fn`: every call started at once, the results in `items`' order. */
export async function flatMapAll<T, U>(
  items: readonly T[],
  fn: (item: T) => Promise<readonly U[]>,
): Promise<U[]> {
  return (await Promise.all(items.map(fn))).flat();
}
