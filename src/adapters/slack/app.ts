import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import {
  App,
  AuthorizationError,
  type Logger as BoltLogger,
  HTTPModuleFunctions,
  HTTPReceiver,
  type ReceiverDispatchErrorHandlerArgs,
  type ReceiverProcessEventErrorHandlerArgs,
  type ReceiverUnhandledRequestHandlerArgs,
  SocketModeReceiver,
  type SocketModeReceiverProcessEventErrorHandlerArgs,
  verifySlackRequest,
} from '@slack/bolt';
import { ErrorCode, type WebClientOptions } from '@slack/web-api';
import { z } from 'zod';
import { describeError } from '../../app/infra-error';
import type { Clock, Logger, Timers } from '../../app/ports';
import { type Backoff, createRetrier, SLACK_BACKOFF } from './connection';
import type { ListenerContext } from './context';
import { mountListeners } from './listeners';
import { createAckGate } from './listeners/ack-gate';
import { boltLogger } from './logger';
import { createSocketLinks, type SocketClient } from './socket-links';

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
  /** Arm the retries of connecting to Slack (compose passes its injected timers; tests' fake clock fires them). */
  readonly timers: Timers;
  /** Delays between attempts to connect; `SLACK_BACKOFF` (1 s doubling to 60 s) unless a test shortens them. */
  readonly backoff?: Backoff | undefined;
  /** HTTP mode: longest the work behind an ack waits for other requests' acks (`ACK_GATE_MAX_WAIT_MS`). */
  readonly ackGateMaxWaitMs?: number | undefined;
};

/** Serves one HTTP request whose body has been read (the shape of the HTTP adapter's handlers). */
export type SlackRequestHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** A route for the HTTP adapter's router: `POST /slack/events`. */
export type SlackRoute = {
  readonly path: '/slack/events';
  readonly methods: { readonly POST: SlackRequestHandler };
  /** Counts a request from its arrival until it is answered (the ack gate: work behind acks gives way to them). */
  readonly arrived: (res: ServerResponse) => void;
};

/**
 * `ready`: Slack accepted the bot token (and, in Socket Mode, the socket is connected); `connecting`:
 * not yet, or not any more — hallpass keeps trying, and keeps closing grants meanwhile.
 */
export type SlackStatus = 'ready' | 'connecting';

export type SlackRuntime = {
  readonly app: App;
  /** HTTP mode: the route Slack posts to, for the HTTP server to serve. Socket Mode: none. */
  readonly route: SlackRoute | undefined;
  status(): SlackStatus;
  /** Socket Mode: whether a link to Slack is up, and since when; undefined in HTTP mode. */
  link?(): SocketLinkState;
  /** Resolves when the first attempt to connect has succeeded or failed. Never rejects. */
  readonly firstAttempt: Promise<void>;
  /**
   * Why the first attempt failed, once it has: the token refused (with the setting that holds it and
   * Slack's error), or Slack unreachable (`why`). `undefined` while it runs and when it succeeded.
   */
  firstFailure(): FirstFailure | undefined;
  /**
   * Resolves when every listener already running, and any attempt to connect in progress, has
   * finished (tests; shutdown uses it with a time limit).
   */
  settled(): Promise<void>;
  /**
   * Cancels a pending retry, disconnects Socket Mode, then lets listeners in progress finish (up to
   * 20 s). Close the HTTP server first.
   */
  stop(): Promise<void>;
};

/** Socket Mode: `up` while at least one link to Slack is open (a hand-over keeps it `up`). */
export type SocketLinkState = { readonly state: 'up' | 'down'; readonly since: Date };

/** How long a lost link may stay unreplaced before its loss is logged at error level. */
export const LINK_LOSS_LOUD_MS = 5_000;
/** How the first attempt to connect to Slack failed. */
export type FirstFailure = {
  readonly setting: 'SLACK_BOT_TOKEN' | 'SLACK_APP_TOKEN' | undefined;
  /** Slack's error when it refused the token (`invalid_auth`, `token_revoked`, …). */
  readonly refusal: string | undefined;
  readonly why: string;
};

/** Largest body accepted: a slash command or interaction is a few KB; anything far larger is refused (413). */
export const BODY_LIMIT_BYTES = 256 * 1024;
/** Slack signs with a timestamp; Bolt refuses old ones, we also refuse ones from the future. */
const MAX_SKEW_SECONDS = 5 * 60;
/** Longest wait for `apps.connections.open` (Socket Mode), so start-up and reconnection cannot hang. */
const SOCKET_OPEN_TIMEOUT_MS = 10_000;

