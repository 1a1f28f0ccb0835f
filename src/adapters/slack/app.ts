import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver } from '@slack/bolt';
import type { WebClientOptions } from '@slack/web-api';
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
  readonly port: number;
  readonly clientOptions?: WebClientOptions;
  readonly context: ListenerContext;
  /** Extra health detail for `GET /healthz` (e.g. database reachable). */
  readonly healthy?: () => boolean;
};

export type SlackRuntime = {
  readonly app: App;
  readonly port: number;
  /** Resolves when every listener already running has finished (tests; shutdown uses it with a time limit). */
  settled(): Promise<void>;
  stop(): Promise<void>;
};

/** Largest body accepted: a slash command or interaction is a few KB; anything far larger is refused (413). */
export const BODY_LIMIT_BYTES = 256 * 1024;
/** Slack signs with a timestamp; Bolt refuses old ones, we also refuse ones from the future. */
const MAX_SKEW_SECONDS = 5 * 60;

/**
 * Builds the Bolt app and starts it: HTTP by default (`POST /slack/events`, `GET /healthz`), Socket
 * Mode when an app token is given (then `/healthz` is served on `port` by a small server of its own).
 */
export async function startSlackApp(opts: SlackAppOptions): Promise<SlackRuntime> {
  const logger = boltLogger(opts.context.logger);
  const clientOptions: WebClientOptions = {
    ...(opts.apiUrl === undefined ? {} : { slackApiUrl: opts.apiUrl }),
    ...opts.clientOptions,
  };
  const health = (_req: IncomingMessage, res: ServerResponse) => {
    const ok = opts.healthy?.() ?? true;
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok }));
  };

  if (opts.appToken !== undefined) {
    const app = new App({
      token: opts.botToken,
      appToken: opts.appToken,
      socketMode: true,
      logger,
      clientOptions,
      deferInitialization: true,
    });
    const { drain, settled } = trackInFlight(app);
    registerListeners(app, opts.context);
    await app.init();
    await app.start();
    const server = await listen(
      createServer((req, res) => (req.url === '/healthz' ? health(req, res) : notFound(res))),
      opts.port,
    );
    return {
      app,
      port: portOf(server),
      settled,
      stop: async () => {
        await app.stop();
        await close(server);
        await drain();
      },
    };
  }

  if (opts.signingSecret === undefined) throw new Error('SLACK_SIGNING_SECRET is required in HTTP mode');
  const receiver = new HTTPReceiver({
    signingSecret: opts.signingSecret,
    endpoints: '/slack/events',
    processBeforeResponse: false,
    signatureVerification: true,
    bodyLimit: BODY_LIMIT_BYTES,
    logger,
    customRoutes: [{ path: '/healthz', method: ['GET'], handler: health }],
  });
  const app = new App({ token: opts.botToken, receiver, logger, clientOptions, deferInitialization: true });
  const { drain, settled } = trackInFlight(app);
  registerListeners(app, opts.context);
  await app.init();
  const server = await listen(
    createServer((req, res) => {
      if (fromTheFuture(req)) {
        res.writeHead(401).end();
        return;
      }
      receiver.requestListener(req, res);
    }),
    opts.port,
  );
  return {
    app,
    port: portOf(server),
    settled,
    stop: async () => {
      await close(server);
      await drain();
    },
  };
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

const notFound = (res: ServerResponse) => res.writeHead(404).end();

function listen(server: Server, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

const portOf = (server: Server): number => (server.address() as AddressInfo).port;
