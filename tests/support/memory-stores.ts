import { eventHash, GENESIS_HASH } from '../../src/adapters/db/audit-log';
import { idChunks, inIdOrder } from '../../src/adapters/db/chunks';
import { DbError, notFound } from '../../src/adapters/db/db-error';
import type { SqliteStores } from '../../src/adapters/db/stores';
import { createSyncGate, NOTHING_DUE_NOW, type Sync } from '../../src/adapters/db/sync-gate';
import type {
  AddressLink,
  AddressLinkStore,
  AuditEvent,
  AuditLog,
  BackstopRecord,
  BackstopStore,
  BackstopWant,
  ConnectionCut,
  CutState,
  CutStore,
  GrantStore,
  OutboxItem,
  OutboxStore,
  RequestStore,
  RoleSessionStore,
  RuleHold,
  RuleStore,
  RuleTarget,
  StoredRoleSession,
} from '../../src/app/ports';
import { type Grant, isLive } from '../../src/domain/grant';
import type { AccessRequest, Approval } from '../../src/domain/request';
import { err, ok } from '../../src/domain/result';
import { memorySyncDueQuery } from './memory-due-query';

/**
 * The store ports, whichever implementation: the shape `createSqliteStores` returns, less the automation
 * stores (tokens, API requests), which the use-case tests do not need (they are optional in `AppDeps`).
 */
export type Stores = Omit<SqliteStores, 'tokens' | 'apiRequests'>;

type HoldRow = RuleHold & { readonly id: number; readonly releasedAt?: Date | undefined };
type OutboxRow = OutboxItem & {
  readonly nextAt: Date;
  readonly doneAt?: Date | undefined;
  readonly abandoned: boolean;
  readonly lastError?: string | undefined;
};
type AuditRow = AuditEvent & { readonly seq: number; readonly hash: string };

/**
 * Every table, as maps of immutable rows keyed by primary key (insertion order is id order). An update
 * replaces the row, so copying the maps is a full snapshot: that is how `uow.tx` rolls back.
 */
type Tables = {
  requests: Map<string, AccessRequest>;
  approvals: Map<number, Approval>;
  grants: Map<string, Grant>;
  holds: Map<number, HoldRow>;
  roleSessions: Map<string, StoredRoleSession>;
  outbox: Map<number, OutboxRow>;
  audit: Map<number, AuditRow>;
  backstops: Map<string, BackstopRecord>;
  cuts: Map<number, ConnectionCut>;
  /** AUTOINCREMENT counters: an id is never reused, even after a rollback (as in SQLite… nearly, see below). */
  seq: { approvals: number; holds: number; outbox: number; cuts: number };
};

const emptyTables = (): Tables => ({
  requests: new Map(),
  approvals: new Map(),
  grants: new Map(),
  holds: new Map(),
  roleSessions: new Map(),
  outbox: new Map(),
  audit: new Map(),
  backstops: new Map(),
  cuts: new Map(),
  seq: { approvals: 0, holds: 0, outbox: 0, cuts: 0 },
});

const snapshot = (t: Tables): Tables => ({
  requests: new Map(t.requests),
  approvals: new Map(t.approvals),
  grants: new Map(t.grants),
  holds: new Map(t.holds),
  roleSessions: new Map(t.roleSessions),
  outbox: new Map(t.outbox),
  audit: new Map(t.audit),
  backstops: new Map(t.backstops),
  cuts: new Map(t.cuts),
  seq: { ...t.seq },
});

/** A copy of `row` without the given optional keys (a column set back to NULL). */
function without<T extends object, K extends keyof T>(row: T, ...keys: K[]): Omit<T, K> {
  const copy = { ...row };
  for (const k of keys) delete copy[k];
  return copy;
}

/** `{ key: value }` when the value is set, else nothing: absent fields stay absent, as the SQLite rows map them. */
const opt = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };

const byTime = (a: Date, b: Date): number => a.getTime() - b.getTime();

/**
 * In-memory twins of every store port, with the semantics the SQLite stores have (the conformance suite,
 * tests/integration/db/store-conformance.test.ts, runs both). What is simplified:
 * - the audit chain is the unkeyed SHA-256 chain only (no HMAC key, no legacy rows, no tamper triggers);
 * - `rules.recordLegacyTargets` finds nothing: holds written here always record their target;
 * - foreign keys are checked where the SQLite schema has them, but errors are plain `DbError`s with
 *   code `FOREIGN_KEY` / `UNIQUE` rather than SQLite's extended codes;
 * - a rolled-back transaction restores the AUTOINCREMENT counters too (SQLite would as well, since
 *   `sqlite_sequence` is a table).
 */
