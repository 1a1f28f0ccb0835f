import { createLocalLocks } from '../../../src/adapters/db/local/locks';

type Deferred<T> = { promise: Promise<T>; resolve: (value: T) => void; reject: (error: Error) => void };

function deferred<T = void>(): Deferred<T> {
  let resolve: (value: T) => void = () => {};
  let reject: (error: Error) => void = () => {};
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run (no time passes). */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('local locks (run)', () => {
  it('runs work for the same key one at a time, in the order it was submitted', async () => {
    const mutex = createLocalLocks();
    const log: string[] = [];
    const gates = [deferred(), deferred(), deferred()];
    const runs = gates.map((gate, i) =>
      mutex.run('sg-1', async () => {
        log.push(`start ${i}`);
        await gate.promise;
        log.push(`end ${i}`);
        return i;
      }),
    );

    await flush();
    expect(log).toEqual(['start 0']);

    // Releasing a later one first must not let it jump the queue.
    gates[2]?.resolve();
    gates[1]?.resolve();
    await flush();
    expect(log).toEqual(['start 0']);

    gates[0]?.resolve();
    await expect(Promise.all(runs)).resolves.toEqual([0, 1, 2]);
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  });

  it('runs work for different keys concurrently', async () => {
    const mutex = createLocalLocks();
    const started: string[] = [];
    const gate = deferred();
    const a = mutex.run('sg-1', async () => {
      started.push('sg-1');
      await gate.promise;
    });
    const b = mutex.run('sg-2', async () => {
      started.push('sg-2');
      await gate.promise;
    });

    await flush();
    expect(started).toEqual(['sg-1', 'sg-2']);

    gate.resolve();
    await Promise.all([a, b]);
  });

  it.each([
    ['rejects', async (): Promise<never> => Promise.reject(new Error('AWS said no'))],
    [
      'throws synchronously',
      (): Promise<never> => {
        throw new Error('AWS said no');
      },
    ],
  ])('releases the lock when the work %s, and passes the error to its caller', async (_name, failing) => {
    const mutex = createLocalLocks();
    const first = mutex.run('sg-1', failing);
    const second = mutex.run('sg-1', async () => 'ran');

    await expect(first).rejects.toThrow('AWS said no');
    await expect(second).resolves.toBe('ran');
  });

  it('still serializes behind work that failed while others waited', async () => {
    const mutex = createLocalLocks();
    const log: string[] = [];
    const gate = deferred();
    const first = mutex.run('sg-1', async () => {
      await gate.promise;
      throw new Error('boom');
    });
    const second = mutex.run('sg-1', async () => {
      log.push('second');
    });

    await flush();
    expect(log).toEqual([]);

    gate.resolve();
    await expect(first).rejects.toThrow('boom');
    await second;
    expect(log).toEqual(['second']);
  });

  it('takes the lock again at once after all work for a key has finished', async () => {
    const mutex = createLocalLocks();
    await mutex.run('sg-1', async () => undefined);
    const started: string[] = [];
    const gate = deferred();
    const again = mutex.run('sg-1', async () => {
      started.push('again');
      await gate.promise;
    });

    await flush();
    expect(started).toEqual(['again']);
    gate.resolve();
    await again;
  });
});
