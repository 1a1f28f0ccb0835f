import { createFollowUps } from '../../../src/app/follow-ups';
import { MemoryLogger } from '../../support/memory-logger';

describe('follow-ups of a close', () => {
  it('runs queued work one at a time, in order, without the caller waiting', async () => {
    const logger = new MemoryLogger();
    const q = createFollowUps(logger);
    const done: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    q.after('first', async () => {
      await gate;
      done.push('first');
    });
    q.after('second', async () => {
      done.push('second');
    });
    // Queued, not run inline: the close that queued them has already returned.
    expect(done).toEqual([]);
    release();
    await q.idle();
    expect(done).toEqual(['first', 'second']);
  });

  it('logs a failure and goes on with the next', async () => {
    const logger = new MemoryLogger();
    const q = createFollowUps(logger);
    const done: string[] = [];
    q.after('grant grt_1 closed', async () => {
      throw new Error('Scheduler throttled');
    });
    q.after('grant grt_2 closed', async () => {
      done.push('grt_2');
    });
    await q.idle();
    expect(done).toEqual(['grt_2']);
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([
      expect.objectContaining({
        fields: { what: 'grant grt_1 closed', err: 'Error: Scheduler throttled' },
      }),
    ]);
  });

  it('is idle at once when nothing is queued, and again after work queued later', async () => {
    const q = createFollowUps(new MemoryLogger());
    await q.idle();
    let ran = false;
    q.after('late', async () => {
      ran = true;
    });
    await q.idle();
    expect(ran).toBe(true);
  });
});
