import { type HealthStatus, healthRoute } from '../../../src/adapters/http/health';
import { createHttpServer, type HttpServer } from '../../../src/adapters/http/router';
import { until } from '../../support/bot-process';
import { MemoryLogger } from '../../support/memory-logger';
import { sendAborted, sendBytes, sendRaw } from '../../support/raw-http';

const LIMIT = 1024;

describe('the HTTP router', () => {
  let server: HttpServer;
  let port: number;
  let logger: MemoryLogger;
  let health: HealthStatus;
  const received: { method: string | undefined; body: string }[] = [];
  /** Requests `/echo` was told of on arrival, and whether each one's response has closed since. */
  const arrivals: { closed: boolean }[] = [];

  beforeEach(async () => {
    logger = new MemoryLogger();
    health = { database: 'ok', slack: 'ready', backstop: 'on', status: 'ok', problems: [] };
    received.length = 0;
    arrivals.length = 0;
    server = createHttpServer({
      logger,
      bodyLimitBytes: LIMIT,
      routes: [
        healthRoute(() => health),
        {
          path: '/echo',
          methods: {
            POST: (req, res, body) => {
              received.push({ method: req.method, body: body.toString('utf8') });
              res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`got ${body.length}`);
            },
          },
          arrived: (res) => {
            const arrival = { closed: false };
            arrivals.push(arrival);
            res.once('close', () => {
              arrival.closed = true;
            });
          },
        },
        {
          path: '/throws',
          methods: {
            GET: () => {
              throw new Error('boom in a handler');
            },
            POST: async () => {
              await Promise.resolve();
              throw new Error('rejected in a handler');
            },
          },
        },
        {
          path: '/answers-then-throws',
          methods: {
            GET: (_req, res) => {
              res.writeHead(202).end('accepted');
              throw new Error('after the answer');
            },
          },
        },
      ],
    });
    port = await server.listen(0);
  });
  afterEach(() => server.close());

  it('serves a known path and method, with the query string ignored for routing', async () => {
    expect(await sendRaw(port, { method: 'GET', path: '/healthz' })).toMatchObject({
      status: 200,
      body: '{"ok":true,"status":"ok","database":"ok","slack":"ready","backstop":"on","problems":[]}',
    });
    expect((await sendRaw(port, { method: 'GET', path: '/healthz?probe=1&x=%zz' })).status).toBe(200);
    const down = { what: 'database-unreachable', detail: 'no answer' } as const;
    health = {
      database: 'unreachable',
      slack: 'ready',
      backstop: 'on',
      status: 'unhealthy',
      problems: [down],
    };
    expect(await sendRaw(port, { method: 'GET', path: '/healthz' })).toMatchObject({
      status: 503,
      body: `{"ok":false,"status":"unhealthy","database":"unreachable","slack":"ready","backstop":"on","problems":[${JSON.stringify(down)}]}`,
    });
  });

  it('keeps /healthz at 200 while Slack is still connecting (grants still close), and says so', async () => {
    const slack = { what: 'slack-not-ready', detail: 'retrying' } as const;
    health = { database: 'ok', slack: 'connecting', backstop: 'off', status: 'degraded', problems: [slack] };
    expect(await sendRaw(port, { method: 'GET', path: '/healthz' })).toMatchObject({
      status: 200,
      body: `{"ok":true,"status":"degraded","database":"ok","slack":"connecting","backstop":"off","problems":[${JSON.stringify(slack)}]}`,
    });
    health = { ...health, database: 'unreachable', status: 'unhealthy' };
    expect((await sendRaw(port, { method: 'GET', path: '/healthz' })).status).toBe(503);
  });

  it('answers HEAD with the status GET would give, without a body', async () => {
    const head = await sendRaw(port, { method: 'HEAD', path: '/healthz' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect((await sendRaw(port, { method: 'HEAD', path: '/nowhere' })).status).toBe(404);
  });

  it.each([
    ['GET', '/'],
    ['GET', '/nowhere'],
    ['POST', '/x'],
    ['GET', '/healthz/'],
    ['GET', '/HEALTHZ'],
    ['GET', '/%zz'],
    ['DELETE', '/nowhere?x=1'],
  ])('answers 404 to %s %s', async (method, path) => {
    const answer = await sendRaw(port, { method, path });
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body)).toEqual({ ok: false, error: 'not_found' });
  });

  it.each([
    ['POST', '/healthz', 'GET, HEAD'],
    ['DELETE', '/healthz', 'GET, HEAD'],
    ['OPTIONS', '/healthz', 'GET, HEAD'],
    ['GET', '/echo', 'POST'],
    ['HEAD', '/echo', 'POST'],
    ['PUT', '/echo', 'POST'],
    ['PATCH', '/echo', 'POST'],
    ['PROPFIND', '/echo', 'POST'],
  ])('answers 405 to %s %s, with Allow: %s', async (method, path, allow) => {
    const answer = await sendRaw(port, { method, path });
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe(allow);
  });

  it.each(['//', '//evil.example/healthz', '/x/../healthz', '/./healthz', '/%2e%2e/healthz'])(
    'answers 400 to a request target that is not a plain path: %s',
    async (path) => {
      expect((await sendRaw(port, { method: 'GET', path })).status).toBe(400);
    },
  );

  it('answers 400 to an absolute-form or asterisk request target', async () => {
    const absolute = await sendBytes(
      port,
      'GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(absolute).toMatch(/^HTTP\/1\.1 400 /);
    const asterisk = await sendBytes(port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(asterisk).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('hands the whole body to the handler, and refuses one over the limit with 413', async () => {
    expect(await sendRaw(port, { method: 'POST', path: '/echo', body: 'a'.repeat(LIMIT) })).toMatchObject({
      status: 200,
      body: `got ${LIMIT}`,
    });
    expect((await sendRaw(port, { method: 'POST', path: '/echo', body: 'a'.repeat(LIMIT + 1) })).status).toBe(
      413,
    );
    // Without Content-Length: refused once the limit is crossed while reading.
    expect(
      (await sendRaw(port, { method: 'POST', path: '/echo', body: 'b'.repeat(LIMIT * 4), chunkBytes: 100 }))
        .status,
    ).toBe(413);
    expect(received).toEqual([{ method: 'POST', body: 'a'.repeat(LIMIT) }]);
  });

  it('tells a route of each request routed to it before reading the body, and of no request it refuses', async () => {
    // Refused before the route is chosen or its handler found: not an arrival.
    expect((await sendRaw(port, { method: 'GET', path: '/echo' })).status).toBe(405);
    expect(
      (
        await sendRaw(port, {
          method: 'POST',
          path: '/echo',
          headers: { 'Content-Length': String(LIMIT + 1) },
        })
      ).status,
    ).toBe(413);
    expect(arrivals).toEqual([]);
    // A request whose body is still on its way has arrived: the route counts it before the handler runs.
    await sendAborted(port, '/echo', 800);
    await until(async () => (arrivals[0]?.closed === true ? true : undefined), 'the cut request closed');
    expect(arrivals).toEqual([{ closed: true }]);
    expect(received).toEqual([]);
    expect((await sendRaw(port, { method: 'POST', path: '/echo', body: 'x' })).status).toBe(200);
    await until(async () => (arrivals[1]?.closed === true ? true : undefined), 'the answered request closed');
    expect(arrivals).toHaveLength(2);
    expect(received).toEqual([{ method: 'POST', body: 'x' }]);
  });

  it('answers 500 when a handler throws or rejects, logs it, and keeps serving', async () => {
    expect((await sendRaw(port, { method: 'GET', path: '/throws' })).status).toBe(500);
    expect((await sendRaw(port, { method: 'POST', path: '/throws', body: '{}' })).status).toBe(500);
    expect((await sendRaw(port, { method: 'GET', path: '/healthz' })).status).toBe(200);
    const failures = logger.lines.filter((l) => l.msg === 'http handler failed');
    expect(failures).toHaveLength(2);
    expect(failures.map((l) => String(l.fields['err']))).toEqual([
      expect.stringContaining('boom in a handler'),
      expect.stringContaining('rejected in a handler'),
    ]);
  });

  it("keeps the handler's own answer when it throws after answering", async () => {
    expect(await sendRaw(port, { method: 'GET', path: '/answers-then-throws' })).toMatchObject({
      status: 202,
      body: 'accepted',
    });
    expect(logger.lines.filter((l) => l.msg === 'http handler failed')).toHaveLength(1);
  });

  it('answers 400 to bytes that are not HTTP and 431 to oversized headers, and keeps serving', async () => {
    expect(
      await sendBytes(port, '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n'),
    ).toMatch(/^HTTP\/1\.1 400 /);
    const big = await sendRaw(port, {
      method: 'GET',
      path: '/healthz',
      headers: { 'X-Big': 'a'.repeat(20_000) },
    });
    expect(big.status).toBe(431);
    expect((await sendRaw(port, { method: 'GET', path: '/healthz' })).status).toBe(200);
  });

  it('drops a request cut off half-way without calling the handler, and keeps serving', async () => {
    await sendAborted(port, '/echo', 800);
    expect((await sendRaw(port, { method: 'GET', path: '/healthz' })).status).toBe(200);
    expect(received).toEqual([]);
  });

  it('sets timeouts for slow clients on the server', async () => {
    // A client that sends nothing after connecting is cut off by the headers timeout, with 408.
    const quick = createHttpServer({
      logger,
      bodyLimitBytes: LIMIT,
      routes: [],
      headersTimeoutMs: 200,
      requestTimeoutMs: 400,
    });
    const quickPort = await quick.listen(0);
    try {
      const answer = await sendBytes(quickPort, 'GET /healthz HTTP/1.1\r\nHost: x\r\n', 8_000);
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      await quick.close();
    }
  });

  it('binds the port but holds every request until open(), then serves each one, body and all', async () => {
    const seen: string[] = [];
    const held = createHttpServer({
      logger,
      bodyLimitBytes: LIMIT,
      held: true,
      routes: [
        {
          path: '/echo',
          methods: {
            POST: (_req, res, body) => {
              seen.push(body.toString('utf8'));
              res.writeHead(200).end('served');
            },
          },
        },
      ],
    });
    const heldPort = await held.listen(0);
    try {
      let answered = false;
      const waiting = sendRaw(heldPort, { method: 'POST', path: '/echo', body: 'while starting' }).then(
        (r) => {
          answered = true;
          return r;
        },
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(answered).toBe(false);
      expect(seen).toEqual([]);

      held.open();

      expect(await waiting).toMatchObject({ status: 200, body: 'served' });
      expect(seen).toEqual(['while starting']);
      expect(await sendRaw(heldPort, { method: 'POST', path: '/echo', body: 'after' })).toMatchObject({
        status: 200,
      });
    } finally {
      await held.close();
    }
  });
});