/** What `POST /slack/events` answers (503) while Slack has not accepted the token yet; Slack retries deliveries. */
export const SLACK_NOT_READY = { ok: false, reason: 'slack_not_ready' } as const;

/** Log lines of the connection to Slack (tests and operators look for them). */
export const SLACK_LOG = {
  connected: 'connected to Slack',
  unreachable: 'could not connect to Slack; grants still close on time; retrying',
  lost: 'lost the Socket Mode connection to Slack; reconnecting',
  deaf: 'no Socket Mode link to Slack: commands and clicks are not received until it is back',
} as const;

/**
 * Slack errors that say a token itself is refused. Retrying cannot fix them, but an operator can (and
 * a rotated token may be fixed without a restart of hallpass), so they are retried too — at error level.
 */
const TOKEN_REFUSALS: ReadonlySet<string> = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
]);

/**
 * Builds the Bolt app and starts connecting to Slack in the background: it never waits for Slack and
 * never fails because Slack does (down, slow, refusing, or the token rejected). Each failed attempt is
 * logged once and retried with capped exponential backoff and jitter until one succeeds; `status()`
 * says where it stands. HTTP by default: returns the `POST /slack/events` route for the HTTP server
 * (which owns the port), answering 503 until Slack has accepted the token. Socket Mode when an app
 * token is given: connects, keeps reconnecting whenever the socket is lost, and returns no route.
 */
