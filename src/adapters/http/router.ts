import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../../app/ports';

/** Methods a route may serve; `HEAD` is answered by a route's `GET` handler (Node drops the body). */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Serves one request. `body` is the whole request body, already read and within the body limit.
 * A handler may throw or reject: the router answers 500 (unless the handler already answered) and logs.
 */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void | Promise<void>;

/**
 * One exact path (no patterns, no normalisation: `/healthz/` and `/x/../healthz` are other paths), or
 * with `prefix` every path that starts with `path` (which then ends in `/`, e.g. `/api/v1/`): its
 * handler routes the rest itself. An exact route wins over a prefix; the longest prefix wins among them.
 */
export type HttpRoute = {
  readonly path: string;
  readonly methods: Partial<Record<HttpMethod, HttpHandler>>;
  readonly prefix?: boolean | undefined;
  /** Told of each request routed here, before its body is read (the Slack route counts requests awaiting their ack). */
  readonly arrived?: ((res: ServerResponse) => void) | undefined;
};

export type HttpServerOptions = {
  readonly routes: readonly HttpRoute[];
  readonly logger: Logger;
  /** Largest request body read; a larger one is answered 413 (before reading when `Content-Length` says so). */
  readonly bodyLimitBytes: number;
  /** Longest wait for a request's headers (slow-loris guard). */
  readonly headersTimeoutMs?: number;
  /** Longest wait for a whole request, headers and body. */
  readonly requestTimeoutMs?: number;
  /**
   * Listen before serving: requests that arrive before `open()` wait, unanswered, and are served once it
   * is called (start-up binds the port first, then finishes its work with AWS, then serves).
   */
  readonly held?: boolean;
};

export type HttpServer = {
  /** Starts listening (port 0: an ephemeral one) and resolves with the port bound. */
  listen(port: number): Promise<number>;
  /** The port bound, once listening. */
  readonly port: number | undefined;
  /** Serves the requests held so far, and every request from now on (see `held`). */
  open(): void;
  /** Stops accepting, cuts open connections (requests in flight are not answered) and resolves when closed. */
  close(): Promise<void>;
  /** The request listener the server runs; it never throws (exposed for unit tests). */
  readonly requestListener: (req: IncomingMessage, res: ServerResponse) => void;
};

const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** How often Node checks the two timeouts above (its default, 30 s, would let a slow client stay twice as long). */
const CONNECTIONS_CHECK_INTERVAL_MS = 2_000;

/**
 * The one HTTP server of the process: routes by exact path and method, and gives every request an
 * answer, whatever it is — unknown path 404, known path with another method 405 (with `Allow`), a
 * request target that is not a plain origin path 400, a body over the limit 413, a handler that
 * throws or rejects 500. Nothing a client sends can throw out of the request listener, so no request
 * can stop the process (and with it the timers that close grants).
 */
