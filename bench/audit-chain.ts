import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { readAuditRecord } from '../src/adapters/db/audit-export-query';
import { verifyAuditChain, verifyAuditChainAsync } from '../src/adapters/db/audit-log';
import { verifyAuditLogAtStart } from '../src/adapters/db/audit-startup';
import { openDatabase } from '../src/adapters/db/open-db';
import { createSqliteStores } from '../src/adapters/db/stores';
import type { AuditKey } from '../src/app/audit-ports';
import { num, type Row } from './stats';

const MINUTE = 60_000;

/**
 * Fills a database file the way the bot does — through the real stores, so the tables and the chain
 * agree — with `events` audit events: requests approved, opened and closed, six events each.
 */
async function fill(file: string, events: number, key: AuditKey | undefined): Promise<void> {
  const handle = openDatabase(file);
  try {
    const stores = createSqliteStores(handle, { key });
    const t0 = Date.UTC(2026, 0, 1);
    const requests = Math.ceil(events / 6);
    await stores.uow.tx(async () => {
      for (let i = 0; i < requests; i++) {
        const at = new Date(t0 + i * MINUTE);
        const requestId = `req_b${i}`;
        const grantId = `grt_b${i}`;
        const source = { family: 4 as const, cidr: `10.${(i >> 8) & 255}.${i & 255}.7/32`, prefix: 32 };
        const reason = `benchmark request ${i}`;
        await stores.requests.insert({
          id: requestId,
          resourceId: 'bench-db',
          requesterId: `U${String(i % 500).padStart(8, '0')}`,
          durationMs: 30 * MINUTE,
          source,
          reason,
          createdAt: at,
          approvalDeadline: new Date(at.getTime() + 30 * MINUTE),
        });
        const requester = `U${String(i % 500).padStart(8, '0')}`;
        await stores.audit.append({
          at,
          actor: requester,
          type: 'request.submitted',
          requestId,
          details: {
            resourceId: 'bench-db',
            durationMs: 30 * MINUTE,
            source: source.cidr,
            reason,
            breakGlass: false,
          },
        });
        await stores.requests.addApproval(requestId, 'UAPPROVER', at);
        await stores.audit.append({
          at,
          actor: 'UAPPROVER',
          type: 'request.approval_recorded',
          requestId,
          details: { have: 1, need: 1 },
        });
        await stores.requests.decide(requestId, 'approved', 'UAPPROVER', at);
        const expiresAt = new Date(at.getTime() + 30 * MINUTE);
        await stores.grants.insert({
          id: grantId,
          requestId,
          resourceId: 'bench-db',
          requesterId: requester,
          startsAt: at,
          expiresAt,
        });
        await stores.audit.append({
          at,
          actor: 'UAPPROVER',
          type: 'request.approved',
          requestId,
          grantId,
          details: { approvers: ['UAPPROVER'], expiresAt: expiresAt.toISOString() },
        });
        await stores.grants.move(grantId, ['opening'], 'active');
        await stores.audit.append({
          at,
          actor: 'hallpass',
          type: 'grant.opened',
          requestId,
          grantId,
          details: {
            groupId: 'sg-0123456789abcdef0',
            cidr: source.cidr,
            ruleIds: [`sgr-${i}`],
            shared: [],
            expiresAt: expiresAt.toISOString(),
          },
        });
        await stores.grants.move(grantId, ['active'], 'closing', {
          endReason: 'expired',
          endedBy: 'hallpass',
        });
        await stores.audit.append({
          at: expiresAt,
          actor: 'hallpass',
          type: 'grant.closing',
          requestId,
          grantId,
          details: { reason: 'expired' },
        });
        await stores.grants.move(grantId, ['closing'], 'closed', { endedAt: expiresAt });
        await stores.audit.append({
          at: expiresAt,
          actor: 'hallpass',
          type: 'grant.closed',
          requestId,
          grantId,
          details: {
            reason: 'expired',
            endedBy: 'hallpass',
            plannedEnd: expiresAt.toISOString(),
            revokedRuleIds: [`sgr-${i}`],
            stillHeldByOtherGrants: [],
          },
        });
      }
    });
  } finally {
    handle.close();
  }
}

const ms = (started: number): number => performance.now() - started;

/**
 * Figure 7: what verifying the audit log costs — the walk of the chain alone, sync (CLI, start-up) and
 * a page at a time (the bot's exports and daily head), keyed (HMAC-SHA-256) and unkeyed; the whole
 * record (the walk, the projection of every event, and every request and grant row compared with it,
 * which the bot runs once it serves); and the start-up check (the chain only), on a database file
 * holding `events` events written by the real stores.
 */
export async function measureAuditChain(events: number): Promise<Row[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hallpass-bench-audit-'));
  const key: AuditKey = { id: 'bench', secret: randomBytes(32) };
  const rows: Row[] = [];
  try {
    for (const keyed of [true, false]) {
      const file = path.join(dir, `${keyed ? 'keyed' : 'unkeyed'}.db`);
      let started = performance.now();
      await fill(file, events, keyed ? key : undefined);
      const fillMs = ms(started);
      const handle = openDatabase(file);
      try {
        const count = (handle.sqlite.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number })
          .n;
        const keys = keyed ? { current: key } : undefined;
        const label = keyed ? 'keyed (HMAC-SHA-256)' : 'unkeyed (SHA-256)';
        rows.push({
          label: `${label}: events written`,
          value: String(count),
          unit: `in ${num(fillMs / 1000)} s with their tables`,
        });
        verifyAuditChain(handle.db, { keys }); // warm-up
        started = performance.now();
        const report = verifyAuditChain(handle.db, { keys });
        const walk = ms(started);
        if (!report.ok) throw new Error(`the bench log does not verify: ${report.message}`);
        rows.push({
          label: `${label}: verify (walk of the chain)`,
          value: num(walk),
          unit: `ms  (${num((walk * 100_000) / count)} ms per 100k events)`,
        });
        started = performance.now();
        await verifyAuditChainAsync(handle.db, { keys });
        const asyncWalk = ms(started);
        rows.push({ label: `${label}: verify a page at a time (bot)`, value: num(asyncWalk), unit: 'ms' });
        started = performance.now();
        const record = readAuditRecord(handle.db, keys);
        const whole = ms(started);
        if (record.mismatches.length > 0) throw new Error('the bench tables disagree with the chain');
        rows.push({
          label: `${label}: verify + project + check ${record.rows.length} requests`,
          value: num(whole),
          unit: 'ms',
        });
        started = performance.now();
        await verifyAuditLogAtStart({
          db: handle.db,
          audit: { append: async () => {} },
          keys,
          acceptBroken: undefined,
          clock: { now: () => new Date() },
          logger: { info: () => {}, warn: () => {}, error: () => {} },
        });
        rows.push({
          label: `${label}: start-up check (the chain; tables once serving)`,
          value: num(ms(started)),
          unit: 'ms',
        });
      } finally {
        handle.close();
      }
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// `npx tsx bench/audit-chain.ts [events]`: this figure alone.
if (process.argv[1]?.endsWith('audit-chain.ts') === true) {
  const events = Number(process.argv[2] ?? 100_000);
  measureAuditChain(events).then(
    (rows) => {
      for (const r of rows) console.log(`${r.label.padEnd(58)} ${r.value.padStart(10)} ${r.unit}`);
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