export function startSlackApp(opts: SlackAppOptions): SlackRuntime {
  const log = opts.context.logger;
  const logger = boltLogger(log);
  // A copy: Bolt writes its logger into the options it is given.
  const clientOptions: WebClientOptions = {
    ...(opts.apiUrl === undefined ? {} : { slackApiUrl: opts.apiUrl }),
    ...opts.clientOptions,
  };
  let first: FirstFailure | undefined;
  const told = connectionReport(log, opts.context.clock);
  const report: ConnectionReport = {
    failed(error, attempt, retryInMs) {
      if (attempt === 1 && first === undefined) {
        const cause = error instanceof StartFailure ? error.cause : error;
        first = {
          setting: error instanceof StartFailure ? error.setting : undefined,
          refusal: tokenRefusal(cause),
          why: describeError(cause),
        };
      }
      told.failed(error, attempt, retryInMs);
    },
    connected: told.connected,
  };
  const firstFailure = () => first;
  const backoff = opts.backoff ?? SLACK_BACKOFF;

  if (opts.appToken !== undefined) {
    const appToken = opts.appToken;
    // One receiver per link (see socket-links): each brings a socket client; the first one's is the hub Bolt listens on.
    const socketReceiver = () =>
      new SocketModeReceiver({
        appToken,
        // The socket client logs each failed connection attempt at error level; superviseSocket logs each
        // once with its number and next time, at error level only for a refused token, so the client's own
        // lines are kept as detail, at warning level.
        logger: errorsAsWarnings(logger),
        // Reconnection is ours (superviseSocket): the client's own would retry a failed reconnect never
        // (a refused one rejects unhandled) or ever more slowly (uncapped), and never tell us.
        autoReconnectEnabled: false,
        // The socket client's own options, never the object the listeners' clients are built from: the
        // client writes into it (its retry settings, its fetch). One attempt per `apps.connections.open`:
        // retries are superviseSocket's, capped, instead of the WebClient's (their delays grow without
        // bound: after half an hour down, the next try would be some ten minutes away).
        installerOptions: {
          clientOptions: {
            ...(opts.apiUrl === undefined ? {} : { slackApiUrl: opts.apiUrl }),
            timeout: SOCKET_OPEN_TIMEOUT_MS,
            retryConfig: { retries: 0 },
          },
        },
        processEventErrorHandler: socketEventErrorHandler(log),
      });
    const receiver = socketReceiver();
    const app = new App({
      token: opts.botToken,
      receiver,
      socketMode: true,
      logger,
      clientOptions,
      deferInitialization: true,
    });
    const { drain, settled } = mountListeners(app, opts.context);
    const socket = superviseSocket({
      app,
      hub: receiver.client,
      newClient: () => socketReceiver().client,
      timers: opts.timers,
      backoff,
      report,
      log,
      clock: opts.context.clock,
    });
    return {
      app,
      route: undefined,
      status: socket.status,
      link: socket.link,
      firstAttempt: socket.firstAttempt,
      firstFailure,
      settled: async () => {
        await socket.idle();
        await settled();
      },
      stop: async () => {
        await socket.stop();
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
  const gate = createAckGate({ maxWaitMs: opts.ackGateMaxWaitMs });
  const { drain, settled } = mountListeners(app, opts.context, gate.behind);
  // HTTP mode has nothing to keep connected: once `auth.test` has accepted the token, Bolt is ready.
  let ready = false;
  const connection = createRetrier({
    attempt: () =>
      app.init().catch((error: unknown) => Promise.reject(new StartFailure('SLACK_BOT_TOKEN', error))),
    onFailure: report.failed,
    onSuccess: (attempts) => {
      ready = true;
      report.connected(attempts, 'http');
    },
    timers: opts.timers,
    backoff,
  });
  connection.run();
  return {
    app,
    route: {
      path: '/slack/events',
      methods: { POST: slackEvents(receiver, signingSecret, log, () => ready) },
      arrived: gate.arrived,
    },
    status: () => (ready ? 'ready' : 'connecting'),
    firstAttempt: connection.idle(),
    firstFailure,
    settled: async () => {
      await connection.idle();
      await settled();
    },
    stop: async () => {
      // An attempt in progress ends within one Slack timeout, its outcome ignored: nothing to wait for.
      connection.stop();
      await drain();
    },
  };
}

/** A failed step of connecting, with the setting whose token that step presents to Slack. */
class StartFailure extends Error {
  constructor(
    readonly setting: 'SLACK_BOT_TOKEN' | 'SLACK_APP_TOKEN',
    override readonly cause: unknown,
  ) {
    super(describeError(cause));
  }
}

type ConnectionReport = {
  failed(error: unknown, attempt: number, retryInMs: number): void;
  connected(attempts: number, mode: 'http' | 'socket'): void;
};

/**
 * One line per failed attempt — with the attempt number and when the next one is — and one when
 * connected. A refused token is logged at error level with the setting to fix; anything else (Slack
 * down, slow, unreachable) is a warning: hallpass goes on closing grants meanwhile.
 */
function connectionReport(log: Logger, clock: Clock): ConnectionReport {
  return {
    failed(error, attempt, retryInMs) {
      const setting = error instanceof StartFailure ? error.setting : undefined;
      const cause = error instanceof StartFailure ? error.cause : error;
      const nextAttemptAt = new Date(clock.now().getTime() + retryInMs).toISOString();
      const refusal = tokenRefusal(cause);
      if (setting !== undefined && refusal !== undefined) {
        log.error(
          { attempt, setting, slackError: refusal, retryInMs, nextAttemptAt },
          `Slack refused the token in ${setting} (${refusal}): set a valid token in ${setting}; retrying until Slack accepts it`,
        );
        return;
      }
      log.warn({ attempt, err: describeError(cause), retryInMs, nextAttemptAt }, SLACK_LOG.unreachable);
    },
    connected(attempts, mode) {
      log.info({ attempts, mode }, SLACK_LOG.connected);
    },
  };
}

/** The Slack error code when `error` says a token is refused (`invalid_auth`, `token_revoked`, …). */
function tokenRefusal(error: unknown): string | undefined {
  if (field(error, 'code') !== ErrorCode.PlatformError) return undefined;
  const code = field(field(error, 'data'), 'error');
  return typeof code === 'string' && TOKEN_REFUSALS.has(code) ? code : undefined;
}

/** The same logger with `error` lines written as warnings. */
function errorsAsWarnings(logger: BoltLogger): BoltLogger {
  return { ...logger, error: (...args: unknown[]) => logger.warn(...args) };
}

/**
 * Keeps the Socket Mode connection up. The client's own reconnection is off: it would call `start()`
 * again from a timer with no catch, so a reconnect whose `apps.connections.open` is refused (e.g.
 * `invalid_auth` while a token is rotated) rejects unhandled and is never tried again; and with its
 * WebClient's retries (about 100, each wait 1.3 times the last, uncapped) a long outage would leave
 * hallpass reconnecting ever later after Slack is back. Here every attempt — the first, and each after
 * the last link is lost (closed by Slack, a failed ping, a hand-over whose replacement failed) — is
 * caught, logged once and retried with capped backoff until a link is open again. A `disconnect`
 * message is not a loss: the links hand over without a gap (see socket-links). `link()` says whether a
 * link is up and since when; a loss not repaired within `LINK_LOSS_LOUD_MS` is logged at error level.
 */
function superviseSocket(deps: {
  app: App;
  hub: SocketClient;
  newClient: () => SocketClient;
  timers: Timers;
  backoff: Backoff;
  report: ConnectionReport;
  log: Logger;
  clock: Clock;
}): {
  status(): SlackStatus;
  link(): SocketLinkState;
  firstAttempt: Promise<void>;
  idle(): Promise<void>;
  stop(): Promise<void>;
} {
  const { app, log } = deps;
  let initialized = false;
  let ready = false;
  let stopping = false;
  let link: SocketLinkState = { state: 'down', since: deps.clock.now() };
  const setLink = (state: 'up' | 'down'): void => {
    if (link.state !== state) link = { state, since: deps.clock.now() };
  };
  /** The timer that makes a loss loud when no link is back within `LINK_LOSS_LOUD_MS`. */
  let loud: unknown;

  const links = createSocketLinks({
    hub: deps.hub,
    newClient: deps.newClient,
    prepare: (client) => guardSocketMessages(client, log),
    log,
    onUp: () => {
      setLink('up');
      if (loud !== undefined) deps.timers.clearTimeout(loud);
      loud = undefined;
    },
    onDown: () => setLink('down'),
    onLost: () => {
      // While an attempt is under way its own failure is reported and retried; after stop(), nothing is.
      if (stopping || !ready) return;
      lost();
    },
  });

  const attempt = async (): Promise<void> => {
    if (!initialized) {
      await app.init().catch((error: unknown) => Promise.reject(new StartFailure('SLACK_BOT_TOKEN', error)));
      initialized = true;
    }
    await links.open().catch((error: unknown) => Promise.reject(new StartFailure('SLACK_APP_TOKEN', error)));
  };
  const connection = createRetrier({
    attempt,
    onFailure: deps.report.failed,
    onSuccess: (attempts) => {
      if (stopping) return;
      ready = true;
      deps.report.connected(attempts, 'socket');
      // Lost again before this was reported: reconnect as for any loss.
      if (!links.up()) lost();
    },
    timers: deps.timers,
    backoff: deps.backoff,
  });
  const lost = (): void => {
    ready = false;
    log.warn({}, SLACK_LOG.lost);
    if (loud === undefined)
      loud = deps.timers.setTimeout(() => {
        loud = undefined;
        if (!links.up() && !stopping)
          log.error({ since: link.since.toISOString(), forMs: LINK_LOSS_LOUD_MS }, SLACK_LOG.deaf);
      }, LINK_LOSS_LOUD_MS);
    // Not at once: a Slack that closes every new socket straight away must not be hammered.
    connection.run({ delayed: true });
  };

  connection.run();
  return {
    status: () => (ready && links.up() ? 'ready' : 'connecting'),
    link: () => link,
    firstAttempt: connection.idle(),
    idle: () => connection.idle(),
    async stop() {
      stopping = true;
      connection.stop();
      if (loud !== undefined) deps.timers.clearTimeout(loud);
      await links.closeAll();
      await app.stop();
      // An attempt under way ends within its timeouts; one that opened a socket closes it again.
      await connection.idle();
      await links.closeAll();
    },
  };
}

/**
 * `POST /slack/events`. Refuses here, before Bolt, what Bolt would mishandle: a timestamp from the
 * future (Bolt accepts it), a bad signature (401, as Bolt would), a signed body Bolt cannot route
 * (400 at once; `null` would make Bolt throw outside any handler, `[]` or `{}` would hang for 3 s).
 * The rest goes to Bolt's receiver, which verifies the signature again and answers at `ack()`.
 */
function slackEvents(
  receiver: HTTPReceiver,
  signingSecret: string,
  log: Logger,
  ready: () => boolean,
): SlackRequestHandler {
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
    // Signed (or Slack's SSL check), but Bolt cannot serve it before Slack has accepted the token:
    // 503, which Slack retries, instead of a 404 or a hang.
    if (!ready()) {
      res.writeHead(503, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(SLACK_NOT_READY));
      return;
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
    log.error({ err: describeError(error), url: request.url }, 'Slack request could not be dispatched');
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
      log.warn({ status, err: describeError(error) }, 'answered a Slack request whose processing failed');
      answerIfOpen(response, status);
      return true;
    } catch (failure) {
      log.error({ err: describeError(failure) }, 'Slack processing error handler failed');
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
      log.warn({ err: describeError(error) }, 'a Socket Mode event failed');
      if (error instanceof AuthorizationError) await event.ack();
    } catch (failure) {
      log.warn({ err: describeError(failure) }, 'could not ack a failed Socket Mode event');
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
          log.error({ err: describeError(error) }, 'Socket Mode message handling failed'),
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
        log.warn({ err: describeError(error) }, 'could not ack a malformed Socket Mode message'),
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
      log.error({ err: describeError(error) }, 'Socket Mode message guard failed');
    }
  });
}

const field = (value: unknown, key: string): unknown =>
  typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined;

function envelopeIdOf(value: unknown): string | undefined {
  const id = field(value, 'envelope_id');
  return typeof id === 'string' ? id : undefined;
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
