import { randomBytes } from 'node:crypto';
import { Client, type ClientConfig, type Pool } from 'pg';
import type { ChangeFeed, ChangeKind, Logger } from '../../../app/ports';

/** The channel every replica listens on; the payload is the `ChangeKind`. */
export const PG_CHANGE_CHANNEL = 'hallpass_changes';

const KINDS: readonly ChangeKind[] = ['due', 'outbox', 'home'];
const isKind = (s: string | undefined): s is ChangeKind => KINDS.some((k) => k === s);

/** A `ChangeFeed` over `LISTEN`/`NOTIFY` that can be stopped. */
export type PgChangeFeed = ChangeFeed & {
  /** Resolves once the first `LISTEN` is in place (it keeps retrying until then). */
  ready(): Promise<void>;
  /** Stops listening and reconnecting; publishing afterwards does nothing. Calling it again does nothing. */
  close(): Promise<void>;
};

export type PgChangeFeedDeps = {
  /** Where `publish` runs `pg_notify` (any pooled connection will do). */
  readonly pool: Pick<Pool, 'query'>;
  /** The settings of the dedicated `LISTEN` connection (the database's URL, as the pool's). */
  readonly listen: ClientConfig;
  /** Delivers each notification within this process (`createLocalChangeFeed()`); subscribers live there. */
  readonly local: ChangeFeed;
  readonly logger: Logger;
  /** Waits between reconnection attempts: from `minMs`, doubling, up to `maxMs` (100 ms → 5 s). */
  readonly backoff?: { readonly minMs: number; readonly maxMs: number };
};

/**
 * `ChangeFeed` across replicas: `publish` hands the change to this process's subscribers at once and
 * sends `NOTIFY hallpass_changes` with `<kind>:<origin>` (fire and forget: a failure is logged, never
 * thrown — the periodic re-read from the database covers a lost wake-up); one dedicated connection per
 * process `LISTEN`s and hands every other process's notifications to `local`'s subscribers.
 *
 * When the `LISTEN` connection drops (a server restart, `pg_terminate_backend`, a network cut), it
 * reconnects with capped exponential backoff, and once listening again calls every subscriber with
 * every kind: notifications sent while it was away are lost, so each subscriber re-reads everything.
 */
export function createPgChangeFeed(deps: PgChangeFeedDeps): PgChangeFeed {
  const { minMs, maxMs } = deps.backoff ?? { minMs: 100, maxMs: 5_000 };
  /** Names this process in its notifications (`<kind>:<origin>`), so it does not hear its own twice. */
  const origin = randomBytes(6).toString('hex');
  let closed = false;
  let client: Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let delay = minMs;
  let listenedBefore = false;
  let markReady: () => void = () => {};
  const readyPromise = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  const catchUp = (): void => {
    for (const kind of KINDS) deps.local.publish(kind);
  };

  const scheduleReconnect = (): void => {
    if (closed || retry !== undefined) return;
    retry = setTimeout(() => {
      retry = undefined;
      void connect();
    }, delay);
    delay = Math.min(delay * 2, maxMs);
  };

  /** Opens a connection and listens; on any failure, destroys it and tries again later. */
  const connect = async (): Promise<void> => {
    // TCP keepalive, so a connection cut without a reset (a vanished host) is noticed too, eventually.
    const c = new Client({ keepAlive: true, ...deps.listen });
    let gone = false;
    const lose = (why: string): void => {
      if (gone) return;
      gone = true;
      if (client === c) client = undefined;
      void c.end().catch(() => undefined);
      if (closed) return;
      deps.logger.warn(
        { err: why, retryInMs: delay },
        'change feed: LISTEN connection lost or refused; retrying',
      );
      scheduleReconnect();
    };
    c.on('error', (e) => lose(e.message));
    c.on('end', () => lose('connection ended'));
    c.on('notification', (n) => {
      if (n.channel !== PG_CHANGE_CHANNEL) return;
      const [kind, from] = (n.payload ?? '').split(':');
      // This process's own changes were delivered here when published.
      if (from === origin) return;
      if (isKind(kind)) deps.local.publish(kind);
      else deps.logger.warn({ payload: n.payload }, 'change feed: unknown change kind ignored');
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${PG_CHANGE_CHANNEL}`);
    } catch (e) {
      lose(e instanceof Error ? e.message : String(e));
      return;
    }
    if (gone) return;
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    client = c;
    delay = minMs;
    if (listenedBefore) {
      deps.logger.info({}, 'change feed: listening again; every subscriber re-reads');
      catchUp();
    }
    listenedBefore = true;
    markReady();
  };

  void connect();

  /** Kinds whose `NOTIFY` is on its way, and those published again meanwhile. */
  const sending = new Set<ChangeKind>();
  const again = new Set<ChangeKind>();
  /**
   * One `NOTIFY` per kind at a time: publications made while one is on its way are told by one more
   * sent after it (which still follows every change they announce). A burst — three notices queued
   * per closed grant, thousands of grants ending — costs every replica a few re-reads, not one each.
   */
  const notify = (kind: ChangeKind): void => {
    if (sending.has(kind)) {
      again.add(kind);
      return;
    }
    sending.add(kind);
    deps.pool
      .query('SELECT pg_notify($1, $2)', [PG_CHANGE_CHANNEL, `${kind}:${origin}`])
      .catch((e: unknown) => {
        deps.logger.warn(
          { kind, err: e instanceof Error ? e.message : String(e) },
          'change feed: publish failed; replicas will see the change at their next re-read',
        );
      })
      .finally(() => {
        sending.delete(kind);
        if (again.delete(kind) && !closed) notify(kind);
      });
  };

  return {
    publish(kind) {
      if (closed) return;
      // Here at once (no round trip before this process's own loops wake), then every other replica.
      deps.local.publish(kind);
      notify(kind);
    },
    subscribe: (fn) => deps.local.subscribe(fn),
    ready: () => readyPromise,
    async close() {
      if (closed) return;
      closed = true;
      if (retry !== undefined) clearTimeout(retry);
      retry = undefined;
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
