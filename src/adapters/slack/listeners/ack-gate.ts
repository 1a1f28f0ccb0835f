import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';

/**
 * Longest a listener's work waits behind other requests' acks. A burst of clicks is acked in tens of
 * milliseconds; past this, work goes ahead even while requests keep coming, so it is never starved.
 */
export const ACK_GATE_MAX_WAIT_MS = 250;

export type AckGate = {
  /** Counts a Slack request as waiting for its answer, from its arrival until its response closes. */
  readonly arrived: (res: ServerResponse) => void;
  /**
   * Resolves when no Slack request is waiting for its answer, one caller per turn of the event loop
   * (first come, first served), or once the caller has waited `maxWaitMs` whatever else is waiting.
   */
  readonly turn: () => Promise<void>;
  /** Slack requests waiting for their answer, and listeners waiting for their turn (metrics, tests). */
  readonly waiting: () => { readonly requests: number; readonly work: number };
};

/**
 * Work behind Slack's acks (the vote's transaction, the AWS calls, the notices) gives way to acks.
 * Slack wants every answer within 3 s, and each click's work is many times its ack: with twenty
 * clicks in flight on one event loop, each ack would otherwise wait for the synchronous pieces of the
 * others' work (the database, audit hashing, the AWS SDK). Listeners wait here after acking until no
 * Slack request is left unanswered, then start one per turn of the loop, so a request that arrives
 * meanwhile is read and acked between two of them. None waits longer than `maxWaitMs`.
 */
export function createAckGate(maxWaitMs: number = ACK_GATE_MAX_WAIT_MS): AckGate {
  let requests = 0;
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

  return {
    arrived: (res) => {
      requests += 1;
      res.once('close', () => {
        requests -= 1;
        if (requests === 0) kick();
      });
    },
    turn: () =>
      new Promise<void>((go) => {
        queue.push({ since: performance.now(), go });
        if (requests === 0) kick();
        else arm();
      }),
    waiting: () => ({ requests, work: queue.length }),
  };
}
