import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import {
  App,
  AuthorizationError,
  HTTPModuleFunctions,
  HTTPReceiver,
  type ReceiverDispatchErrorHandlerArgs,
  type ReceiverProcessEventErrorHandlerArgs,
  type ReceiverUnhandledRequestHandlerArgs,
  SocketModeReceiver,
  type SocketModeReceiverProcessEventErrorHandlerArgs,
  verifySlackRequest,
} from '@slack/bolt';
import type { WebClientOptions } from '@slack/web-api';
import { z } from 'zod';
import type { Logger } from '../../app/ports';
import type { ListenerContext } from './context';
import { registerListeners } from './listeners';
import { boltLogger } from './logger';

export type SlackAppOptions = {
  readonly botToken: string;
  /** Required in HTTP mode: every request's signature is verified with it; verification is never disabled. */
  readonly signingSecret?: string | undefined;
  /** When set, Socket Mode is used instead of HTTP. */
  readonly appToken?: string | undefined;
  /** Base URL of the Slack Web API (with trailing slash), for a proxy or a local stand-in. */
  readonly apiUrl?: string | undefined;
  /** Options of the clients Bolt hands to listeners, used exactly as given (compose: single attempts). */
  readonly clientOptions?: WebClientOptions;
  readonly context: ListenerContext;
};

/** Serves one HTTP request whose body has been read (the shape of the HTTP adapter's handlers). */
export type SlackRequestHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** A route for the HTTP adapter's router: `POST /slack/events`. */
export type SlackRoute = {
  readonly path: '/slack/events';
  readonly methods: { readonly POST: SlackRequestHandler };
};

export type SlackRuntime = {
  readonly app: App;
  /** HTTP mode: the route Slack posts to, for the HTTP server to serve. Socket Mode: none. */
  readonly route: SlackRoute | undefined;
  /** Resolves when every listener already running has finished (tests; shutdown uses it with a time limit). */
  settled(): Promise<void>;
  /** Disconnects Socket Mode, then lets listeners in progress finish (up to 20 s). Close the HTTP server first. */
  stop(): Promise<void>;
};

/** Largest body accepted: a slash command or interaction is a few KB; anything far larger is refused (413). */
export const BODY_LIMIT_BYTES = 256 * 1024;
/** Slack signs with a timestamp; Bolt refuses old ones, we also refuse ones from the future. */
const MAX_SKEW_SECONDS = 5 * 60;
/** Longest wait for `apps.connections.open` (Socket Mode), so start-up and reconnection cannot hang. */
const SOCKET_OPEN_TIMEOUT_MS = 10_000;

/**
 * Builds the Bolt app. HTTP by default: returns the `POST /slack/events` route for the HTTP server
 * (which owns the port). Socket Mode when an app token is given: connects, and returns no route.
 */
export async function startSlackApp(opts: SlackAppOptions): Promise<SlackRuntime> {
  const log = opts.context.logger;
  const logger = boltLogger(log);
  // A copy: Bolt writes its logger into the options it is given.
  const clientOptions: WebClientOptions = {
    ...(opts.apiUrl === undefined ? {} : { slackApiUrl: opts.apiUrl }),
    ...opts.clientOptions,
  };

  if (opts.appToken !== undefined) {
    const receiver = new SocketModeReceiver({
      appToken: opts.appToken,
      logger,
      // The socket client's own options: it sets its reconnection retries (about 100) on this object,
      // which must never be the one the listeners' clients are built from.
      installerOptions: {
        clientOptions: {
          ...(opts.apiUrl === undefined ? {} : { slackApiUrl: opts.apiUrl }),
          timeout: SOCKET_OPEN_TIMEOUT_MS,
        },
      },
      processEventErrorHandler: socketEventErrorHandler(log),
    });
    guardSocketMessages(receiver.client, log);
    const app = new App({
      token: opts.botToken,
      receiver,
      socketMode: true,
      logger,
      clientOptions,
      deferInitialization: true,
    });
    const { drain, settled } = trackInFlight(app);
    registerListeners(app, opts.context);
    logListenerErrors(app, log);
    await app.init();
    await app.start();
    return {
      app,
      route: undefined,
      settled,
      stop: async () => {
        await app.stop();
        await drain();
      },
    };
  }

  const signingSecret = opts.signingSecret;
  if (signingSecret === undefined) throw new Error('SLACK_SIGNING_SECRET is required in HTTP mode');
  const receiver = new HTTPReceiver({
    signingSecret,
    endpoints: '/slack/events',
    processBeforeResponse: false,
    signatureVerification: true,
    bodyLimit: BODY_LIMIT_BYTES,
    logger,
    dispatchErrorHandler: dispatchError(log),
    processEventErrorHandler: httpEventErrorHandler(log),
    unhandledRequestHandler: unacknowledged(log),
  });
  const app = new App({ token: opts.botToken, receiver, logger, clientOptions, deferInitialization: true });
  const { drain, settled } = trackInFlight(app);
  registerListeners(app, opts.context);
  logListenerErrors(app, log);
  await app.init();
  return {
    app,
    route: { path: '/slack/events', methods: { POST: slackEvents(receiver, signingSecret, log) } },
    settled,
    stop: drain,
  };
}

