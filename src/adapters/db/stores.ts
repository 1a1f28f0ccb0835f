import type {
  AddressLinkStore,
  ApiRequestStore,
  AuditLog,
  BackstopStore,
  CutStore,
  GrantStore,
  OutboxStore,
  RequestStore,
  RoleSessionStore,
  RuleStore,
  TokenStore,
  UnitOfWork,
} from '../../app/ports';
import { createSqliteAddressLinkStore } from './address-link-store';
import { createSqliteAuditLog, type SqliteAuditLogOptions } from './audit-log';
import { createSqliteBackstopStore } from './backstop-store';
import { createSqliteCutStore } from './cut-store';
import { createSqliteGrantStore } from './grant-store';
import type { DbHandle } from './open-db';
import { createSqliteOutboxStore } from './outbox-store';
import { createSqlitePrepared } from './prepared';
import { createSqliteRequestStore } from './request-store';
import { createSqliteRoleSessionStore } from './role-session-store';
import { createSqliteRuleStore } from './rule-store';
import { createSqliteApiRequestStore, createSqliteTokenStore } from './token-store';
import { createSqliteGate } from './unit-of-work';

/** Every store port over one connection, so `uow.tx` spans them all. */
export type SqliteStores = {
  readonly requests: RequestStore;
  readonly grants: GrantStore;
  readonly rules: RuleStore;
  readonly roleSessions: RoleSessionStore;
  readonly outbox: OutboxStore;
  readonly audit: AuditLog;
  readonly backstopRecords: BackstopStore;
  readonly cuts: CutStore;
  readonly addressLinks: AddressLinkStore;
  /** Automation tokens (hashes only). */
  readonly tokens: TokenStore;
  /** The token, agent and lease behind each request made through the HTTP API. */
  readonly apiRequests: ApiRequestStore;
  readonly uow: UnitOfWork;
};

/** The store ports on an open database (see `openDatabase`); `options.key` seals new audit events. */
export function createSqliteStores(
  handle: Pick<DbHandle, 'db' | 'sqlite'>,
  options: SqliteAuditLogOptions = {},
): SqliteStores {
  const gate = createSqliteGate(handle.sqlite);
  // The hot paths' queries, prepared once for every store on this connection.
  const prepared = createSqlitePrepared(handle.db);
  return {
    requests: gate.store<RequestStore>(createSqliteRequestStore(handle.db, prepared)),
    grants: gate.store<GrantStore>(createSqliteGrantStore(handle.db, prepared), ['warnings']),
    rules: gate.store<RuleStore>(createSqliteRuleStore(handle.db, prepared)),
    roleSessions: gate.store<RoleSessionStore>(createSqliteRoleSessionStore(handle.db)),
    outbox: gate.store<OutboxStore>(createSqliteOutboxStore(handle.db, prepared)),
    audit: gate.store<AuditLog>(createSqliteAuditLog(handle.db, options, prepared)),
    backstopRecords: gate.store<BackstopStore>(createSqliteBackstopStore(handle.db)),
    cuts: gate.store<CutStore>(createSqliteCutStore(handle.db)),
    addressLinks: gate.store<AddressLinkStore>(createSqliteAddressLinkStore(handle.db)),
    tokens: gate.store<TokenStore>(createSqliteTokenStore(handle.db)),
    apiRequests: gate.store<ApiRequestStore>(createSqliteApiRequestStore(handle.db)),
    uow: { tx: gate.tx, afterCommit: gate.afterCommit },
  };
}