export function createHttpServer(opts: HttpServerOptions): HttpServer {
  const { logger } = opts;
  const routes = new Map(opts.routes.filter((r) => r.prefix !== true).map((r) => [r.path, r]));
  for (const r of opts.routes) {
    if (r.prefix === true && !r.path.endsWith('/')) throw new Error(`prefix route ${r.path} must end in /`);
  }
  // Longest first, so `/api/v1/` wins over `/api/` whatever order they were given in.
  const prefixes = opts.routes.filter((r) => r.prefix === true).sort((a, b) => b.path.length - a.path.length);
  const routeOf = (path: string): HttpRoute | undefined =>
    routes.get(path) ?? prefixes.find((r) => path.startsWith(r.path));

  /** Requests waiting for `open()`; `undefined` once serving. */
  let waiting: (() => void)[] | undefined = opts.held === true ? [] : undefined;

  const requestListener = (req: IncomingMessage, res: ServerResponse): void => {
    if (waiting !== undefined) {
      // Served at `open()`, unless the client has gone meanwhile (its 'close' would never fire again).
      waiting.push(() => {
        if (!req.destroyed) requestListener(req, res);
      });
      return;
    }
    try {
      route(req, res);
    } catch (error) {
      // Only a bug in the router itself gets here: still an answer, never a throw into Node.
      failed(req, res, error);
    }
  };

  function route(req: IncomingMessage, res: ServerResponse): void {
    res.on('error', (error) => logger.warn({ err: String(error) }, 'http response failed'));
    const handler = handlerFor(req, res);
    if (handler === undefined) return;
    readBody(req, opts.bodyLimitBytes).then(
      (read) => {
        if (read === 'aborted') return;
        if (read === 'too_large') {
          logger.warn({ url: req.url, limit: opts.bodyLimitBytes }, 'http request body over the limit');
          answer(res, 413, 'body_too_large');
          return;
        }
        run(handler, req, res, read);
      },
      (error: unknown) => failed(req, res, error),
    );
  }

  /** The handler for this request, or undefined once the request has been refused (400, 404, 405, 413). */
  function handlerFor(req: IncomingMessage, res: ServerResponse): HttpHandler | undefined {
    const path = pathOf(req.url);
    const matched = path === undefined ? undefined : routeOf(path);
    const methods = matched?.methods;
    if (path === undefined || methods === undefined) {
      answer(res, path === undefined ? 400 : 404, path === undefined ? 'bad_request_target' : 'not_found');
      return undefined;
    }
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const handler = isMethod(method) ? methods[method] : undefined;
    if (handler === undefined) {
      res.setHeader('Allow', allowed(methods));
      answer(res, 405, 'method_not_allowed');
      return undefined;
    }
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > opts.bodyLimitBytes) {
      logger.warn({ path, bytes: declared, limit: opts.bodyLimitBytes }, 'http request body over the limit');
      answer(res, 413, 'body_too_large');
      return undefined;
    }
    matched?.arrived?.(res);
    return handler;
  }

  function run(handler: HttpHandler, req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    try {
      const result = handler(req, res, body);
      if (result instanceof Promise) result.catch((error: unknown) => failed(req, res, error));
    } catch (error) {
      failed(req, res, error);
    }
  }

  function failed(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    logger.error(
      {
        err: error instanceof Error ? (error.stack ?? error.message) : String(error),
        method: req.method,
        url: req.url,
      },
      'http handler failed',
    );
    try {
      if (!res.headersSent) answer(res, 500, 'internal_error');
      else if (!res.writableEnded) res.end();
    } catch {
      // The connection is already gone; there is no one left to answer.
    }
  }

  const server = createServer(
    {
      headersTimeout: opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
      requestTimeout: opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: CONNECTIONS_CHECK_INTERVAL_MS,
    },
    requestListener,
  );
  // Bytes that are not HTTP, oversized headers, timeouts: answered like Node's default, and logged.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const code = error.code ?? 'unknown';
    if (code !== 'ECONNRESET') logger.info({ code }, 'http client error');
    if (!socket.writable || code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const reason =
      status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  server.on('error', (error) => logger.error({ err: String(error) }, 'http server error'));

  let port: number | undefined;
  return {
    requestListener,
    get port() {
      return port;
    },
    open: () => {
      const held = waiting ?? [];
      waiting = undefined;
      for (const serve of held) serve();
    },
    listen: (wanted) =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(wanted, () => {
          server.off('error', reject);
          port = (server.address() as AddressInfo).port;
          resolve(port);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const isMethod = (m: string | undefined): m is HttpMethod => METHODS.includes(m as HttpMethod);

/** The `Allow` header of a route: its methods, and HEAD wherever GET is served. */
function allowed(methods: HttpRoute['methods']): string {
  const own = METHODS.filter((m) => methods[m] !== undefined);
  return (own.includes('GET') ? [...own, 'HEAD'] : own).join(', ');
}

/**
 * The path of an origin-form request target (`/a/b?q`), or undefined when the target is anything
 * else: unparsable (`//`), absolute (`http://x/`), or a path the URL parser would rewrite
 * (`/x/../y`, `//host/y`, a backslash). Routing on the path exactly as sent means no two spellings
 * reach the same handler.
 */
function pathOf(url: string | undefined): string | undefined {
  if (url === undefined || !url.startsWith('/')) return undefined;
  const raw = url.split('?', 1)[0] ?? '';
  try {
    const parsed = new URL(url, 'http://localhost');
    return parsed.host === 'localhost' && parsed.pathname === raw ? raw : undefined;
  } catch {
    return undefined;
  }
}

/** An answer with a short JSON body naming the refusal (dropped by Node for HEAD). */
function answer(res: ServerResponse, status: number, error: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ ok: false, error }));
}

/**
 * Reads the body up to `limit` bytes. Past the limit the rest is discarded (not buffered) while the
 * answer goes out, so the client reads a clean 413 instead of a reset connection; the server's
 * request timeout bounds how long a client may keep sending.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (value: Buffer | 'too_large' | 'aborted'): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      resolve(value);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        done('too_large');
        req.resume();
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => done(Buffer.concat(chunks));
    const onClose = (): void => done('aborted');
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    // An aborted request emits 'error' only to listeners; one here keeps it from being thrown.
    req.on('error', () => undefined);
  });
}