/**
 * `POST /slack/events`. Refuses here, before Bolt, what Bolt would mishandle: a timestamp from the
 * future (Bolt accepts it), a bad signature (401, as Bolt would), a signed body Bolt cannot route
 * (400 at once; `null` would make Bolt throw outside any handler, `[]` or `{}` would hang for 3 s).
 * The rest goes to Bolt's receiver, which verifies the signature again and answers at `ack()`.
 */
function slackEvents(receiver: HTTPReceiver, signingSecret: string, log: Logger): SlackRequestHandler {
  return (req, res, body) => {
    if (fromTheFuture(req)) {
      log.warn({ reason: 'timestamp in the future' }, 'refused an unsigned or badly signed Slack request');
      return noBody(res, 401);
    }
    const text = body.toString('utf8');
    const contentType = req.headers['content-type'];
    // Slack's SSL check is unsigned by design; Bolt answers it (and strips anything else from it).
    const sslCheck = contentType === FORM && parseQuery(text)['ssl_check'] === '1';
    if (!sslCheck) {
      const refusal = signatureRefusal(req, text, signingSecret);
      if (refusal !== undefined) {
        log.warn({ reason: refusal }, 'refused an unsigned or badly signed Slack request');
        return noBody(res, 401);
      }
      const problem = unroutable(req, body);
      if (problem !== undefined) {
        log.warn({ reason: problem }, 'refused a signed Slack request Bolt cannot route');
        return noBody(res, 400);
      }
    }
    // Bolt reads `rawBody` instead of the (already consumed) stream.
    const buffered = Object.assign(req, { rawBody: body });
    try {
      receiver.requestListener(buffered, res);
    } catch (error) {
      dispatchError(log)({ error: asError(error), logger: boltLogger(log), request: req, response: res });
    }
  };
}

const FORM = 'application/x-www-form-urlencoded';

/** Why the signature does not hold (missing headers, stale, mismatch), or undefined when it does. */
function signatureRefusal(req: IncomingMessage, text: string, signingSecret: string): string | undefined {
  const signature = req.headers['x-slack-signature'];
  const timestamp = req.headers['x-slack-request-timestamp'];
  if (typeof signature !== 'string' || typeof timestamp !== 'string') return 'signature headers missing';
  try {
    verifySlackRequest({
      signingSecret,
      body: text,
      headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': Number(timestamp) },
    });
    return undefined;
  } catch (error) {
    return asError(error).message;
  }
}

/** Bodies Bolt knows how to route (its `getTypeAndConversation`), plus the URL verification handshake. */
const INTERACTIVE_TYPES = [
  'block_actions',
  'block_suggestion',
  'interactive_message',
  'dialog_submission',
  'dialog_suggestion',
  'shortcut',
  'message_action',
  'view_submission',
  'view_closed',
] as const;
const routableBody = z.union([
  z.object({ type: z.literal('url_verification'), challenge: z.string() }),
  z.object({ event: z.object({ type: z.string() }) }),
  z.object({ command: z.string() }),
  z.object({ type: z.enum(INTERACTIVE_TYPES) }),
]);

