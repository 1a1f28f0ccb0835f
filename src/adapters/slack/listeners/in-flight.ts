import type { App } from '@slack/bolt';

/** How long shutdown waits for listeners already running (an approval mid-way through opening rules). */
const DRAIN_TIMEOUT_MS = 20_000;

export type InFlight = {
  /** Waits for the listeners running now, up to `DRAIN_TIMEOUT_MS` (shutdown). */
  readonly drain: () => Promise<void>;
  /** Waits for every listener running now, and any they start meanwhile (tests). */
  readonly settled: () => Promise<void>;
  /** Counts work a listener left running behind it (see `goOnBehind`) as in progress until it ends. */
  readonly track: (work: Promise<void>) => void;
};

/**
 * Counts listeners in progress, so shutdown can let them finish (their AWS calls and database
 * writes) instead of cutting them off half-way. Global middleware: registered before any listener.
 */
export function trackInFlight(app: App): InFlight {
  const running = new Set<Promise<void>>();
  const track = (work: Promise<void>): void => {
    running.add(work);
    work.then(
      () => running.delete(work),
      () => running.delete(work),
    );
  };
  app.use(async ({ next }) => {
    const work = next();
    track(work);
    await work;
  });
  const settled = async (): Promise<void> => {
    while (running.size > 0) await Promise.allSettled([...running]);
  };
  const drain = async (): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, DRAIN_TIMEOUT_MS);
    });
    await Promise.race([settled(), timeout]);
    clearTimeout(timer);
  };
  return { drain, settled, track };
}
