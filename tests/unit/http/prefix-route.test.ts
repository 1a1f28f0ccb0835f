import { createHttpServer, type HttpRoute, type HttpServer } from '../../../src/adapters/http/router';
import { MemoryLogger } from '../../support/memory-logger';

const says = (word: string): HttpRoute['methods'] => ({
  GET: (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end(word);
  },
});

describe('prefix routes', () => {
  let server: HttpServer;
  let base: string;
  beforeAll(async () => {
    server = createHttpServer({
      logger: new MemoryLogger(),
      bodyLimitBytes: 16,
      routes: [
        { path: '/api/', prefix: true, methods: says('api') },
        { path: '/api/v1/', prefix: true, methods: says('v1') },
        { path: '/api/v1/exact', methods: says('exact') },
        {
          path: '/boom/',
          prefix: true,
          methods: {
            GET: () => {
              throw new Error('handler bug');
            },
          },
        },
      ],
    });
    base = `http://127.0.0.1:${await server.listen(0)}`;
    server.open();
  });
  afterAll(() => server.close());

  const get = async (path: string, method = 'GET') => {
    const res = await fetch(`${base}${path}`, { method });
    return { status: res.status, text: await res.text() };
  };

  it('serves every path under the prefix, the longest prefix first, an exact route before any prefix', async () => {
    expect(await get('/api/v1/requests/req_1')).toEqual({ status: 200, text: 'v1' });
    expect(await get('/api/v2/x')).toEqual({ status: 200, text: 'api' });
    expect(await get('/api/v1/exact')).toEqual({ status: 200, text: 'exact' });
  });

  it('keeps the guarantees: 404 outside, 405 for other methods, 400 for rewritten paths, 500 for a throwing handler', async () => {
    expect((await get('/apix')).status).toBe(404);
    expect((await get('/api')).status).toBe(404);
    expect((await get('/api/v1/x', 'POST')).status).toBe(405);
    expect((await get('/api/v1/../../healthz')).status).not.toBe(200);
    expect((await get('/boom/x')).status).toBe(500);
  });

  it('refuses a prefix that does not end in /', () => {
    expect(() =>
      createHttpServer({
        logger: new MemoryLogger(),
        bodyLimitBytes: 16,
        routes: [{ path: '/api', prefix: true, methods: says('x') }],
      }),
    ).toThrow(/must end in \//);
  });
});