/** Why Bolt could not route this signed body (unparsable, not an object, unknown kind), or undefined. */
function unroutable(req: IncomingMessage, body: Buffer): string | undefined {
  let parsed: unknown;
  try {
    // Exactly Bolt's own parsing (form with a JSON `payload`, form, or JSON), so the two cannot disagree.
    parsed = HTTPModuleFunctions.parseHTTPRequestBody(Object.assign(req, { rawBody: body }));
  } catch {
    return 'body is not what its content type says';
  }
  return routableBody.safeParse(parsed).success ? undefined : 'not a Slack event, command or interaction';
}

/**
 * Bolt's dispatch error handler (a throw while handing the request to Bolt): 500, logged. The
 * router only sends `POST /slack/events` here, so Bolt's "unhandled path" case cannot arise.
 */
function dispatchError(log: Logger): (args: ReceiverDispatchErrorHandlerArgs) => void {
  return ({ error, request, response }) => {
    log.error({ err: describe(error), url: request.url }, 'Slack request could not be dispatched');
    answerIfOpen(response, 500);
  };
}

/**
 * Bolt's handler for an error out of a request's processing (a listener or middleware threw, after
 * `app.error` logged it). Never rejects: a rejection here would escape Bolt's receiver unhandled.
 * Answers 401 for a failed authorization and 500 otherwise, unless `ack()` already answered.
 * Returns true when it answered, which stops Bolt's 3-second "not acknowledged" timer.
 */
function httpEventErrorHandler(
  log: Logger,
): (args: ReceiverProcessEventErrorHandlerArgs) => Promise<boolean> {
  return async ({ error, response }) => {
    try {
      if (response.headersSent) return false;
      const status = error instanceof AuthorizationError ? 401 : 500;
      log.warn({ status, err: describe(error) }, 'answered a Slack request whose processing failed');
      answerIfOpen(response, status);
      return true;
    } catch (failure) {
      log.error({ err: describe(failure) }, 'Slack processing error handler failed');
      return false;
    }
  };
}

/** No listener acknowledged within Bolt's 3 seconds (e.g. a command or action hallpass does not serve): 404, as Bolt does. */
function unacknowledged(log: Logger): (args: ReceiverUnhandledRequestHandlerArgs) => void {
  return ({ response }) => {
    log.warn({}, 'a Slack request was not acknowledged within 3 seconds');
    answerIfOpen(response, 404);
  };
}

/**
 * The Socket Mode receiver's error handler. Never rejects (Bolt awaits it inside an event emitter,
 * where a rejection is unhandled), and never leaves Bolt an ack to make: it acks a failed
 * authorization itself (so Slack stops redelivering it), catching a closed socket.
 */
function socketEventErrorHandler(
  log: Logger,
): (args: SocketModeReceiverProcessEventErrorHandlerArgs) => Promise<boolean> {
  return async ({ error, event }) => {
    try {
      log.warn({ err: describe(error) }, 'a Socket Mode event failed');
      if (error instanceof AuthorizationError) await event.ack();
    } catch (failure) {
      log.warn({ err: describe(failure) }, 'could not ack a failed Socket Mode event');
    }
    return false;
  };
}

/** Envelopes that reach Bolt, each with the payload shape Bolt reads without checking. */
const envelopeSchema = z.object({ type: z.string(), envelope_id: z.string().optional() });
const PAYLOADS: Readonly<Record<string, z.ZodType>> = {
  events_api: z.object({ event: z.object({ type: z.string() }) }),
  slash_commands: z.object({ command: z.string() }),
  interactive: z.object({ type: z.enum(INTERACTIVE_TYPES) }),
};
/** Connection control messages, handled by the socket client itself. */
const CONTROL_TYPES: ReadonlySet<string> = new Set(['hello', 'disconnect']);
/**
 * The socket client emits each event under its own type; these names are the client's own events
 * (an `events_api` envelope of type `close` would make it reconnect), so such an envelope is dropped.
 */
const CLIENT_EVENTS: ReadonlySet<string> = new Set([
  'close',
  'error',
  'ws_message',
  'slack_event',
  'outgoing_message',
  'connecting',
  'connected',
  'reconnecting',
  'disconnecting',
  'disconnected',
  'authenticated',
]);

type SocketClient = SocketModeReceiver['client'];
type MessageListener = (data: unknown, isBinary: boolean) => unknown;

