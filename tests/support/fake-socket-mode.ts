import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * A stand-in for Slack's Socket Mode endpoint: a WebSocket server on 127.0.0.1 and an ephemeral
 * port. Give `url` to the Slack stand-in's `apps.connections.open` (`setSocketModeUrl`); the bot's
 * socket client connects, is sent `hello` (as Slack does), and the test then sends envelopes —
 * well-formed or not — and reads the client's acks (`{ envelope_id, payload }`).
 */
export interface FakeSocketMode {
  /** `ws://127.0.0.1:<port>/link/` */
  readonly url: string;
  /** Resolves once a client is connected and has been sent `hello`. */
  connected(): Promise<void>;
  /** How many connections clients have opened so far (a reconnection adds one). */
  readonly connections: number;
  /** Resolves once `count` connections have been opened in all (e.g. 2: the first and one reconnection); rejects after `timeoutMs`. */
  connectionsReach(count: number, timeoutMs?: number): Promise<void>;
  /** Closes the current client's socket from the server side (a close frame, as when Slack recycles a connection). */
  closeClient(): void;
  /** Sends a text frame as is (any string, JSON or not) to the connected client. */
  sendText(text: string): void;
  /** Sends a binary frame. */
  sendBinary(bytes: Buffer): void;
  /** Sends an envelope as JSON. */
  sendEnvelope(envelope: Record<string, unknown>): void;
  /**
   * Sends `{"type":"disconnect","reason":…}` to the current client, as Slack does some seconds before it
   * closes a link (`refresh_requested`, `warning`); the link stays open until the client closes it.
   */
  sendDisconnect(reason: string): void;
  /** Sends an envelope on the `n`th connection (1: the first), whether or not a newer one exists. */
  sendEnvelopeOn(n: number, envelope: Record<string, unknown>): void;
  /** Whether the `n`th connection is still open. */
  isOpen(n: number): boolean;
  /** Resolves once the client has closed the `n`th connection; rejects after `timeoutMs`. */
  closedByClient(n: number, timeoutMs?: number): Promise<void>;
  /** The connection (1: the first) each message in `received` came on, in the same order. */
  readonly receivedOn: readonly number[];
  /** Every message the client sent, parsed (acks), oldest first. */
  readonly received: readonly Record<string, unknown>[];
  /** Resolves with the client's ack of `envelopeId`; rejects after `timeoutMs`. */
  ackOf(envelopeId: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startFakeSocketMode(): Promise<FakeSocketMode> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const received: Record<string, unknown>[] = [];
  const listeners = new Set<() => void>();
  let socket: WebSocket | undefined;
  const sockets: WebSocket[] = [];
  const receivedOn: number[] = [];
  let connections = 0;
  const connectionListeners = new Set<() => void>();
  let onConnected: (() => void) | undefined;
  const whenConnected = new Promise<void>((resolve) => {
    onConnected = resolve;
  });

  server.on('connection', (ws) => {
    socket = ws;
    sockets.push(ws);
    const n = sockets.length;
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      receivedOn.push(n);
      try {
        const parsed: unknown = JSON.parse(data.toString());
        if (typeof parsed === 'object' && parsed !== null) received.push(parsed as Record<string, unknown>);
      } catch {
        received.push({ unparsable: data.toString() });
      }
      for (const l of [...listeners]) l();
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: 1,
        debug_info: { host: 'fake-socket-mode', approximate_connection_time: 18060 },
        connection_info: { app_id: 'A0HALLPASS' },
      }),
    );
    onConnected?.();
    connections += 1;
    for (const l of [...connectionListeners]) l();
  });

  const nth = (n: number): WebSocket => {
    const ws = sockets[n - 1];
    if (ws === undefined) throw new Error(`fake Socket Mode: no connection ${n}`);
    return ws;
  };
  const current = (): WebSocket => {
    if (socket === undefined) throw new Error('fake Socket Mode: no client connected');
    return socket;
  };

  return {
    url: `ws://127.0.0.1:${port}/link/`,
    connected: () => whenConnected,
    get connections() {
      return connections;
    },
    connectionsReach: (count, timeoutMs = 5_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (connections < count) return;
          connectionListeners.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          connectionListeners.delete(check);
          reject(
            new Error(`fake Socket Mode: ${connections} connections, not ${count}, within ${timeoutMs} ms`),
          );
        }, timeoutMs);
        connectionListeners.add(check);
        check();
      }),
    closeClient: () => current().close(1001, 'going away'),
    sendText: (text) => current().send(text),
    sendBinary: (bytes) => current().send(bytes, { binary: true }),
    sendEnvelope: (envelope) => current().send(JSON.stringify(envelope)),
    sendDisconnect: (reason) =>
      current().send(
        JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'fake-socket-mode' } }),
      ),
    sendEnvelopeOn: (n, envelope) => nth(n).send(JSON.stringify(envelope)),
    isOpen: (n) => nth(n).readyState === nth(n).OPEN,
    closedByClient: (n, timeoutMs = 5_000) =>
      new Promise((resolve, reject) => {
        const ws = nth(n);
        if (ws.readyState === ws.CLOSED) return resolve();
        const timer = setTimeout(
          () => reject(new Error(`fake Socket Mode: connection ${n} still open after ${timeoutMs} ms`)),
          timeoutMs,
        );
        ws.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      }),
    get receivedOn() {
      return receivedOn;
    },
    get received() {
      return received;
    },
    ackOf: (envelopeId, timeoutMs = 5_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const ack = received.find((m) => m['envelope_id'] === envelopeId);
          if (ack === undefined) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve(ack);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`fake Socket Mode: no ack of ${envelopeId} within ${timeoutMs} ms`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
    close: async () => {
      // A close handshake first, as Slack's end does: a client cut off mid-handshake waits 30 s for it.
      await Promise.all(
        [...server.clients].map(
          (client) =>
            new Promise<void>((resolve) => {
              const cut = setTimeout(() => {
                client.terminate();
                resolve();
              }, 1_000);
              client.once('close', () => {
                clearTimeout(cut);
                resolve();
              });
              client.close(1001, 'going away');
            }),
        ),
      );
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
