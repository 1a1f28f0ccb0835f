import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';

/**
 * Longest a listener's work waits behind other requests' acks. A burst of clicks is acked in tens of
 * milliseconds; past this, work goes ahead even while requests keep coming, so it is never starved.
 */
export const ACK_GATE_MAX_WAIT_MS = 250;

/**
 * Listeners under way (waiting their turn, or started and not finished) beyond which acks stop going
 * first. Giving way to acks lets Slack send the next request sooner; under a flood that outruns the
 * work (opens queue on each security group's lock), that would pile up listeners in memory without
 * bound: 10,000 requests at 16 in flight ran the heap out of its 256 MiB. Past this many, new work
 * starts on the loop's next turn as it did before the gate, sharing the loop with the acks, so a flood
 * slows its own acks instead. A channel's burst of clicks (tens) stays well under it.
 */
export const ACK_GATE_MAX_BACKLOG = 100;

export type AckGateOptions = {
  /** `ACK_GATE_MAX_WAIT_MS` unless a test lengthens or shortens it. */
  readonly maxWaitMs?: number | undefined;
  /** `ACK_GATE_MAX_BACKLOG` unless a test changes it. */
  readonly maxBacklog?: number | undefined;
};

export type AckGate = {
  /** Counts a Slack request as waiting for its answer, from its arrival until its response closes. */
  readonly arrived: (res: ServerResponse) => void;
  /**
   * Resolves when no Slack request is waiting for its answer, one caller per turn of the event loop
   * (first come, first served), or once the caller has waited `maxWaitMs` whatever else is waiting.
   */
  readonly turn: () => Promise<void>;
  /**
   * Runs a listener's `work` once it has its `turn`, counted as under way until it settles; while
   * `maxBacklog` or more are under way, on the loop's next turn instead (see `ACK_GATE_MAX_BACKLOG`).
   */
  readonly behind: (work: () => Promise<void>) => Promise<void>;
  /** Slack requests waiting for their answer, listeners waiting their turn, listeners started and not done. */
  readonly waiting: () => { readonly requests: number; readonly work: number; readonly running: number };
};

/**
 * Work behind Slack's acks (the vote's transaction, the AWS calls, the notices) gives way to acks.
 * Slack wants every answer within 3 s, and each click's work is many times its ack: with twenty
 * clicks in flight on one event loop, each ack would otherwise wait for the synchronous pieces of the
 * others' work (the database, audit hashing, the AWS SDK). Listeners wait here after acking until no
 * Slack request is left unanswered, then start one per turn of the loop, so a request that arrives
 * meanwhile is read and acked between two of them. None waits longer than `maxWaitMs`.
 */
export function createAckGate(options: AckGateOptions = {}): AckGate {
  const maxWaitMs = options.maxWaitMs ?? ACK_GATE_MAX_WAIT_MS;
  const maxBacklog = options.maxBacklog ?? ACK_GATE_MAX_BACKLOG;
  let requests = 0;
  let running = 0;
  const queue: { readonly since: number; readonly go: () => void }[] = [];
  let immediate = false;
  let timer: NodeJS.Timeout | undefined;

  /** A release on the loop's next turn, after the I/O already waiting (new requests among it). */
  const kick = (): void => {
    if (immediate || queue.length === 0) return;
    immediate = true;
    setImmediate(release);
  };
  /** A timer for when the oldest waiter has waited long enough. */
  const arm = (): void => {
    const oldest = queue[0];
    if (timer !== undefined || oldest === undefined) return;
    timer = setTimeout(
      () => {
        timer = undefined;
        kick();
      },
      Math.max(0, oldest.since + maxWaitMs - performance.now()),
    );
  };
  const release = (): void => {
    immediate = false;
    if (requests === 0) queue.shift()?.go();
    else {
      const now = performance.now();
      while (queue[0] !== undefined && now - queue[0].since >= maxWaitMs) queue.shift()?.go();
    }
    if (queue.length === 0) {
      clearTimeout(timer);
      timer = undefined;
    } else if (requests === 0) kick();
    else arm();
  };

  const turn = (): Promise<void> =>
    new Promise<void>((go) => {
      queue.push({ since: performance.now(), go });
      if (requests === 0) kick();
      else arm();
    });

  return {
    arrived: (res) => {
      requests += 1;
      res.once('close', () => {
        requests -= 1;
        if (requests === 0) kick();
      });
    },
    turn,
    behind: async (work) => {
      if (running + queue.length < maxBacklog) await turn();
      else await new Promise<void>((resolve) => setImmediate(resolve));
      running += 1;
      try {
        await work();
      } finally {
        running -= 1;
      }
    },
    waiting: () => ({ requests, work: queue.length, running }),
  };
}
