import type { AuditLog } from '../../../app/ports';
import type { PgHandle } from '../open-pg';
import type { SqliteStores } from '../stores';
import { createPgAddressLinkStore } from './address-link-store';
import { createPostgresAuditLog, type PostgresAuditLogOptions } from './audit-log';
import { createPgBackstopStore } from './backstop-store';
import { createPgCutStore } from './cut-store';
import { createPgGrantStore } from './grant-store';
import { createPgOutboxStore } from './outbox-store';
import { createPgRequestStore } from './request-store';
import { createPgRoleSessionStore } from './role-session-store';
import { createPgRuleStore } from './rule-store';
import { createPgApiRequestStore, createPgTokenStore } from './token-store';
import { createPgContext, type PgContext, type PgRetryPolicy } from './unit-of-work';

/** Every store port on one PostgreSQL pool, so `uow.tx` spans them all: the shape `createSqliteStores` returns. */
export type PostgresStores = SqliteStores;

export type PostgresStoresOptions = PostgresAuditLogOptions & {
  /** How transactions and reads are retried after a transient failure (`DEFAULT_PG_RETRY` by default). */
  readonly retry?: Partial<PgRetryPolicy>;
};

/** The store ports on an open PostgreSQL database (see `openPostgres`); `options.key` seals new audit events. */
export function createPostgresStores(
  handle: Pick<PgHandle, 'db' | 'pool'>,
  options: PostgresStoresOptions = {},
): PostgresStores {
  const { retry, ...audit } = options;
  return pgStoresOn(createPgContext(handle, retry === undefined ? {} : { retry }), audit);
}

/** The stores over a `PgContext` of one's own (tests reach the current transaction's connection through it). */
export function pgStoresOn(ctx: PgContext, options: PostgresAuditLogOptions = {}): PostgresStores {
  return {
    requests: createPgRequestStore(ctx),
    grants: createPgGrantStore(ctx),
    rules: createPgRuleStore(ctx),
    roleSessions: createPgRoleSessionStore(ctx),
    outbox: createPgOutboxStore(ctx),
    audit: auditIn(
      ctx,
      createPostgresAuditLog(() => ctx.db(), options),
    ),
    backstopRecords: createPgBackstopStore(ctx),
    cuts: createPgCutStore(ctx),
    addressLinks: createPgAddressLinkStore(ctx),
    tokens: createPgTokenStore(ctx),
    apiRequests: createPgApiRequestStore(ctx),
    uow: ctx.uow,
  };
}

/**
 * The audit log run through the context like every other store: inside a transaction its append joins
 * it (as a savepoint: `ctx.db()` is the transaction there); outside one, an append and a head reading
 * (both take the append lock) get a transaction of the context's own, retried as the stores' writes
 * are — drizzle's would neither retry nor watch its connection — and reads are retried on a transient failure.
 */
function auditIn(ctx: PgContext, log: AuditLog): AuditLog {
  return {
    append: (event) => ctx.write('audit.append', () => log.append(event)),
    // Nothing to append: no transaction, no lock.
    appendAll: async (events) => {
      if (events.length > 0) await ctx.write('audit.appendAll', () => log.appendAll(events));
    },
    head: () => ctx.write('audit.head', () => log.head()),
    list: (filter) => ctx.read('audit.list', () => log.list(filter)),
    lastOfType: (type) => ctx.read('audit.lastOfType', () => log.lastOfType(type)),
  };
}
