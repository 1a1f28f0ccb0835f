import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createSqliteGrantStore } from '../src/adapters/db/grant-store';
import { openDatabase } from '../src/adapters/db/open-db';
import { num, type Row } from './stats';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Calls `fn` `iterations` times after a warm-up; mean microseconds per call. */
function microsPerCall(iterations: number, fn: () => unknown): number {
  for (let i = 0; i < Math.min(200, iterations); i++) fn();
  const started = performance.now();
  for (let i = 0; i < iterations; i++) fn();
  return ((performance.now() - started) * 1000) / iterations;
}

/**
 * Figure 5: the two queries the scheduler runs after every change — `grants.closes.due(now)` and
 * `grants.closes.next()` — on a migrated database file holding `closed` closed grants (ended over the last
 * 30 days) and `active` active ones (expiring over the next hour). Rows are written with plain SQL
 * in one transaction (fast set-up); the queries go through the real store.
 */
export function measureSqliteStore(closed: number, active: number): Row[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'hallpass-bench-db-'));
  const handle = openDatabase(path.join(dir, 'hallpass.db'));
  try {
    const now = Date.now();
    const insertRequest = handle.sqlite.prepare(
      `INSERT INTO requests (id, resource_id, requester_id, duration_ms, source_cidr, source_family,
         source_prefix, reason, state, created_at, approval_deadline, decided_at, decided_by)
       VALUES (?, 'bench-db', ?, ?, ?, 4, 32, 'benchmark', 'approved', ?, ?, ?, 'hallpass')`,
    );
    const insertGrant = handle.sqlite.prepare(
      `INSERT INTO grants (id, request_id, resource_id, requester_id, state, starts_at, expires_at,
         ended_at, end_reason, ended_by)
       VALUES (?, ?, 'bench-db', ?, ?, ?, ?, ?, ?, ?)`,
    );
    const fill = handle.sqlite.transaction(() => {
      for (let i = 0; i < closed + active; i++) {
        const isActive = i >= closed;
        const durationMs = HOUR;
        // Closed grants ended over the last 30 days; active ones expire over the next hour.
        const expiresAt = isActive
          ? now + Math.floor(((i - closed + 1) * HOUR) / active)
          : now - Math.floor(((i + 1) * 30 * DAY) / closed);
        const startsAt = expiresAt - durationMs;
        const user = `U${String(i % 500).padStart(8, '0')}`;
        const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`;
        insertRequest.run(`req_b${i}`, user, durationMs, ip, startsAt, startsAt + HOUR, startsAt);
        insertGrant.run(
          `grt_b${i}`,
          `req_b${i}`,
          user,
          isActive ? 'active' : 'closed',
          startsAt,
          expiresAt,
          isActive ? null : expiresAt + 3,
          isActive ? null : 'expired',
          isActive ? null : 'hallpass',
        );
      }
    });
    const filledFrom = performance.now();
    fill();
    const fillMs = performance.now() - filledFrom;

    const grants = createSqliteGrantStore(handle.db);
    const idle = new Date(now);
    const tenDue = new Date(now + Math.ceil((10 * HOUR) / active));
    const dueNone = grants.closes.due(idle).length;
    const dueTen = grants.closes.due(tenDue).length;
    // The same SQL as the store's, prepared once: what SQLite itself costs, without the query builder.
    const rawDue = handle.sqlite.prepare(
      `SELECT * FROM grants WHERE (state = 'active' AND expires_at <= ?) OR state = 'closing'
       ORDER BY expires_at, id`,
    );
    const rawNext = handle.sqlite.prepare(`SELECT min(expires_at) FROM grants WHERE state = 'active'`);
    const plan = handle.sqlite
      .prepare(`EXPLAIN QUERY PLAN ${rawDue.source}`)
      .all(now)
      .map((r) => (typeof r === 'object' && r !== null && 'detail' in r ? String(r.detail) : ''))
      .join('; ');

    return [
      { label: 'closed grants in the table', value: String(closed), unit: 'rows' },
      { label: 'active grants in the table', value: String(active), unit: 'rows' },
      { label: 'time to write them (one transaction)', value: num(fillMs, 0), unit: 'ms' },
      {
        label: `closes.due(now), ${dueNone} due`,
        value: num(
          microsPerCall(5_000, () => grants.closes.due(idle)),
          1,
        ),
        unit: 'µs/call',
      },
      {
        label: `closes.due(now), ${dueTen} due`,
        value: num(
          microsPerCall(5_000, () => grants.closes.due(tenDue)),
          1,
        ),
        unit: 'µs/call',
      },
      {
        label: 'closes.next()',
        value: num(
          microsPerCall(5_000, () => grants.closes.next()),
          1,
        ),
        unit: 'µs/call',
      },
      {
        label: 'same SQL, prepared once: due, 0 due',
        value: num(
          microsPerCall(5_000, () => rawDue.all(idle.getTime())),
          1,
        ),
        unit: 'µs/call',
      },
      {
        label: 'same SQL, prepared once: next expiry',
        value: num(
          microsPerCall(5_000, () => rawNext.get()),
          1,
        ),
        unit: 'µs/call',
      },
      { label: 'closes.due query plan', value: plan, unit: '', note: true },
    ];
  } finally {
    handle.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