export function createMemoryStores(): Stores {
  let t = emptyTables();

  const mustRequest = (op: string, id: string): AccessRequest => {
    const r = t.requests.get(id);
    if (r === undefined) throw notFound(op, 'request', id);
    return r;
  };
  const mustGrantExist = (op: string, grantId: string): void => {
    if (!t.grants.has(grantId))
      throw new DbError(op, 'FOREIGN_KEY', `FOREIGN KEY constraint failed (grant ${grantId})`);
  };
  const putRequest = (r: AccessRequest): AccessRequest => {
    t.requests.set(r.id, r);
    return r;
  };
  const putGrant = (g: Grant): Grant => {
    t.grants.set(g.id, g);
    return g;
  };
  const approvalsOf = (id: string): Approval[] => [...t.approvals.values()].filter((a) => a.requestId === id);
  const liveHolds = (): HoldRow[] =>
    [...t.holds.values()].filter((h) => {
      const g = t.grants.get(h.grantId);
      return h.releasedAt === undefined && g !== undefined && isLive(g.state);
    });
  const holdOut = ({ id: _id, releasedAt: _r, ...hold }: HoldRow): RuleHold => hold;

  const requests: Sync<RequestStore> = {
    insert: (n) => {
      if (t.requests.has(n.id)) throw new DbError('requests.insert', 'UNIQUE', `request ${n.id} exists`);
      return putRequest({
        id: n.id,
        resourceId: n.resourceId,
        requesterId: n.requesterId,
        durationMs: n.durationMs,
        ...opt('source', n.source),
        reason: n.reason,
        state: 'pending',
        createdAt: n.createdAt,
        approvalDeadline: n.approvalDeadline,
        kind: n.kind ?? 'access',
        ...opt('extendsGrantId', n.extendsGrantId),
        breakGlass: n.breakGlass ?? false,
        // Stored as JSON, as the SQLite column is: what comes back is a copy.
        ...opt('resourceAtRequest', n.resourceAtRequest && JSON.parse(JSON.stringify(n.resourceAtRequest))),
      });
    },
    get: (id) => t.requests.get(id),
    // As SQLite answers a batch: a chunk at a time, each in id order.
    getAll: (ids) => idChunks(ids).flatMap((chunk) => chunk.flatMap((id) => t.requests.get(id) ?? [])),
    attachMessage: (id, ref) => {
      putRequest({ ...mustRequest('requests.attachMessage', id), message: { ...ref } });
    },
    addApproval: (id, approverId, at) => {
      const r = mustRequest('requests.addApproval', id);
      if (r.state !== 'pending') return err('NOT_PENDING', { state: r.state });
      if (approvalsOf(id).some((a) => a.approverId === approverId))
        return err('ALREADY_APPROVED', { approverId });
      t.seq.approvals += 1;
      t.approvals.set(t.seq.approvals, { requestId: id, approverId, at });
      return ok(approvalsOf(id));
    },
    approvals: approvalsOf,
    withdrawApproval: (id, approverId) => {
      if (mustRequest('requests.withdrawApproval', id).state !== 'pending') return;
      for (const [k, a] of t.approvals) {
        if (a.requestId === id && a.approverId === approverId) t.approvals.delete(k);
      }
    },
    decide: (id, to, by, at, note) => {
      const r = mustRequest('requests.decide', id);
      if (r.state !== 'pending') return err('NOT_PENDING', { state: r.state });
      return ok(putRequest({ ...r, state: to, decidedBy: by, decidedAt: at, ...opt('note', note) }));
    },
    markFailed: (id, note, at) => {
      const r = mustRequest('requests.markFailed', id);
      if (r.state === 'failed') return r;
      if (r.state !== 'pending' && r.state !== 'approved')
        throw new DbError('requests.markFailed', 'INVALID_STATE', `request ${id} is ${r.state}`);
      return putRequest({ ...r, state: 'failed', note, decidedAt: at });
    },
    listPending: (requesterId) =>
      [...t.requests.values()]
        .filter((r) => r.state === 'pending' && (requesterId === undefined || r.requesterId === requesterId))
        .sort((a, b) => byTime(a.createdAt, b.createdAt) || a.id.localeCompare(b.id)),
    timeouts: memorySyncDueQuery(
      () => t.requests.values(),
      (r) => r.state === 'pending',
      (r) => r.approvalDeadline.getTime(),
      (r) => r.id,
    ),
    reminders: memorySyncDueQuery(
      () => t.requests.values(),
      (r) => r.state === 'pending' && r.remindedAt === undefined,
      // SQLite divides integers by truncating: half of an odd approval time rounds down.
      (r) => r.createdAt.getTime() + Math.trunc((r.approvalDeadline.getTime() - r.createdAt.getTime()) / 2),
      (r) => r.id,
    ),
    markReminded: (id, at) => {
      const r = t.requests.get(id);
      if (r === undefined || r.remindedAt !== undefined) return false;
      putRequest({ ...r, remindedAt: at });
      return true;
    },
    pendingExtension: (grantId) =>
      [...t.requests.values()].find((r) => r.state === 'pending' && r.extendsGrantId === grantId),
  };

  const grants: Sync<GrantStore> = {
    insert: (n) => {
      if (!t.requests.has(n.requestId))
        throw new DbError('grants.insert', 'FOREIGN_KEY', `no request ${n.requestId}`);
      if (t.grants.has(n.id) || [...t.grants.values()].some((g) => g.requestId === n.requestId))
        throw new DbError('grants.insert', 'UNIQUE', `a grant for ${n.requestId} exists`);
      return putGrant({
        id: n.id,
        requestId: n.requestId,
        resourceId: n.resourceId,
        requesterId: n.requesterId,
        state: 'opening',
        startsAt: n.startsAt,
        expiresAt: n.expiresAt,
        breakGlass: n.breakGlass ?? false,
        closeAttempts: 0,
      });
    },
    get: (id) => t.grants.get(id),
    getAll: (ids) => idChunks(ids).flatMap((chunk) => chunk.flatMap((id) => t.grants.get(id) ?? [])),
    byRequest: (requestId) => [...t.grants.values()].find((g) => g.requestId === requestId),
    move: (id, from, to, patch = {}) => {
      const g = t.grants.get(id);
      if (g === undefined) throw notFound('grants.move', 'grant', id);
      if (!from.includes(g.state)) return err('STATE_CHANGED', { state: g.state });
      // A state change is a fresh start: a close started now is attempted at once.
      return ok(
        putGrant({
          ...without(g, 'retryAt'),
          state: to,
          ...opt('endedAt', patch.endedAt),
          ...opt('endReason', patch.endReason),
          ...opt('endedBy', patch.endedBy),
        }),
      );
    },
    moveAll: (ids, from, to, patch = {}) =>
      inIdOrder(
        from.length === 0
          ? []
          : idChunks(ids).flatMap((chunk) =>
              chunk.flatMap((id) => {
                const g = t.grants.get(id);
                if (g === undefined || !from.includes(g.state)) return [];
                return [
                  putGrant({
                    ...without(g, 'retryAt'),
                    state: to,
                    ...opt('endedAt', patch.endedAt),
                    ...opt('endReason', patch.endReason),
                    ...opt('endedBy', patch.endedBy),
                  }),
                ];
              }),
            ),
      ),
    list: (states, requesterId) =>
      [...t.grants.values()]
        .filter(
          (g) => states.includes(g.state) && (requesterId === undefined || g.requesterId === requesterId),
        )
        .sort((a, b) => byTime(a.expiresAt, b.expiresAt) || a.id.localeCompare(b.id)),
    closes: memorySyncDueQuery(
      () => t.grants.values(),
      (g) => isLive(g.state),
      (g) => (g.state === 'closing' ? (g.retryAt?.getTime() ?? 0) : g.expiresAt.getTime()),
      (g) => g.id,
    ),
    closeFailed: (id, retryAt) => {
      const g = t.grants.get(id);
      if (g === undefined || g.state !== 'closing') return undefined;
      return putGrant({ ...g, closeAttempts: g.closeAttempts + 1, retryAt });
    },
    extend: (id, expiresAt) => {
      const g = t.grants.get(id);
      if (g === undefined || g.state !== 'active') return err('STATE_CHANGED');
      return ok(putGrant({ ...without(g, 'warnedAt'), expiresAt }));
    },
    warnings: (warnBeforeMs) =>
      warnBeforeMs <= 0
        ? NOTHING_DUE_NOW
        : memorySyncDueQuery(
            () => t.grants.values(),
            (g) =>
              g.state === 'active' &&
              g.warnedAt === undefined &&
              g.expiresAt.getTime() - g.startsAt.getTime() >= 2 * warnBeforeMs,
            (g) => g.expiresAt.getTime() - warnBeforeMs,
            (g) => g.id,
          ),
    markWarned: (id, at) => {
      const g = t.grants.get(id);
      if (g === undefined || g.warnedAt !== undefined) return false;
      putGrant({ ...g, warnedAt: at });
      return true;
    },
    markReviewed: (id, by, at) => {
      const g = t.grants.get(id);
      if (g === undefined || !g.breakGlass || g.reviewedAt !== undefined) return err('ALREADY_REVIEWED');
      return ok(putGrant({ ...g, reviewedBy: by, reviewedAt: at }));
    },
    unreviewedBreakGlass: () =>
      [...t.grants.values()]
        .filter((g) => g.breakGlass && g.reviewedAt === undefined)
        .sort((a, b) => byTime(a.startsAt, b.startsAt)),
  };

  const sameKey = (h: RuleHold, k: Omit<RuleHold, 'grantId' | 'ruleId' | 'managed'>): boolean =>
    h.region === k.region &&
    h.groupId === k.groupId &&
    h.protocol === k.protocol &&
    h.fromPort === k.fromPort &&
    h.toPort === k.toPort &&
    h.cidr === k.cidr;

  const rules: Sync<RuleStore> = {
    hold: (hold) => {
      mustGrantExist('rules.hold', hold.grantId);
      const held = [...t.holds.values()].some(
        (h) => h.grantId === hold.grantId && h.ruleId === hold.ruleId && h.releasedAt === undefined,
      );
      if (held) return;
      t.seq.holds += 1;
      const { assumeRoleArn, ...rest } = hold;
      t.holds.set(t.seq.holds, { ...rest, ...opt('assumeRoleArn', assumeRoleArn), id: t.seq.holds });
    },
    holdsOf: (grantId) =>
      [...t.holds.values()].filter((h) => h.grantId === grantId && h.releasedAt === undefined).map(holdOut),
    holdsOfAll: (grantIds) =>
      idChunks(grantIds).flatMap((chunk) => {
        const of = new Set(chunk);
        return [...t.holds.values()]
          .filter((h) => of.has(h.grantId) && h.releasedAt === undefined)
          .map(holdOut);
      }),
    heldByOthers: (ruleIds, exceptGrantIds) => {
      const wanted = new Set(ruleIds);
      const except = new Set(exceptGrantIds);
      return new Set(
        liveHolds()
          .filter((h) => wanted.has(h.ruleId) && !except.has(h.grantId))
          .map((h) => h.ruleId),
      );
    },
    otherLiveHolders: (ruleId, exceptGrantId) =>
      new Set(
        liveHolds()
          .filter((h) => h.ruleId === ruleId && h.grantId !== exceptGrantId)
          .map((h) => h.grantId),
      ).size,
    liveHoldsIn: (group) =>
      liveHolds()
        .filter((h) => h.region === group.region && h.groupId === group.groupId)
        .map(holdOut),
    liveHoldsOn: (ruleId) =>
      liveHolds()
        .filter((h) => h.ruleId === ruleId)
        .map(holdOut),
    findLive: (key) => {
      const found = liveHolds().find((h) => sameKey(h, key));
      return found === undefined ? undefined : holdOut(found);
    },
    release: (grantId, at) => {
      for (const h of t.holds.values()) {
        if (h.grantId === grantId && h.releasedAt === undefined) t.holds.set(h.id, { ...h, releasedAt: at });
      }
    },
    releaseAll: (grantIds, at) => {
      const of = new Set(grantIds);
      for (const h of t.holds.values()) {
        if (of.has(h.grantId) && h.releasedAt === undefined) t.holds.set(h.id, { ...h, releasedAt: at });
      }
    },
    knownTargets: (releasedSince) => {
      const seen = new Map<string, RuleTarget>();
      for (const h of t.holds.values()) {
        if (h.releasedAt !== undefined && h.releasedAt < releasedSince) continue;
        const target = { region: h.region, groupId: h.groupId, ...opt('assumeRoleArn', h.assumeRoleArn) };
        seen.set(JSON.stringify([h.region, h.groupId, h.assumeRoleArn ?? null]), target);
      }
      // ORDER BY region, group, role, as SQLite compares text (by code unit, a NULL role first).
      const cmp = (a = '', b = ''): number => (a < b ? -1 : a > b ? 1 : 0);
      return [...seen.values()].sort(
        (a, b) =>
          cmp(a.region, b.region) || cmp(a.groupId, b.groupId) || cmp(a.assumeRoleArn, b.assumeRoleArn),
      );
    },
    recordLegacyTargets: () => 0,
  };

  const roleSessions: Sync<RoleSessionStore> = {
    record: (grantId, roleArn, session) => {
      mustGrantExist('roleSessions.record', grantId);
      if (!t.roleSessions.has(grantId)) t.roleSessions.set(grantId, { grantId, roleArn, ...session });
    },
    get: (grantId) => t.roleSessions.get(grantId),
    liveOfRole: (roleArn, now) =>
      [...t.roleSessions.values()]
        .filter((s) => s.roleArn === roleArn && s.expiresAt > now)
        .sort((a, b) => byTime(a.expiresAt, b.expiresAt) || a.grantId.localeCompare(b.grantId)),
    markDenied: (grantId, policyName, at) => {
      const s = t.roleSessions.get(grantId);
      if (s !== undefined) t.roleSessions.set(grantId, { ...s, denyPolicyName: policyName, deniedAt: at });
    },
    markDenyRemoved: (grantId, at) => {
      const s = t.roleSessions.get(grantId);
      if (s !== undefined) t.roleSessions.set(grantId, { ...s, denyRemovedAt: at });
    },
    cleanups: memorySyncDueQuery(
      () => t.roleSessions.values(),
      (s) => s.deniedAt !== undefined && s.denyRemovedAt === undefined,
      (s) => s.expiresAt.getTime(),
      (s) => s.grantId,
    ),
  };

  const waiting = (): OutboxRow[] => [...t.outbox.values()].filter((o) => o.doneAt === undefined);
  /** The first waiting delivery of each lane: only these may go. */
  const heads = (): OutboxRow[] => {
    const first = new Map<string, OutboxRow>();
    for (const o of waiting()) if (!first.has(o.lane)) first.set(o.lane, o);
    return [...first.values()].sort((a, b) => a.id - b.id);
  };
  const updateOutbox = (id: number, patch: (o: OutboxRow) => Partial<OutboxRow>): void => {
    const o = t.outbox.get(id);
    if (o !== undefined) t.outbox.set(id, { ...o, ...patch(o) });
  };
  const toItem = ({ nextAt: _n, doneAt: _d, abandoned: _a, lastError: _e, ...item }: OutboxRow): OutboxItem =>
    item;

  const outbox: Sync<OutboxStore> = {
    enqueue: (item, now) => {
      // The card is rendered fresh when it is sent, so one waiting update says all there is to say.
      const queued =
        item.kind === 'card-update' &&
        item.requestId !== undefined &&
        waiting().some((o) => o.kind === 'card-update' && o.requestId === item.requestId);
      if (queued) return;
      t.seq.outbox += 1;
      t.outbox.set(t.seq.outbox, {
        id: t.seq.outbox,
        kind: item.kind,
        lane: item.lane,
        ...opt('requestId', item.requestId),
        ...opt('userId', item.userId),
        ...opt('channel', item.channel),
        ...opt('notice', item.notice),
        attempts: 0,
        createdAt: now,
        nextAt: now,
        abandoned: false,
      });
    },
    ready: (now, limit) =>
      heads()
        .filter((o) => o.nextAt <= now)
        .slice(0, limit)
        .map(toItem),
    done: (id, at) => updateOutbox(id, (o) => ({ doneAt: at, attempts: o.attempts + 1 })),
    retryLater: (id, attempts, nextAt, error) =>
      updateOutbox(id, () => ({ attempts, nextAt, lastError: error.slice(0, 500) })),
    abandon: (id, at, error) =>
      updateOutbox(id, (o) => ({
        doneAt: at,
        abandoned: true,
        attempts: o.attempts + 1,
        lastError: error.slice(0, 500),
      })),
    nextAttempt: () => heads().sort((a, b) => byTime(a.nextAt, b.nextAt))[0]?.nextAt,
    waiting: () => waiting().length,
    prune: (before, limit) => {
      const old = [...t.outbox.values()]
        .filter((o) => o.doneAt !== undefined && o.doneAt < before && !o.abandoned)
        .sort((a, b) => a.id - b.id)
        .slice(0, limit);
      for (const o of old) t.outbox.delete(o.id);
      return old.length;
    },
  };

  const lastAudit = (): AuditRow | undefined => [...t.audit.values()].at(-1);
  const auditOut = ({ seq: _s, hash: _h, ...event }: AuditRow): AuditEvent => event;

  const appendEvent = (event: AuditEvent): void => {
    const last = lastAudit();
    const seq = (last?.seq ?? 0) + 1;
    // Stored as JSON, as the SQLite column is: Dates inside come back as ISO strings.
    const details =
      event.details === undefined
        ? undefined
        : (JSON.parse(JSON.stringify(event.details)) as AuditEvent['details']);
    // The same unkeyed seal the SQLite log writes, so both logs over the same events share a head.
    const hash = eventHash(last?.hash ?? GENESIS_HASH, {
      seq,
      at: event.at.getTime(),
      actor: event.actor,
      type: event.type,
      requestId: event.requestId ?? null,
      grantId: event.grantId ?? null,
      details: details === undefined ? null : JSON.stringify(event.details),
    });
    t.audit.set(seq, {
      seq,
      hash,
      at: event.at,
      actor: event.actor,
      type: event.type,
      ...opt('requestId', event.requestId),
      ...opt('grantId', event.grantId),
      ...opt('details', details),
    });
  };

  const audit: Sync<AuditLog> = {
    append: appendEvent,
    appendAll: (events) => {
      // All or nothing, as SQLite's one transaction: an event that cannot be stored appends none of them.
      const before = new Map(t.audit);
      try {
        for (const event of events) appendEvent(event);
      } catch (e) {
        t.audit = before;
        throw e;
      }
    },
    list: (filter = {}) =>
      [...t.audit.values()]
        .filter((e) => filter.requestId === undefined || e.requestId === filter.requestId)
        .map(auditOut),
    head: () => {
      const last = lastAudit();
      return last === undefined ? { count: 0, hash: GENESIS_HASH } : { count: last.seq, hash: last.hash };
    },
    lastOfType: (type) => {
      const found = [...t.audit.values()].filter((e) => e.type === type).at(-1);
      return found === undefined ? undefined : auditOut(found);
    },
  };

  const backstopRecords: Sync<BackstopStore> = {
    get: (ruleId) => t.backstops.get(ruleId),
    set: (ruleId, record) => {
      if (record === undefined) t.backstops.delete(ruleId);
      else t.backstops.set(ruleId, record);
    },
    all: () => [...t.backstops.values()].sort((a, b) => a.ruleId.localeCompare(b.ruleId)),
    wanted: (ruleIds) => {
      const byRule = new Map<string, BackstopWant>();
      const holds = liveHolds()
        .filter((h) => h.managed && (ruleIds === undefined || ruleIds.includes(h.ruleId)))
        .sort((a, b) => a.ruleId.localeCompare(b.ruleId) || a.id - b.id);
      for (const h of holds) {
        const g = t.grants.get(h.grantId);
        if (g === undefined) continue;
        const seen = byRule.get(h.ruleId);
        // The holder that ends last decides; of two ending together, the first hold.
        if (seen !== undefined && seen.lastEnd >= g.expiresAt) continue;
        byRule.set(h.ruleId, {
          ruleId: h.ruleId,
          target: { region: h.region, groupId: h.groupId, ...opt('assumeRoleArn', h.assumeRoleArn) },
          grantId: g.id,
          resourceId: g.resourceId,
          lastEnd: g.expiresAt,
        });
      }
      return [...byRule.values()];
    },
    ours: (ruleIds) =>
      new Set(
        ruleIds.filter(
          (id) => t.backstops.has(id) || [...t.holds.values()].some((h) => h.managed && h.ruleId === id),
        ),
      ),
  };

  const HOLDING: readonly CutState[] = ['adding', 'in_place', 'removing'];
  const insertCut = (cut: Omit<ConnectionCut, 'id'>): ConnectionCut => {
    t.seq.cuts += 1;
    const row = { ...cut, id: t.seq.cuts };
    t.cuts.set(row.id, row);
    return row;
  };

  const cuts: Sync<CutStore> = {
    plan: (cut, _at) => {
      mustGrantExist('cuts.plan', cut.grantId);
      const same = [...t.cuts.values()].some(
        (c) =>
          c.grantId === cut.grantId &&
          c.target.groupId === cut.target.groupId &&
          c.protocol === cut.protocol &&
          c.fromPort === cut.fromPort &&
          c.toPort === cut.toPort &&
          c.cidr === cut.cidr,
      );
      // A retried close plans again: once is enough.
      if (!same) insertCut({ ...cut, state: 'planned' });
    },
    unfinished: (now) =>
      [...t.cuts.values()].filter((c) => {
        const grant = t.grants.get(c.grantId);
        if (grant === undefined) return false;
        if (c.state === 'planned') return !isLive(grant.state);
        if (c.state === 'adding' || c.state === 'removing') return true;
        return c.state === 'in_place' && c.removeAt !== undefined && c.removeAt <= now;
      }),
    ofGrant: (grantId) => [...t.cuts.values()].filter((c) => c.grantId === grantId),
    numbersInUse: (aclId) =>
      [...t.cuts.values()].flatMap((c) =>
        c.aclId === aclId && HOLDING.includes(c.state) && c.ruleNumber !== undefined ? [c.ruleNumber] : [],
      ),
    liveOnGroup: (region, groupId) =>
      [...t.cuts.values()].filter(
        (c) =>
          c.target.region === region &&
          c.target.groupId === groupId &&
          (c.state === 'adding' || c.state === 'in_place'),
      ),
    expand: (plannedId, entries, refused, removeAt) => {
      const planned = t.cuts.get(plannedId);
      if (planned === undefined || planned.state !== 'planned') return [];
      const { id: _id, ...base } = planned;
      for (const e of entries) {
        const clash = [...t.cuts.values()].some(
          (c) => c.aclId === e.aclId && c.ruleNumber === e.ruleNumber && HOLDING.includes(c.state),
        );
        if (clash) throw new DbError('cuts.expand', 'UNIQUE', `rule ${e.ruleNumber} of ${e.aclId} is taken`);
      }
      const made = [
        ...entries.map((e) =>
          insertCut({ ...base, aclId: e.aclId, ruleNumber: e.ruleNumber, state: 'adding', removeAt }),
        ),
        ...refused.map((r) => insertCut({ ...base, aclId: r.aclId, state: 'refused', note: r.note })),
      ];
      t.cuts.set(plannedId, {
        ...planned,
        state: 'removed',
        note: made.length === 0 ? 'no network interface uses the group: nothing to cut' : 'expanded',
      });
      return made;
    },
    move: (id, from, to, _at, fields = {}) => {
      const c = t.cuts.get(id);
      if (c === undefined || !from.includes(c.state)) return false;
      t.cuts.set(id, { ...c, state: to, ...opt('removeAt', fields.removeAt), ...opt('note', fields.note) });
      return true;
    },
  };

  // A transaction (and each savepoint in it) snapshots every table and puts the snapshot back if it throws.
  const before: Tables[] = [];
  const gate = createSyncGate({
    begin: () => {
      before.push(snapshot(t));
    },
    commit: () => {
      before.pop();
    },
    rollback: () => {
      const snap = before.pop();
      if (snap !== undefined) t = snap;
    },
  });

  return {
    requests: gate.store<RequestStore>(requests),
    grants: gate.store<GrantStore>(grants, ['warnings']),
    rules: gate.store<RuleStore>(rules),
    roleSessions: gate.store<RoleSessionStore>(roleSessions),
    outbox: gate.store<OutboxStore>(outbox),
    audit: gate.store<AuditLog>(audit),
    backstopRecords: gate.store<BackstopStore>(backstopRecords),
    cuts: gate.store<CutStore>(cuts),
    addressLinks: memoryAddressLinks(),
    uow: { tx: gate.tx, afterCommit: gate.afterCommit },
  };
}

/** The address links in memory (not part of a transaction's snapshot: no use case writes one inside one). */
function memoryAddressLinks(): AddressLinkStore {
  const links = new Map<string, { link: AddressLink; usedAt?: number }>();
  return {
    async insert(link) {
      links.set(link.tokenHash, { link });
    },
    async consume(tokenHash, _address, now) {
      const entry = links.get(tokenHash);
      if (entry === undefined) return { ok: false, why: 'unknown' };
      if (entry.usedAt !== undefined) return { ok: false, why: 'used' };
      if (entry.link.expiresAt.getTime() <= now.getTime()) return { ok: false, why: 'expired' };
      entry.usedAt = now.getTime();
      return { ok: true, link: entry.link };
    },
  };
}
