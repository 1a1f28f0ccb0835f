import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { NewRequest, RequestStore } from '../../app/ports';
import type { Approval } from '../../domain/request';
import { err, ok } from '../../domain/result';
import { idChunks, sqliteIdIn } from './chunks';
import { DbError, notFound, withDbErrors } from './db-error';
import { sqliteDueQuery } from './due-query';
import { reminderAt as reminderAtOf } from './due-times';
import type { Db } from './open-db';
import { createSqlitePrepared, type SqlitePrepared } from './prepared';
import { type RequestRow, requestValues, toAccessRequest, toApproval } from './rows';
import { approvals, requests } from './schema';
import type { Sync } from './sync-gate';

/** Half-way through a request's approval time: when its approvers are reminded. */
const reminderAt = reminderAtOf(requests);

/** `RequestStore` on SQLite. Synchronous: a read-check-write in one call cannot interleave with another handler. */
export function createSqliteRequestStore(
  db: Db,
  prepared: SqlitePrepared = createSqlitePrepared(db),
): Sync<RequestStore> {
  const find = (id: string): RequestRow | undefined => prepared.requestById.get({ id });

  const mustFind = (operation: string, id: string): RequestRow => {
    const row = find(id);
    if (row === undefined) throw notFound(operation, 'request', id);
    return row;
  };

  const approvalsOf = (id: string): Approval[] => prepared.approvalsOf.all({ id }).map(toApproval);

  return {
    insert: (request: NewRequest) =>
      withDbErrors('requests.insert', () => {
        const row = db.insert(requests).values(requestValues(request)).returning().get();
        return toAccessRequest(row);
      }),

    get: (id) =>
      withDbErrors('requests.get', () => {
        const row = find(id);
        return row === undefined ? undefined : toAccessRequest(row);
      }),

    getAll: (ids) =>
      withDbErrors('requests.getAll', () =>
        idChunks(ids).flatMap((chunk) =>
          db
            .select()
            .from(requests)
            .where(sqliteIdIn(requests.id, chunk))
            .orderBy(asc(requests.id))
            .all()
            .map(toAccessRequest),
        ),
      ),

    attachMessage: (id, ref) =>
      withDbErrors('requests.attachMessage', () => {
        const result = db
          .update(requests)
          .set({ messageChannel: ref.channel, messageTs: ref.ts })
          .where(eq(requests.id, id))
          .run();
        if (result.changes === 0) throw notFound('requests.attachMessage', 'request', id);
      }),

    addApproval: (id, approverId, at) =>
      withDbErrors('requests.addApproval', () =>
        // One transaction (a savepoint when the caller already has one): the pending check and the
        // insert see the same state even if another connection writes.
        db.transaction(
          () => {
            const row = mustFind('requests.addApproval', id);
            if (row.state !== 'pending') return err('NOT_PENDING', { state: row.state });
            const inserted = db
              .insert(approvals)
              .values({ requestId: id, approverId, at: at.getTime() })
              .onConflictDoNothing()
              .run();
            if (inserted.changes === 0) return err('ALREADY_APPROVED', { approverId });
            return ok(approvalsOf(id));
          },
          { behavior: 'immediate' },
        ),
      ),

    approvals: (id) => withDbErrors('requests.approvals', () => approvalsOf(id)),

    withdrawApproval: (id, approverId) =>
      withDbErrors('requests.withdrawApproval', () => {
        // Only a pending request's votes still matter; a decided request keeps the votes that decided it.
        const row = mustFind('requests.withdrawApproval', id);
        if (row.state !== 'pending') return;
        db.delete(approvals)
          .where(and(eq(approvals.requestId, id), eq(approvals.approverId, approverId)))
          .run();
      }),

    decide: (id, to, by, at, note) =>
      withDbErrors('requests.decide', () => {
        // Compare-and-set: only a request that is still pending moves, so a second click changes nothing.
        const row = db
          .update(requests)
          .set({ state: to, decidedBy: by, decidedAt: at.getTime(), ...(note !== undefined ? { note } : {}) })
          .where(and(eq(requests.id, id), eq(requests.state, 'pending')))
          .returning()
          .get();
        if (row !== undefined) return ok(toAccessRequest(row));
        const current = mustFind('requests.decide', id);
        return err('NOT_PENDING', { state: current.state });
      }),

    markFailed: (id, note, at) =>
      withDbErrors('requests.markFailed', () => {
        // decided_by is kept: it still names who approved what then failed.
        const row = db
          .update(requests)
          .set({ state: 'failed', note, decidedAt: at.getTime() })
          .where(and(eq(requests.id, id), inArray(requests.state, ['pending', 'approved'])))
          .returning()
          .get();
        if (row !== undefined) return toAccessRequest(row);
        const current = mustFind('requests.markFailed', id);
        // A retried failure path (after a crash) finds it already failed: the first note stands.
        if (current.state === 'failed') return toAccessRequest(current);
        throw new DbError(
          'requests.markFailed',
          'INVALID_STATE',
          `request ${id} is ${current.state}, not pending or approved`,
        );
      }),

    listPending: (requesterId) =>
      withDbErrors('requests.listPending', () =>
        db
          .select()
          .from(requests)
          .where(
            and(
              eq(requests.state, 'pending'),
              requesterId === undefined ? undefined : eq(requests.requesterId, requesterId),
            ),
          )
          .orderBy(asc(requests.createdAt), asc(requests.id))
          .all()
          .map(toAccessRequest),
      ),

    timeouts: sqliteDueQuery({
      name: 'requests.timeouts',
      db,
      table: requests,
      waiting: eq(requests.state, 'pending'),
      at: sql<number>`${requests.approvalDeadline}`,
      tiebreak: requests.id,
      toItem: toAccessRequest,
    }),

    reminders: sqliteDueQuery({
      name: 'requests.reminders',
      db,
      table: requests,
      waiting: and(eq(requests.state, 'pending'), isNull(requests.remindedAt)),
      at: reminderAt,
      tiebreak: requests.id,
      toItem: toAccessRequest,
    }),

    markReminded: (id, at) =>
      withDbErrors('requests.markReminded', () => {
        const result = db
          .update(requests)
          .set({ remindedAt: at.getTime() })
          .where(and(eq(requests.id, id), isNull(requests.remindedAt)))
          .run();
        return result.changes > 0;
      }),

    pendingExtension: (grantId) =>
      withDbErrors('requests.pendingExtension', () => {
        const row = db
          .select()
          .from(requests)
          .where(and(eq(requests.state, 'pending'), eq(requests.extendsGrantId, grantId)))
          .get();
        return row === undefined ? undefined : toAccessRequest(row);
      }),
  };
}
