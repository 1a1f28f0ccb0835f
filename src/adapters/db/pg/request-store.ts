import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { NewRequest, RequestStore } from '../../../app/ports';
import type { AccessRequest, Approval } from '../../../domain/request';
import { err, ok } from '../../../domain/result';
import { idChunks } from '../chunks';
import { DbError, notFound } from '../db-error';
import { reminderAt } from '../due-times';
import { approvals, requests } from '../pg-schema';
import { type RequestRow, requestValues, toAccessRequest, toApproval } from '../rows';
import { pgDueQuery } from './due-query';
import { returned } from './errors';
import { bytewise } from './order';
import type { PgContext, PgExec } from './unit-of-work';

/**
 * `RequestStore` on PostgreSQL, behaving as the SQLite one (`../request-store.ts`) does. Every
 * compare-and-set is one conditional UPDATE (atomic under READ COMMITTED: a concurrent writer of the
 * row waits, then the condition is checked again on the row it committed). Where SQLite reads then
 * writes inside its single writer's lock, this store locks the request row (`FOR UPDATE`) first, so
 * votes and decisions on one request queue behind each other until their transactions end.
 */
export function createPgRequestStore(ctx: PgContext): RequestStore {
  const find = async (db: PgExec, id: string): Promise<RequestRow | undefined> =>
    (await db.select().from(requests).where(eq(requests.id, id)).limit(1))[0];

  /** The request's state, its row locked until the transaction ends; throws for an unknown id. */
  const lockState = async (db: PgExec, operation: string, id: string) => {
    const [row] = await db
      .select({ state: requests.state })
      .from(requests)
      .where(eq(requests.id, id))
      .for('update');
    if (row === undefined) throw notFound(operation, 'request', id);
    return row.state;
  };

  const approvalsOf = async (db: PgExec, id: string): Promise<Approval[]> =>
    (await db.select().from(approvals).where(eq(approvals.requestId, id)).orderBy(asc(approvals.id))).map(
      toApproval,
    );

  return {
    insert: (request: NewRequest) =>
      ctx.write(
        'requests.insert',
        async (db) => {
          const rows = await db.insert(requests).values(requestValues(request)).returning();
          return toAccessRequest(returned('requests.insert', rows));
        },
        // A duplicate id is refused; under a savepoint the caller's transaction survives the refusal.
        { savepoint: true },
      ),

    get: (id) =>
      ctx.read('requests.get', async (db) => {
        const row = await find(db, id);
        return row === undefined ? undefined : toAccessRequest(row);
      }),

    getAll: (ids) =>
      ctx.read('requests.getAll', async (db) => {
        const found: AccessRequest[] = [];
        for (const chunk of idChunks(ids)) {
          const rows = await db
            .select()
            .from(requests)
            .where(inArray(requests.id, chunk))
            .orderBy(asc(bytewise(requests.id)));
          found.push(...rows.map(toAccessRequest));
        }
        return found;
      }),

    attachMessage: (id, ref) =>
      ctx.write('requests.attachMessage', async (db) => {
        const result = await db
          .update(requests)
          .set({ messageChannel: ref.channel, messageTs: ref.ts })
          .where(eq(requests.id, id));
        if (result.rowCount === 0) throw notFound('requests.attachMessage', 'request', id);
      }),

    addApproval: (id, approverId, at) =>
      ctx.write('requests.addApproval', async (db) => {
        // The request row stays locked until the transaction ends: a decision waits for this vote, and
        // a concurrent vote waits too, then counts this one (both would otherwise count only their own).
        const state = await lockState(db, 'requests.addApproval', id);
        if (state !== 'pending') return err('NOT_PENDING', { state });
        const inserted = await db
          .insert(approvals)
          .values({ requestId: id, approverId, at: at.getTime() })
          .onConflictDoNothing();
        if (inserted.rowCount === 0) return err('ALREADY_APPROVED', { approverId });
        return ok(await approvalsOf(db, id));
      }),

    approvals: (id) => ctx.read('requests.approvals', (db) => approvalsOf(db, id)),

    withdrawApproval: (id, approverId) =>
      ctx.write('requests.withdrawApproval', async (db) => {
        // Only a pending request's votes still matter; a decided request keeps the votes that decided it.
        const state = await lockState(db, 'requests.withdrawApproval', id);
        if (state !== 'pending') return;
        await db
          .delete(approvals)
          .where(and(eq(approvals.requestId, id), eq(approvals.approverId, approverId)));
      }),

    decide: (id, to, by, at, note) =>
      ctx.write('requests.decide', async (db) => {
        // Compare-and-set: only a request that is still pending moves, so a second click changes nothing.
        const [row] = await db
          .update(requests)
          .set({ state: to, decidedBy: by, decidedAt: at.getTime(), ...(note !== undefined ? { note } : {}) })
          .where(and(eq(requests.id, id), eq(requests.state, 'pending')))
          .returning();
        if (row !== undefined) return ok(toAccessRequest(row));
        const current = await find(db, id);
        if (current === undefined) throw notFound('requests.decide', 'request', id);
        return err('NOT_PENDING', { state: current.state });
      }),

    markFailed: (id, note, at) =>
      ctx.write('requests.markFailed', async (db) => {
        // decided_by is kept: it still names who approved what then failed.
        const [row] = await db
          .update(requests)
          .set({ state: 'failed', note, decidedAt: at.getTime() })
          .where(and(eq(requests.id, id), inArray(requests.state, ['pending', 'approved'])))
          .returning();
        if (row !== undefined) return toAccessRequest(row);
        const current = await find(db, id);
        if (current === undefined) throw notFound('requests.markFailed', 'request', id);
        // A retried failure path (after a crash) finds it already failed: the first note stands.
        if (current.state === 'failed') return toAccessRequest(current);
        throw new DbError(
          'requests.markFailed',
          'INVALID_STATE',
          `request ${id} is ${current.state}, not pending or approved`,
        );
      }),

    listPending: (requesterId) =>
      ctx.read('requests.listPending', async (db) =>
        (
          await db
            .select()
            .from(requests)
            .where(
              and(
                eq(requests.state, 'pending'),
                requesterId === undefined ? undefined : eq(requests.requesterId, requesterId),
              ),
            )
            .orderBy(asc(requests.createdAt), asc(bytewise(requests.id)))
        ).map(toAccessRequest),
      ),

    timeouts: pgDueQuery({
      name: 'requests.timeouts',
      ctx,
      table: requests,
      waiting: eq(requests.state, 'pending'),
      at: sql<number>`${requests.approvalDeadline}`,
      tiebreak: bytewise(requests.id),
      toItem: toAccessRequest,
    }),

    reminders: pgDueQuery({
      name: 'requests.reminders',
      ctx,
      table: requests,
      waiting: and(eq(requests.state, 'pending'), isNull(requests.remindedAt)),
      at: reminderAt(requests),
      tiebreak: bytewise(requests.id),
      toItem: toAccessRequest,
    }),

    markReminded: (id, at) =>
      ctx.write('requests.markReminded', async (db) => {
        // Compare-and-set: of two replicas reminding at once, only one finds it unreminded.
        const result = await db
          .update(requests)
          .set({ remindedAt: at.getTime() })
          .where(and(eq(requests.id, id), isNull(requests.remindedAt)));
        return (result.rowCount ?? 0) > 0;
      }),

    pendingExtension: (grantId) =>
      ctx.read('requests.pendingExtension', async (db) => {
        const [row] = await db
          .select()
          .from(requests)
          .where(and(eq(requests.state, 'pending'), eq(requests.extendsGrantId, grantId)))
          .orderBy(asc(requests.createdAt), asc(bytewise(requests.id)))
          .limit(1);
        return row === undefined ? undefined : toAccessRequest(row);
      }),
  };
}
