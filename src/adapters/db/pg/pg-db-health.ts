import type { Pool, PoolClient } from 'pg';
import type { DbHealth } from '../../../app/ports';

type Health = Awaited<ReturnType<DbHealth['check']>>;

/** Thrown inside a check when the time is up. */
class TimedOut extends Error {}

/**
 * What a failure says in `/healthz`: the driver's code (`ECONNREFUSED`, `57P01`, …) and message, with
 * anything shaped like a connection URL cut out, so no password can leak into a probe's answer.
 */
const healthReason = (e: unknown): string => {
  const message = (e instanceof Error ? e.message : String(e)).replace(
    /\b[a-z][a-z0-9+.-]*:\/\/\S+/gi,
    '<url>',
  );
  const code =
    typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
  const brief = message.length > 200 ? `${message.slice(0, 200)}…` : message;
  return code === undefined || brief.includes(code) ? `postgres: ${brief}` : `postgres: ${code} ${brief}`;
};

/**
 * `DbHealth` of the PostgreSQL pool: a connection from the pool answers `SELECT 1` within `timeoutMs`
 * (2 s by default). It never waits longer: a server that is gone or silent, or a pool with no free
 * connection, is "not ok" when the time is up. Checks do not pile up: one asked while another is in
 * progress gets the same answer. A connection that was too slow to answer is destroyed, not reused.
 */
export function createPgDbHealth(
  pool: Pick<Pool, 'connect'>,
  options: { readonly timeoutMs?: number } = {},
): DbHealth {
  const timeoutMs = options.timeoutMs ?? 2_000;
  let inFlight: Promise<Health> | undefined;

  const probe = async (): Promise<Health> => {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimedOut(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const connecting = pool.connect();
    let client: PoolClient | undefined;
    try {
      client = await Promise.race([connecting, expired]);
      await Promise.race([client.query('SELECT 1'), expired]);
      client.release();
      return { ok: true };
    } catch (e) {
      if (client !== undefined) client.release(e instanceof Error ? e : new Error(String(e)));
      // A connection that arrives after the time was up goes straight back to the pool.
      else connecting.then((late) => late.release()).catch(() => undefined);
      return { ok: false, reason: e instanceof TimedOut ? `postgres: ${e.message}` : healthReason(e) };
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    check() {
      inFlight ??= probe().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
  };
}
