import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { API_ROUTES, apiRoute, openApiDocument } from '../../../src/adapters/http/api';
import { createHttpServer, type HttpServer } from '../../../src/adapters/http/router';
import type { ApiUseCases } from '../../../src/app/api-requests';
import { err } from '../../../src/domain/result';
import { MemoryLogger } from '../../support/memory-logger';

const COMMITTED = path.join(__dirname, '../../../docs/openapi.json');
const rendered = () => `${JSON.stringify(openApiDocument(), null, 2)}\n`;

// `UPDATE_OPENAPI=1 npx jest tests/unit/http/openapi.test.ts` rewrites docs/openapi.json from the code.
if (process.env['UPDATE_OPENAPI'] === '1') writeFileSync(COMMITTED, rendered());

/** Every call refused as unauthenticated: enough to tell a served route (401) from an unknown one (404/405). */
const refusing = {
  authenticate: async () => err('UNAUTHORIZED', { message: 'no' }),
} as unknown as ApiUseCases;

describe('the OpenAPI document', () => {
  let server: HttpServer;
  let base: string;
  beforeAll(async () => {
    server = createHttpServer({
      logger: new MemoryLogger(),
      bodyLimitBytes: 64 * 1024,
      routes: [apiRoute({ api: refusing, logger: new MemoryLogger(), callsPerMinute: 10 })],
    });
    base = `http://127.0.0.1:${await server.listen(0)}`;
    server.open();
  });
  afterAll(() => server.close());

  it('is committed as docs/openapi.json as the code builds it (UPDATE_OPENAPI=1 rewrites it)', () => {
    // Compared as JSON: the formatter may lay the committed file out its own way.
    expect(JSON.parse(readFileSync(COMMITTED, 'utf8'))).toEqual(openApiDocument());
  });

  it('is served at /api/v1/openapi.json without a token, exactly as committed', async () => {
    const res = await fetch(`${base}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(JSON.parse(readFileSync(COMMITTED, 'utf8')));
  });

  it('lists every route the API serves, and no other', () => {
    const documented = Object.entries(openApiDocument()['paths'] as Record<string, Record<string, unknown>>)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    const served = API_ROUTES.map((r) => `${r.method} ${r.path}`).sort();
    expect(documented).toEqual(served);
  });

  it.each(API_ROUTES.filter((r) => r.op !== 'openapi').map((r) => [r.method, r.path]))(
    'serves %s %s (401 without a token, not 404 or 405)',
    async (method, template) => {
      const res = await fetch(`${base}${template.replace('{id}', 'req_abc123')}`, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
      expect(res.status).toBe(401);
    },
  );

  it('answers a path or method the document does not list with 404 or 405 in the API error form', async () => {
    const unknown = await fetch(`${base}/api/v1/grants`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'not_found' } });
    const wrong = await fetch(`${base}/api/v1/requests`, { method: 'GET' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });
});