/**
 * Replaces the socket client's message listener with one that validates each envelope first.
 * The client's own listener is async and runs inside an event emitter: on `null`, a non-object, or
 * an `events_api` envelope without `payload.event` it rejects, unhandled, and Node stops the
 * process. Malformed envelopes are logged and dropped (acked when they carry an envelope id, so
 * Slack does not redeliver them); valid ones go to the original listener, any rejection caught.
 */
function guardSocketMessages(client: SocketClient, log: Logger): void {
  const original = client.listeners('ws_message') as MessageListener[];
  client.removeAllListeners('ws_message');
  const deliver = (data: unknown, isBinary: boolean): void => {
    for (const listener of original) {
      Promise.resolve()
        .then(() => listener.call(client, data, isBinary))
        .catch((error: unknown) =>
          log.error({ err: describe(error) }, 'Socket Mode message handling failed'),
        );
    }
  };
  const drop = (reason: string, envelopeId?: string): void => {
    log.warn({ reason, envelopeId }, 'ignored a malformed Socket Mode message');
    if (envelopeId === undefined) return;
    // `send` is how the client's own listener acks; it is private in the typings only.
    (client as unknown as { send(id: string, body: object): Promise<void> })
      .send(envelopeId, {})
      .catch((error: unknown) =>
        log.warn({ err: describe(error) }, 'could not ack a malformed Socket Mode message'),
      );
  };
  client.on('ws_message', (data: unknown, isBinary: boolean) => {
    try {
      if (isBinary || typeof data !== 'string') return drop('binary frame');
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        return drop('not JSON');
      }
      const envelope = envelopeSchema.safeParse(parsed);
      if (!envelope.success) return drop('not an envelope', envelopeIdOf(parsed));
      const { type, envelope_id: envelopeId } = envelope.data;
      if (CONTROL_TYPES.has(type)) return deliver(data, false);
      const payload = PAYLOADS[type];
      if (payload === undefined) return drop(`unknown envelope type ${type}`, envelopeId);
      if (envelopeId === undefined) return drop(`${type} without an envelope id`);
      if (!payload.safeParse(field(parsed, 'payload')).success)
        return drop(`${type} with a malformed payload`, envelopeId);
      const eventType = field(field(field(parsed, 'payload'), 'event'), 'type');
      if (typeof eventType === 'string' && CLIENT_EVENTS.has(eventType))
        return drop(`an event named like the socket client's own (${eventType})`, envelopeId);
      deliver(data, false);
    } catch (error) {
      log.error({ err: describe(error) }, 'Socket Mode message guard failed');
    }
  });
}

const field = (value: unknown, key: string): unknown =>
  typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined;

function envelopeIdOf(value: unknown): string | undefined {
  const id = field(value, 'envelope_id');
  return typeof id === 'string' ? id : undefined;
}

/** The global error handler: logs every listener or middleware failure once, then hands it to the receiver's handler. */
function logListenerErrors(app: App, log: Logger): void {
  app.error(async (error) => {
    log.error({ err: describe(error), code: error.code }, 'Slack listener failed');
    throw error;
  });
}

/** How long shutdown waits for listeners already running (an approval mid-way through opening rules). */
const DRAIN_TIMEOUT_MS = 20_000;

/**
 * Counts listeners in progress, so shutdown can let them finish (their AWS calls and database
 * writes) instead of cutting them off half-way. Returns the function that waits for them.
 */
function trackInFlight(app: App): { drain: () => Promise<void>; settled: () => Promise<void> } {
  const running = new Set<Promise<void>>();
  app.use(async ({ next }) => {
    const work = next();
    running.add(work);
    try {
      await work;
    } finally {
      running.delete(work);
    }
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
  return { drain, settled };
}

/** Bolt accepts timestamps ahead of now; a request signed more than five minutes ahead is refused too. */
function fromTheFuture(req: IncomingMessage): boolean {
  const header = req.headers['x-slack-request-timestamp'];
  if (typeof header !== 'string') return false;
  const ts = Number(header);
  return Number.isFinite(ts) && ts - Math.floor(Date.now() / 1000) > MAX_SKEW_SECONDS;
}

function noBody(res: ServerResponse, status: number): void {
  res.writeHead(status).end();
}

/** Answers unless something already did (a late answer would throw `ERR_HTTP_HEADERS_SENT`). */
function answerIfOpen(res: ServerResponse, status: number): void {
  if (!res.headersSent && !res.writableEnded) noBody(res, status);
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));
const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));
