import { Worker } from 'node:worker_threads';
import { signRequest, unixSeconds } from '../tests/support/slack-signing';

/**
 * The load generator of the `ack` figures, on a thread of its own: posts signed requests with at most
 * `inFlight` in flight and times each from sending to the whole HTTP answer. Off the bot's thread, as
 * Slack is: a client on the bot's own event loop would read each answer only after the work the bot
 * starts behind its ack had run, and time that work as if it were the ack.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
parentPort.on('message', async ({ id, url, requests, inFlight }) => {
  try {
    const times = new Array(requests.length);
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const i = next++;
        const { body, headers } = requests[i];
        const started = performance.now();
        const res = await fetch(url, { method: 'POST', headers, body });
        const text = await res.text();
        times[i] = performance.now() - started;
        if (res.status !== 200) throw new Error(url + ' answered ' + res.status + ': ' + text);
      }
    };
    await Promise.all(Array.from({ length: Math.min(inFlight, requests.length) }, worker));
    parentPort.postMessage({ id, times });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.stack || error) });
  }
});
`;

type Answer = { id: number; times?: number[]; error?: string };

export type HttpLoad = {
  /** Posts each form-encoded body to `url`, signed with `secret` now; resolves with each one's time in ms, in order. */
  post(url: string, bodies: readonly string[], secret: string, inFlight: number): Promise<number[]>;
  close(): Promise<void>;
};

export function startHttpLoad(): HttpLoad {
  const worker = new Worker(WORKER_SOURCE, { eval: true });
  const waiting = new Map<number, { resolve: (t: number[]) => void; reject: (e: Error) => void }>();
  let ids = 0;
  worker.on('message', (answer: Answer) => {
    const w = waiting.get(answer.id);
    if (w === undefined) return;
    waiting.delete(answer.id);
    if (answer.times !== undefined) w.resolve(answer.times);
    else w.reject(new Error(answer.error ?? 'the load thread failed'));
  });
  worker.on('error', (error) => {
    for (const w of waiting.values()) w.reject(error);
    waiting.clear();
  });
  return {
    post(url, bodies, secret, inFlight) {
      const timestamp = unixSeconds();
      const requests = bodies.map((body) => ({
        body,
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          ...signRequest(secret, body, timestamp),
        },
      }));
      const id = ++ids;
      return new Promise<number[]>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        worker.postMessage({ id, url, requests, inFlight });
      });
    },
    close: () => worker.terminate().then(() => undefined),
  };
}
