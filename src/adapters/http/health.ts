import type { HttpRoute } from './router';

/** `GET /healthz`: 200 `{"ok":true}` while `healthy()` holds, 503 `{"ok":false}` otherwise. */
export function healthRoute(healthy: () => boolean): HttpRoute {
  return {
    path: '/healthz',
    methods: {
      GET: (_req, res) => {
        const ok = healthy();
        res.writeHead(ok ? 200 : 503, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ ok }));
      },
    },
  };
}
