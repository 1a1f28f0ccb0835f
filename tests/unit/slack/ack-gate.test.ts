import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { type AckGate, createAckGate } from '../../../src/adapters/slack/listeners/ack-gate';

/**
 * The ack gate: work behind an ack starts only once no other Slack request is waiting for its
 * answer, one piece per turn of the event loop, and never waits longer than its bound.
 */

/** A response the test closes when it likes (the gate only listens for 'close'). */
const response = (): ServerResponse & { close(): void } =>
  Object.assign(new EventEmitter(), {
    close(this: EventEmitter) {
      this.emit('close');
    },
  }) as unknown as ServerResponse & { close(): void };

/** The next turn of the event loop (after the I/O and immediates already queued). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** `turn()` with a flag that says whether it has resolved, and the time it did. */
function waitFor(gate: AckGate): { done: () => boolean; at: () => number; promise: Promise<void> } {
  let at = -1;
  const promise = gate.turn().then(() => {
    at = performance.now();
  });
  return { done: () => at >= 0, at: () => at, promise };
}

describe('the ack gate', () => {
  it('lets work go on the next turn of the loop when no Slack request is waiting', async () => {
    const gate = createAckGate({ maxWaitMs: 10_000 });
    const work = waitFor(gate);
    expect(work.done()).toBe(false);
    await work.promise;
    expect(gate.waiting()).toEqual({ requests: 0, work: 0, running: 0 });
  });

  it('holds work while a Slack request is unanswered, and lets it go once that request is answered', async () => {
    const gate = createAckGate({ maxWaitMs: 10_000 });
    const res = response();
    gate.arrived(res);
    const work = waitFor(gate);
    for (let i = 0; i < 5; i += 1) await nextTurn();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(work.done()).toBe(false);
    expect(gate.waiting()).toEqual({ requests: 1, work: 1, running: 0 });

    res.close();
    await work.promise;
    expect(gate.waiting()).toEqual({ requests: 0, work: 0, running: 0 });
  });

  it('waits for every unanswered request, not only the first', async () => {
    const gate = createAckGate({ maxWaitMs: 10_000 });
    const [a, b] = [response(), response()];
    gate.arrived(a);
    gate.arrived(b);
    const work = waitFor(gate);
    a.close();
    for (let i = 0; i < 5; i += 1) await nextTurn();
    expect(work.done()).toBe(false);
    b.close();
    await work.promise;
  });

  it('lets waiting work go one piece per turn of the loop, first come first served', async () => {
    const gate = createAckGate({ maxWaitMs: 10_000 });
    const res = response();
    gate.arrived(res);
    const order: number[] = [];
    const works = [1, 2, 3].map((n) => gate.turn().then(() => order.push(n)));
    res.close();
    await nextTurn();
    expect(order).toEqual([1]);
    await nextTurn();
    expect(order).toEqual([1, 2]);
    await Promise.all(works);
    expect(order).toEqual([1, 2, 3]);
  });

  it('holds the rest again when a request arrives between two pieces', async () => {
    const gate = createAckGate({ maxWaitMs: 10_000 });
    const first = response();
    gate.arrived(first);
    const one = waitFor(gate);
    const two = waitFor(gate);
    first.close();
    await one.promise;
    const second = response();
    gate.arrived(second);
    for (let i = 0; i < 5; i += 1) await nextTurn();
    expect(two.done()).toBe(false);
    second.close();
    await two.promise;
  });

  it('lets work go after its bound even while requests stay unanswered, so nothing is starved', async () => {
    const bound = 40;
    const gate = createAckGate({ maxWaitMs: bound });
    gate.arrived(response());
    const asked = performance.now();
    const early = waitFor(gate);
    await new Promise((resolve) => setTimeout(resolve, 15));
    const askedLater = performance.now();
    const late = waitFor(gate);
    await early.promise;
    expect(early.at() - asked).toBeGreaterThanOrEqual(bound - 1);
    // The later one has its own bound, counted from when it asked.
    await late.promise;
    expect(late.at() - askedLater).toBeGreaterThanOrEqual(bound - 1);
    expect(gate.waiting()).toEqual({ requests: 1, work: 0, running: 0 });
  });

  describe('behind: runs the work in its turn, and stops giving way to acks past its backlog', () => {
    /** Work the test finishes when it likes. */
    const held = () => {
      let finish: () => void = () => undefined;
      let started = false;
      const done = new Promise<void>((resolve) => {
        finish = resolve;
      });
      return {
        work: async () => {
          started = true;
          await done;
        },
        started: () => started,
        finish: () => finish(),
      };
    };

    it('runs the work once it has its turn, counting it as under way until it settles', async () => {
      const gate = createAckGate({ maxWaitMs: 10_000, maxBacklog: 10 });
      const res = response();
      gate.arrived(res);
      const one = held();
      const ran = gate.behind(one.work);
      for (let i = 0; i < 5; i += 1) await nextTurn();
      expect(one.started()).toBe(false);
      res.close();
      for (let i = 0; i < 5; i += 1) await nextTurn();
      expect(one.started()).toBe(true);
      expect(gate.waiting()).toEqual({ requests: 0, work: 0, running: 1 });
      one.finish();
      await ran;
      expect(gate.waiting()).toEqual({ requests: 0, work: 0, running: 0 });
    });

    it('counts work that fails as done', async () => {
      const gate = createAckGate({ maxWaitMs: 10_000 });
      await expect(gate.behind(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      expect(gate.waiting()).toEqual({ requests: 0, work: 0, running: 0 });
    });

    it('with its backlog full, starts new work on the next turn even while a request is unanswered', async () => {
      const gate = createAckGate({ maxWaitMs: 10_000, maxBacklog: 3 });
      const works = [held(), held(), held()];
      const ran = works.map((w) => gate.behind(w.work));
      for (let i = 0; i < 5; i += 1) await nextTurn();
      expect(works.map((w) => w.started())).toEqual([true, true, true]);
      // Three under way: a request waiting for its answer no longer holds new work back.
      const unanswered = response();
      gate.arrived(unanswered);
      const fourth = held();
      const ranFourth = gate.behind(fourth.work);
      await nextTurn();
      expect(fourth.started()).toBe(true);
      // Below the backlog again: new work gives way to the unanswered request once more.
      for (const w of [...works, fourth]) w.finish();
      await Promise.all([...ran, ranFourth]);
      const fifth = held();
      const ranFifth = gate.behind(fifth.work);
      for (let i = 0; i < 5; i += 1) await nextTurn();
      expect(fifth.started()).toBe(false);
      expect(gate.waiting()).toEqual({ requests: 1, work: 1, running: 0 });
      unanswered.close();
      fifth.finish();
      await ranFifth;
      expect(fifth.started()).toBe(true);
    });
  });
});
