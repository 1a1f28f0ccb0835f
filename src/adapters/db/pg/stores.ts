import type { AuditEvent, AuditLog } from '../../../app/ports';
import type { PgHandle } from '../open-pg';
import type { SqliteStores } from '../stores';
import { createPgAddressLinkStore } from './address-link-store';
import { createPostgresAuditLog, type PostgresAuditLog, type PostgresAuditLogOptions } from './audit-log';
import { createPgBackstopStore } from './backstop-store';
import { createPgCutStore } from './cut-store';
import { createPgGrantStore } from './grant-store';
import { createPgOutboxStore } from './outbox-store';
import { createPgRequestStore } from './request-store';
import { createPgRoleSessionStore } from './role-session-store';
import { createPgRuleStore } from './rule-store';
import { createPgApiRequestStore, createPgTokenStore } from './token-store';
import { type CommitQueue, createPgContext, type PgContext, type PgRetryPolicy } from './unit-of-work';

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
 * The audit log run through the context like every other store. Inside a transaction an append is
 * gathered and written as the transaction's last work, before COMMIT (`ctx.atCommit`): the append lock
 * every replica queues on is then held for the append and COMMIT only, not through the rest of the
 * unit of work's statements (holding it there was the tail of close lateness with several replicas).
 * The chain's order is unchanged: a transaction's events are appended in the order made, and they
 * commit or roll back with its other writes (a savepoint rolled back drops its own). A read inside the
 * transaction (`head`, `list`, `lastOfType`) first writes what was gathered, so it sees the
 * transaction's own events. Outside a transaction, an append and a head reading (both take the lock)
 * get a transaction of the context's own, retried as the stores' writes are, and reads are retried on
 * a transient failure.
 */
function auditIn(ctx: PgContext, log: PostgresAuditLog): AuditLog {
  const appends: CommitQueue<AuditEvent> = {
    name: 'audit.append',
    flush: (events) => log.appendInTransaction(events),
  };
  const append = async (operation: string, events: readonly AuditEvent[]): Promise<void> => {
    // Nothing to append: no transaction, no lock.
    if (events.length === 0 || ctx.atCommit(appends, events)) return;
    await ctx.write(operation, () => log.appendInTransaction(events));
  };
  return {
    append: (event) => append('audit.append', [event]),
    appendAll: (events) => append('audit.appendAll', events),
    head: async () => {
      await ctx.flushNow(appends);
      return ctx.write('audit.head', () => log.head());
    },
    list: async (filter) => {
      await ctx.flushNow(appends);
      return ctx.read('audit.list', () => log.list(filter));
    },
    lastOfType: async (type) => {
      await ctx.flushNow(appends);
      return ctx.read('audit.lastOfType', () => log.lastOfType(type));
    },
  };
}
