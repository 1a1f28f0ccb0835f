import type { AuditLog } from '../../../app/ports';
import type { PgHandle } from '../open-pg';
import type { SqliteStores } from '../stores';
import { createPgBackstopStore } from './backstop-store';
import { createPgCutStore } from './cut-store';
import { createPgGrantStore } from './grant-store';
import { createPgOutboxStore } from './outbox-store';
import { createPgRequestStore } from './request-store';
import { createPgRoleSessionStore } from './role-session-store';
import { createPgRuleStore } from './rule-store';
import { createPgContext, type PgContext, type PgRetryPolicy } from './unit-of-work';

/** Every store port but the audit log, on one PostgreSQL pool, so `uow.tx` spans them all. */
export type PostgresStores = Omit<SqliteStores, 'audit'>;

export type PostgresStoresOptions = {
  /** How transactions and reads are retried after a transient failure (`DEFAULT_PG_RETRY` by default). */
  readonly retry?: Partial<PgRetryPolicy>;
};

/**
 * The store ports on an open PostgreSQL database (see `openPostgres`). The audit log is built apart
 * (`audit`): given the stores' `PgContext`, so its appends run in the same transactions as the rest.
 * With it, the answer has the shape of `SqliteStores`.
 */
export function createPostgresStores(
  handle: Pick<PgHandle, 'pool'>,
  options?: PostgresStoresOptions & { readonly audit?: undefined },
): PostgresStores;
export function createPostgresStores(
  handle: Pick<PgHandle, 'pool'>,
  options: PostgresStoresOptions & { readonly audit: (ctx: PgContext) => AuditLog },
): SqliteStores;
export function createPostgresStores(
  handle: Pick<PgHandle, 'pool'>,
  options: PostgresStoresOptions & { readonly audit?: (ctx: PgContext) => AuditLog } = {},
): PostgresStores | SqliteStores {
  const ctx = createPgContext(handle.pool, options.retry === undefined ? {} : { retry: options.retry });
  const stores = pgStoresOn(ctx);
  return options.audit === undefined ? stores : { ...stores, audit: options.audit(ctx) };
}

/** The stores over a `PgContext` of one's own (tests reach the current transaction's connection through it). */
export function pgStoresOn(ctx: PgContext): PostgresStores {
  return {
    requests: createPgRequestStore(ctx),
    grants: createPgGrantStore(ctx),
    rules: createPgRuleStore(ctx),
    roleSessions: createPgRoleSessionStore(ctx),
    outbox: createPgOutboxStore(ctx),
    backstopRecords: createPgBackstopStore(ctx),
    cuts: createPgCutStore(ctx),
    uow: ctx.uow,
  };
}
