import type { SocketModeReceiver } from '@slack/bolt';
import { describeError } from '../../app/infra-error';
import type { Logger } from '../../app/ports';

export type SocketClient = SocketModeReceiver['client'];

/**
 * Longest one attempt to open a link may take: `apps.connections.open` (10 s at most), the WebSocket
 * handshake, and Slack's `hello`. Past it the attempt is abandoned (the socket cut) and retried, so a
 * Slack that accepts the connection and then says nothing cannot stall reconnection.
 */
export const SOCKET_ATTEMPT_TIMEOUT_MS = 30_000;
/** Envelope ids remembered to drop a delivery that arrives on two links (Slack retries on another link). */
const SEEN_ENVELOPES = 2_000;

/** Log lines of the links (tests and operators look for them). */
export const LINK_LOG = {
  refreshing: 'Slack asked to refresh a Socket Mode link; opening its replacement first',
  handedOver: 'Socket Mode link handed over to a new one without a gap',
  handOverFailed:
    'could not open the replacement Socket Mode link; keeping the old one until Slack closes it',
  duplicate: 'dropped a Socket Mode delivery already received on another link',
} as const;

export type SocketLinks = {
  /** Opens one more link (`apps.connections.open`, then the WebSocket until `hello`); rejects when that fails. */
  open(): Promise<void>;
  /** Whether at least one link is up. */
  up(): boolean;
  /** Closes every link. */
  closeAll(): Promise<void>;
};

/**
 * Socket Mode links to Slack, handed over without a gap. Bolt listens on `hub` — a socket client that
 * is never started — and each link is a client of its own whose deliveries are passed to the hub,
 * acked on the link they came from, each envelope once (Slack may redeliver on another link). When
 * Slack sends `{"type":"disconnect"}` (a routine `refresh_requested`, or a `warning` before it closes a
 * link) the link is kept and a new one is opened first (Slack allows several per app); only once the
 * new one has said `hello` is the old one closed, so commands keep arriving throughout. If the new one
 * cannot open, the old one stays until Slack closes it, and its loss is reported like any other.
 * `lost()` is called when the last link is gone and no replacement is on its way.
 */
export function createSocketLinks(deps: {
  readonly hub: SocketClient;
  /** A new, unstarted socket client with its own reconnection off. */
  readonly newClient: () => SocketClient;
  /** Prepares a new client's message handling (the malformed-envelope guard). */
  readonly prepare: (client: SocketClient) => void;
  readonly log: Logger;
  /** A link said `hello` (the first, or a replacement). */
  readonly onUp: () => void;
  /** The last link closed (a replacement may still be on its way). */
  readonly onDown: () => void;
  /** No link is left and none is on its way: reconnecting is the caller's. */
  readonly onLost: () => void;
}): SocketLinks {
  const { log } = deps;
  /** Links that have said `hello` and not closed. */
  const live = new Set<SocketClient>();
  const seen = new Set<string>();
  let handingOver = false;
  let stopping = false;

  const remember = (id: string): boolean => {
    if (seen.has(id)) return false;
    seen.add(id);
    if (seen.size > SEEN_ENVELOPES) {
      const oldest = seen.values().next().value;
      if (oldest !== undefined) seen.delete(oldest);
    }
    return true;
  };

  const refresh = (old: SocketClient, reason: string): void => {
    if (handingOver || stopping) return;
    handingOver = true;
    log.info({ reason }, LINK_LOG.refreshing);
    open().then(
      async () => {
        handingOver = false;
        log.info({ reason, links: live.size }, LINK_LOG.handedOver);
        await old.disconnect().catch(() => undefined);
      },
      (error: unknown) => {
        handingOver = false;
        log.warn({ reason, err: describeError(error) }, LINK_LOG.handOverFailed);
        if (live.size === 0 && !stopping) deps.onLost();
      },
    );
  };

  const open = async (): Promise<void> => {
    const client = deps.newClient();
    // The client's own message listener disconnects at once on `disconnect`: ours opens a replacement first.
    const own = client.listeners('ws_message') as ((data: unknown, isBinary: boolean) => unknown)[];
    client.removeAllListeners('ws_message');
    client.on('ws_message', (data: unknown, isBinary: boolean) => {
      const disconnect = disconnectReason(data);
      if (disconnect !== undefined) return refresh(client, disconnect);
      return Promise.all(own.map((listener) => listener.call(client, data, isBinary)));
    });
    deps.prepare(client);
    // Its receiver's own dispatch has no app: every delivery goes to the hub instead, once.
    client.removeAllListeners('slack_event');
    client.on('slack_event', (args: { envelope_id?: string; ack: (response?: object) => Promise<void> }) => {
      const id = args.envelope_id;
      if (id !== undefined && !remember(id)) {
        log.info({ envelopeId: id }, LINK_LOG.duplicate);
        args.ack().catch(() => undefined);
        return;
      }
      deps.hub.emit('slack_event', args);
    });
    client.on('connected', () => {
      live.add(client);
    });
    client.on('disconnected', () => {
      const was = live.delete(client);
      if (!was || live.size > 0) return;
      deps.onDown();
      if (!handingOver && !stopping) deps.onLost();
    });
    await openSocket(client);
    if (stopping) {
      await client.disconnect();
      return;
    }
    if (!live.has(client)) throw new Error('the Socket Mode connection closed as it opened');
    deps.onUp();
  };

  return {
    open,
    up: () => live.size > 0,
    async closeAll() {
      stopping = true;
      await Promise.all([...live].map((c) => c.disconnect().catch(() => undefined)));
    },
  };
}

/** The reason of a `{"type":"disconnect"}` message (`refresh_requested`, `warning`, …), else undefined. */
function disconnectReason(data: unknown): string | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(data);
    if (typeof parsed !== 'object' || parsed === null || Reflect.get(parsed, 'type') !== 'disconnect')
      return undefined;
    const reason = Reflect.get(parsed, 'reason');
    return typeof reason === 'string' ? reason : 'unspecified';
  } catch {
    return undefined;
  }
}

/**
 * One attempt to open a link: `apps.connections.open`, then the WebSocket until Slack's `hello`.
 * Rejects when either fails or the whole takes longer than `SOCKET_ATTEMPT_TIMEOUT_MS` (the half-open
 * socket is then cut). Real time, like every network timeout here: it bounds I/O, not a schedule.
 */
export function openSocket(client: SocketClient): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const finish = (error?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error === undefined) resolve();
      else reject(error);
    };
    const timer = setTimeout(() => {
      finish(new Error(`no Socket Mode connection within ${SOCKET_ATTEMPT_TIMEOUT_MS / 1000} s`));
      client.disconnect().catch(() => undefined);
    }, SOCKET_ATTEMPT_TIMEOUT_MS);
    client.start().then(
      () => finish(),
      // The client rejects with nothing when the socket closes before `hello`.
      (error: unknown) =>
        finish(error ?? new Error('the Socket Mode connection closed before Slack said hello')),
    );
  });
}
