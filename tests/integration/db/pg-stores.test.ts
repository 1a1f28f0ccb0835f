import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { type Client, Pool } from 'pg';
import {
  openPostgres,
  PG_AUDIT_APPEND_LOCK_KEY,
  type PgHandle,
  pgHandle,
} from '../../../src/adapters/db/open-pg';
import { ADVISORY } from '../../../src/adapters/db/pg/advisory';
import { verifyPostgresAuditChain } from '../../../src/adapters/db/pg/audit-log';
import { createPostgresStores, type PostgresStores, pgStoresOn } from '../../../src/adapters/db/pg/stores';
import { createPgContext, type PgContext } from '../../../src/adapters/db/pg/unit-of-work';
import { buildNewGrant, buildNewRequest, T0 } from '../../support/builders';
import { describeWithPostgres, testServerUrl, withClient, withTestDatabase } from '../../support/postgres';

/**
 * What only PostgreSQL can get wrong, beyond the store conformance suite: several replicas (pools) on
 * one database racing for the same compare-and-set, the unit of work's transaction spanning awaits,
 * and its retries when a connection dies or a deadlock is broken.
 */

const MIN = 60_000;
const at = (ms: number): Date => new Date(T0.getTime() + ms);

/** A promise the test resolves when it chooses. */
function gate(): { readonly wait: Promise<void>; open(): void } {
  let open: () => void = () => {};
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open: () => open() };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until it holds (three seconds at most): for what another connection is doing. */
async function eventually(what: string, condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await condition()) return;
    await pause(10);
  }
  throw new Error(`never happened: ${what}`);
}

/** The server process of the connection the current transaction runs on. */
async function backendPid(ctx: PgContext): Promise<number> {
  const result = await ctx.db().execute<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`);
  const pid = result.rows[0]?.pid;
  if (pid === undefined) throw new Error('no backend pid');
  return pid;
}

describeWithPostgres('PostgreSQL stores', () => {
  const tdb = withTestDatabase();

  /** Two replicas: two pools on the one database, each with its stores. */
  let one: PgHandle;
  let two: PgHandle;
  let a: PostgresStores;
  let b: PostgresStores;
  beforeAll(async () => {
    one = await openPostgres(tdb.url);
    two = await openPostgres(tdb.url);
    a = createPostgresStores(one);
    b = createPostgresStores(two);
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
  });

  /** Connections of this database waiting for a lock (a row's or an advisory one). */
  const lockWaiters = async (c: Client): Promise<number> => {
    const r = await c.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    );
    return Number(r.rows[0]?.n ?? 0);
  };

  /**
   * Runs `ops` at the same moment: a third connection holds `lock` while every op starts and queues
   * behind it, then lets go. Returns how each op ended.
   */
  async function race<T>(
    lock: { readonly text: string; readonly values: readonly unknown[] },
    ops: readonly (() => Promise<T>)[],
  ): Promise<PromiseSettledResult<T>[]> {
    return withClient(tdb.url, async (blocker) => {
      await blocker.query('BEGIN');
      await blocker.query(lock.text, [...lock.values]);
      const settled = Promise.allSettled(ops.map((op) => op()));
      await eventually(
        `${ops.length} waiting for the lock`,
        async () => (await lockWaiters(blocker)) >= ops.length,
      );
      await blocker.query('COMMIT');
      return settled;
    });
  }

  const values = <T>(results: PromiseSettledResult<T>[]): T[] =>
    results.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    });

  const lockGrant = (id: string) => ({ text: 'SELECT 1 FROM grants WHERE id = $1 FOR UPDATE', values: [id] });
  const lockRequest = (id: string) => ({
    text: 'SELECT 1 FROM requests WHERE id = $1 FOR UPDATE',
    values: [id],
  });

  const activeGrant = async (stores: PostgresStores, overrides: Parameters<typeof buildNewGrant>[0] = {}) => {
    const r = await stores.requests.insert(buildNewRequest());
    const g = await stores.grants.insert(buildNewGrant({ requestId: r.id, ...overrides }));
    await stores.grants.move(g.id, ['opening'], 'active');
    return g;
  };

  describe('compare-and-sets between two replicas', () => {
    it('moves a grant for exactly one of two closers at the same moment', async () => {
      const g = await activeGrant(a);
      const results = values(
        await race(lockGrant(g.id), [
          () => a.grants.move(g.id, ['active'], 'closing', { endReason: 'expired', endedBy: 'hallpass' }),
          () => b.grants.move(g.id, ['active'], 'closing', { endReason: 'revoked', endedBy: 'U_A' }),
        ]),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.filter((r) => !r.ok)).toEqual([
        { ok: false, error: 'STATE_CHANGED', detail: { state: 'closing' } },
      ]);
      const winner = results.find((r) => r.ok);
      expect((await b.grants.get(g.id))?.endReason).toBe(winner?.ok && winner.value.endReason);
    });

    it('warns a grant once and reminds a request once, whichever replica asks', async () => {
      const g = await activeGrant(a, { startsAt: T0, expiresAt: at(30 * MIN) });
      const warned = values(
        await race(lockGrant(g.id), [
          () => a.grants.markWarned(g.id, at(25 * MIN)),
          () => b.grants.markWarned(g.id, at(25 * MIN)),
        ]),
      );
      expect(warned.sort()).toEqual([false, true]);

      const r = await a.requests.insert(buildNewRequest());
      const reminded = values(
        await race(lockRequest(r.id), [
          () => a.requests.markReminded(r.id, at(MIN)),
          () => b.requests.markReminded(r.id, at(MIN)),
        ]),
      );
      expect(reminded.sort()).toEqual([false, true]);
    });

    it('decides a request once: the other click finds it no longer pending', async () => {
      const r = await a.requests.insert(buildNewRequest());
      const results = values(
        await race(lockRequest(r.id), [
          () => a.requests.decide(r.id, 'approved', 'U_A', at(1)),
          () => b.requests.decide(r.id, 'denied', 'U_B', at(1)),
        ]),
      );
      expect(results.filter((x) => x.ok)).toHaveLength(1);
      const lost = results.find((x) => !x.ok);
      const won = results.find((x) => x.ok);
      expect(lost).toEqual({
        ok: false,
        error: 'NOT_PENDING',
        detail: { state: won?.ok && won.value.state },
      });
    });

    it('counts a vote once when one approver clicks on two replicas', async () => {
      const r = await a.requests.insert(buildNewRequest());
      const results = values(
        await race(lockRequest(r.id), [
          () => a.requests.addApproval(r.id, 'U_A', at(1)),
          () => b.requests.addApproval(r.id, 'U_A', at(2)),
        ]),
      );
      expect(results.map((x) => (x.ok ? 'ok' : x.error)).sort()).toEqual(['ALREADY_APPROVED', 'ok']);
      expect(await a.requests.approvals(r.id)).toHaveLength(1);
    });

    it('lets the later of two approvers at the same moment count both votes (so one of them decides)', async () => {
      const r = await a.requests.insert(buildNewRequest());
      // Each vote is counted in a transaction of its own, as approveRequest does.
      const vote = (stores: PostgresStores, approverId: string) =>
        stores.uow.tx(async () => {
          const voted = await stores.requests.addApproval(r.id, approverId, at(1));
          return voted.ok ? voted.value.length : 0;
        });
      const tallies = values(await race(lockRequest(r.id), [() => vote(a, 'U_A'), () => vote(b, 'U_B')]));
      expect(tallies.sort()).toEqual([1, 2]);
    });

    it('keeps one waiting card update and one cut plan when two replicas write them at once', async () => {
      const requestId = `req_card_${randomBytes(4).toString('hex')}`;
      const update = { kind: 'card-update' as const, lane: `req:${requestId}`, requestId };
      // Both enqueuers queue behind a third holder of the lane's lock (see `pg/advisory.ts`).
      const laneLock = {
        text: 'SELECT pg_advisory_xact_lock($1::int4, hashtext($2))',
        values: [ADVISORY.outboxLane, update.lane],
      };
      values(await race(laneLock, [() => a.outbox.enqueue(update, T0), () => b.outbox.enqueue(update, T0)]));
      // On two lanes (the port does not tie a card to one), the request's own lock keeps them apart.
      const elsewhere = { ...update, requestId: `${requestId}_2` };
      const cardLock = {
        text: 'SELECT pg_advisory_xact_lock($1::int4, hashtext($2))',
        values: [ADVISORY.cardUpdate, elsewhere.requestId],
      };
      values(
        await race(cardLock, [
          () => a.outbox.enqueue({ ...elsewhere, lane: 'lane-1' }, T0),
          () => b.outbox.enqueue({ ...elsewhere, lane: 'lane-2' }, T0),
        ]),
      );
      const waiting = await b.outbox.ready(T0, 1_000);
      expect(waiting.filter((o) => o.requestId === requestId)).toHaveLength(1);
      expect(waiting.filter((o) => o.requestId === elsewhere.requestId)).toHaveLength(1);

      const g = await activeGrant(a);
      await a.grants.move(g.id, ['active'], 'closed');
      const cut = {
        grantId: g.id,
        target: { region: 'us-east-1', groupId: 'sg-1' },
        protocol: 'tcp' as const,
        fromPort: 22,
        toPort: 22,
        cidr: '203.0.113.9/32',
      };
      const planLock = {
        text: 'SELECT pg_advisory_xact_lock($1::int4, hashtext($2))',
        values: [ADVISORY.cutPlan, g.id],
      };
      values(await race(planLock, [() => a.cuts.plan(cut, T0), () => b.cuts.plan(cut, T0)]));
      expect(await a.cuts.ofGrant(g.id)).toHaveLength(1);
    });

    it('expands a planned cut once when two replicas expand it at once', async () => {
      const g = await activeGrant(a);
      await a.grants.move(g.id, ['active'], 'closed');
      await a.cuts.plan(
        {
          grantId: g.id,
          target: { region: 'us-east-1', groupId: 'sg-2' },
          protocol: 'tcp',
          fromPort: 22,
          toPort: 22,
          cidr: '203.0.113.10/32',
        },
        T0,
      );
      const [planned] = await a.cuts.ofGrant(g.id);
      const id = planned?.id ?? -1;
      const expand = (stores: PostgresStores, n: number) =>
        stores.uow.tx(() => stores.cuts.expand(id, [{ aclId: `acl-${n}`, ruleNumber: n }], [], at(MIN), T0));
      const made = values(
        await race({ text: 'SELECT 1 FROM connection_cuts WHERE id = $1 FOR UPDATE', values: [id] }, [
          () => expand(a, 101),
          () => expand(b, 102),
        ]),
      );
      expect(made.map((m) => m.length).sort()).toEqual([0, 1]);
      expect((await a.cuts.ofGrant(g.id)).map((c) => c.state)).toEqual(['removed', 'adding']);
    });

    it('keeps one audit chain when two replicas append at once, inside and outside transactions', async () => {
      const before = await a.audit.head();
      const appends = Array.from({ length: 20 }, (_, n) => {
        const stores = n % 2 === 0 ? a : b;
        const event = { at: at(n), actor: 'U_A', type: 'audit.searched' as const };
        return n % 4 < 2
          ? stores.audit.append(event)
          : stores.uow.tx(async () => {
              await stores.requests.insert(buildNewRequest());
              await stores.audit.append(event);
            });
      });
      await Promise.all(appends);
      expect((await b.audit.head()).count).toBe(before.count + 20);
      expect(await verifyPostgresAuditChain(one.db)).toMatchObject({ ok: true, lastSeq: before.count + 20 });
    });

    it('sends a lane in commit order: a second enqueuer waits for the first transaction to end', async () => {
      const lane = `chan:C_${randomBytes(4).toString('hex')}`;
      const first = gate();
      const firstEnqueued = gate();
      const tx = a.uow.tx(async () => {
        await a.outbox.enqueue({ kind: 'channel', lane, channel: 'C1', notice: 'first' }, T0);
        firstEnqueued.open();
        await first.wait;
      });
      await firstEnqueued.wait;
      const second = b.outbox.enqueue({ kind: 'channel', lane, channel: 'C1', notice: 'second' }, T0);
      try {
        await withClient(tdb.url, (c) =>
          eventually('the second enqueuer waits', async () => (await lockWaiters(c)) >= 1),
        );
      } finally {
        first.open();
      }
      await Promise.all([tx, second]);
      const ready = (await a.outbox.ready(T0, 1_000)).filter((o) => o.lane === lane);
      expect(ready.map((o) => o.notice)).toEqual(['first']);
    });
  });

  describe('the unit of work', () => {
    it('joins a nested transaction, and nobody outside sees either’s writes before the outer one commits', async () => {
      const outerWritten = gate();
      const finish = gate();
      const done = a.uow.tx(async () => {
        await a.requests.insert(buildNewRequest({ id: 'req_outer_join' }));
        await a.uow.tx(async () => {
          await a.requests.insert(buildNewRequest({ id: 'req_inner_join' }));
        });
        // The nested transaction's write is the outer one's to see.
        expect(await a.requests.get('req_inner_join')).toBeDefined();
        outerWritten.open();
        await finish.wait;
        return 'committed';
      });
      await outerWritten.wait;
      // Store calls from outside the transaction (this replica's or another's) do not see it yet.
      expect(await a.requests.get('req_outer_join')).toBeUndefined();
      expect(await b.requests.get('req_inner_join')).toBeUndefined();
      finish.open();
      expect(await done).toBe('committed');
      expect(await b.requests.get('req_outer_join')).toBeDefined();
      expect(await b.requests.get('req_inner_join')).toBeDefined();
    });

    it('rolls back every write when the body throws, and rethrows the body’s own error', async () => {
      const kept = await activeGrant(a);
      const boom = new Error('boom');
      await expect(
        a.uow.tx(async () => {
          const r = await a.requests.insert(buildNewRequest({ id: 'req_rolled_back' }));
          await a.grants.insert(buildNewGrant({ id: 'grt_rolled_back', requestId: r.id }));
          await a.grants.move(kept.id, ['active'], 'closing');
          await a.outbox.enqueue({ kind: 'card-update', lane: 'req:req_rolled_back', requestId: r.id }, T0);
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(await b.requests.get('req_rolled_back')).toBeUndefined();
      expect(await b.grants.get('grt_rolled_back')).toBeUndefined();
      expect((await b.grants.get(kept.id))?.state).toBe('active');
      expect((await b.outbox.ready(T0, 1_000)).filter((o) => o.requestId === 'req_rolled_back')).toEqual([]);
    });

    it('undoes only a nested transaction that throws when the outer one catches', async () => {
      await a.uow.tx(async () => {
        await a.requests.insert(buildNewRequest({ id: 'req_outer_kept' }));
        await a.uow
          .tx(async () => {
            await a.requests.insert(buildNewRequest({ id: 'req_inner_undone' }));
            throw new Error('inner');
          })
          .catch(() => undefined);
      });
      expect(await b.requests.get('req_outer_kept')).toBeDefined();
      expect(await b.requests.get('req_inner_undone')).toBeUndefined();
    });

    it('survives a refused insert the body catches, as a SQLite transaction does', async () => {
      const g = await activeGrant(a);
      await a.uow.tx(async () => {
        await expect(a.grants.insert(buildNewGrant({ requestId: g.requestId }))).rejects.toMatchObject({
          name: 'DbError',
          operation: 'grants.insert',
          code: '23505',
        });
        await a.grants.move(g.id, ['active'], 'closing');
      });
      expect((await b.grants.get(g.id))?.state).toBe('closing');
    });

    it('refuses to commit a body that carried on after a statement failed, and keeps nothing', async () => {
      const g = await activeGrant(a);
      await a.grants.move(g.id, ['active'], 'closed');
      const plan = (cidr: string) =>
        a.cuts.plan(
          {
            grantId: g.id,
            target: { region: 'us-east-1', groupId: 'sg-3' },
            protocol: 'tcp',
            fromPort: 1,
            toPort: 1,
            cidr,
          },
          T0,
        );
      await plan('198.51.100.1/32');
      await plan('198.51.100.2/32');
      const [p1, p2] = await a.cuts.ofGrant(g.id);
      await a.cuts.expand(p1?.id ?? -1, [{ aclId: 'acl-dup', ruleNumber: 7 }], [], at(MIN), T0);
      await expect(
        a.uow.tx(async () => {
          await a.requests.insert(buildNewRequest({ id: 'req_in_aborted' }));
          // The same ACL number twice is refused by `connection_cuts_entry_uq`, aborting the transaction.
          await a.cuts
            .expand(p2?.id ?? -1, [{ aclId: 'acl-dup', ruleNumber: 7 }], [], at(MIN), T0)
            .catch(() => undefined);
        }),
      ).rejects.toMatchObject({ name: 'DbError', operation: 'uow.tx', code: 'TX_ABORTED', retryable: false });
      expect(await b.requests.get('req_in_aborted')).toBeUndefined();
    });

    describe('audit appends inside a transaction', () => {
      /** The events of `actor`, in chain order, as their types. */
      const eventsOf = async (actor: string) =>
        (await b.audit.list()).filter((e) => e.actor === actor).map((e) => e.type);
      const event = (actor: string, type: 'audit.searched' | 'audit.exported' | 'audit.head_published') => ({
        at: T0,
        actor,
        type,
      });
      const uniqueActor = () => `U_${randomBytes(4).toString('hex')}`;

      it('takes the append lock only at the end of the body, so another replica appends meanwhile', async () => {
        const actor = uniqueActor();
        const appended = gate();
        const finish = gate();
        const done = a.uow.tx(async () => {
          await a.audit.append(event(actor, 'audit.searched'));
          await a.requests.insert(buildNewRequest());
          appended.open();
          await finish.wait;
        });
        await appended.wait;
        try {
          const held = await withClient(tdb.url, async (c) => {
            const r = await c.query<{ n: string }>(
              `SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted
                 AND ((classid::bigint << 32) | objid::bigint) = $1::bigint`,
              [PG_AUDIT_APPEND_LOCK_KEY],
            );
            return Number(r.rows[0]?.n ?? 0);
          });
          expect(held).toBe(0);
          // Another replica's append goes through while the transaction is still open.
          await b.audit.append(event(actor, 'audit.exported'));
        } finally {
          finish.open();
        }
        await done;
        // The transaction's event was written at its end: after the other replica's.
        expect(await eventsOf(actor)).toEqual(['audit.exported', 'audit.searched']);
        expect(await verifyPostgresAuditChain(one.db)).toMatchObject({ ok: true });
      });

      it('keeps a transaction’s events in order, and drops those of a nested transaction rolled back', async () => {
        const actor = uniqueActor();
        await a.uow.tx(async () => {
          await a.audit.append(event(actor, 'audit.searched'));
          await a.uow
            .tx(async () => {
              await a.audit.appendAll([
                event(actor, 'audit.head_published'),
                event(actor, 'audit.head_published'),
              ]);
              throw new Error('inner');
            })
            .catch(() => undefined);
          await a.audit.append(event(actor, 'audit.exported'));
        });
        expect(await eventsOf(actor)).toEqual(['audit.searched', 'audit.exported']);
        expect(await verifyPostgresAuditChain(one.db)).toMatchObject({ ok: true });
      });

      it('lets a read inside the transaction see its own events, and rolls back only the nested part', async () => {
        const actor = uniqueActor();
        const before = await a.audit.head();
        const seen = await a.uow.tx(async () => {
          await a.audit.append(event(actor, 'audit.searched'));
          const inside = (await a.audit.list()).filter((e) => e.actor === actor).map((e) => e.type);
          const head = await a.audit.head();
          await a.audit.append(event(actor, 'audit.exported'));
          await a.uow
            .tx(async () => {
              await a.audit.append(event(actor, 'audit.head_published'));
              // Writes what the outer transaction gathered (audit.exported) and this one's, under the savepoint.
              expect((await a.audit.lastOfType('audit.head_published'))?.actor).toBe(actor);
              throw new Error('inner');
            })
            .catch(() => undefined);
          return { inside, count: head.count };
        });
        expect(seen.inside).toEqual(['audit.searched']);
        expect(seen.count).toBeGreaterThan(before.count);
        // audit.exported, undone with the savepoint, was gathered again and written at the end.
        expect(await eventsOf(actor)).toEqual(['audit.searched', 'audit.exported']);
        expect(await verifyPostgresAuditChain(one.db)).toMatchObject({ ok: true });
      });

      it('writes nothing of a transaction whose body throws after appending', async () => {
        const actor = uniqueActor();
        await expect(
          a.uow.tx(async () => {
            await a.audit.append(event(actor, 'audit.searched'));
            throw new Error('boom');
          }),
        ).rejects.toThrow('boom');
        expect(await eventsOf(actor)).toEqual([]);
      });
    });

    it('runs a store call from work that outlived its transaction (a timer armed inside) on its own', async () => {
      const later = gate();
      let straggler: Promise<unknown> = Promise.resolve();
      await a.uow.tx(async () => {
        await a.requests.insert(buildNewRequest({ id: 'req_before_timer' }));
        straggler = new Promise((resolve, reject) => {
          setTimeout(() => {
            later.wait.then(() => a.requests.get('req_before_timer')).then(resolve, reject);
          }, 0);
        });
      });
      later.open();
      expect(await straggler).toMatchObject({ id: 'req_before_timer' });
    });

    describe('afterCommit', () => {
      it('wakes a reader on another connection only once the change is there to read', async () => {
        const id = `req_wake_${randomBytes(4).toString('hex')}`;
        const seenWhenWoken: unknown[] = [];
        let woken = 0;
        await a.uow.tx(async () => {
          await a.requests.insert(buildNewRequest({ id }));
          a.uow.afterCommit(() => {
            woken += 1;
            // The other replica's read, as a woken outbox or scheduler makes it.
            seenWhenWoken.push(b.requests.get(id));
          });
          // Not yet: a reader woken now would read before COMMIT, find nothing and sleep until its poll.
          await new Promise((resolve) => setTimeout(resolve, 20));
          expect(woken).toBe(0);
        });
        expect(woken).toBe(1);
        expect(await Promise.all(seenWhenWoken)).toEqual([expect.objectContaining({ id })]);
      });

      it('never runs for a transaction that rolls back, nor for a savepoint rolled back', async () => {
        const ran: string[] = [];
        await expect(
          a.uow.tx(async () => {
            a.uow.afterCommit(() => ran.push('rolled back'));
            throw new Error('boom');
          }),
        ).rejects.toThrow('boom');
        await a.uow.tx(async () => {
          a.uow.afterCommit(() => ran.push('outer'));
          await a.uow
            .tx(async () => {
              a.uow.afterCommit(() => ran.push('inner, rolled back'));
              throw new Error('inner');
            })
            .catch(() => undefined);
          await a.uow.tx(async () => {
            a.uow.afterCommit(() => ran.push('inner, released'));
          });
        });
        expect(ran).toEqual(['outer', 'inner, released']);
      });

      it('runs at once outside a transaction, and a throw in it does not fail the committed transaction', async () => {
        const ran: string[] = [];
        a.uow.afterCommit(() => ran.push('outside'));
        expect(ran).toEqual(['outside']);
        const id = `req_throw_${randomBytes(4).toString('hex')}`;
        await a.uow.tx(async () => {
          await a.requests.insert(buildNewRequest({ id }));
          a.uow.afterCommit(() => {
            throw new Error('wake failed');
          });
          a.uow.afterCommit(() => ran.push('after the throw'));
        });
        expect(ran).toEqual(['outside', 'after the throw']);
        expect(await b.requests.get(id)).toMatchObject({ id });
      });
    });
  });

  describe('retries', () => {
    /**
     * Runs a transaction that inserts request `id` and, on its first run only, has its server process
     * killed, then reads through the dead connection with `afterKill`. Returns how often the body ran.
     */
    async function killedOnce(id: string, afterKill: (read: () => Promise<unknown>) => Promise<void>) {
      const ctx = createPgContext(one);
      const stores = pgStoresOn(ctx);
      let runs = 0;
      await stores.uow.tx(async () => {
        runs += 1;
        await stores.requests.insert(buildNewRequest({ id }));
        if (runs > 1) return;
        const pid = await backendPid(ctx);
        // Waits (up to 5 s) until the server process is gone.
        await withClient(tdb.url, (c) => c.query('SELECT pg_terminate_backend($1, 5000)', [pid]));
        await afterKill(() => stores.requests.get(id));
      });
      return runs;
    }

    it('runs the body again when its connection is killed before COMMIT, and commits once', async () => {
      expect(await killedOnce('req_after_kill', async (read) => void (await read()))).toBe(2);
      const rows = await one.pool.query(
        "SELECT count(*)::int AS n FROM requests WHERE id = 'req_after_kill'",
      );
      expect(rows.rows[0]).toEqual({ n: 1 });
    });

    it('runs the body again when it swallowed the failure: the lost connection is noticed before COMMIT', async () => {
      const swallow = async (read: () => Promise<unknown>) => void (await read().catch(() => undefined));
      expect(await killedOnce('req_after_swallowed_kill', swallow)).toBe(2);
      expect(await b.requests.get('req_after_swallowed_kill')).toBeDefined();
    });

    it('runs the body again when it turned the failure into an error of its own', async () => {
      const rethrow = async (read: () => Promise<unknown>) => {
        if ((await read().catch(() => undefined)) === undefined) throw new Error('the request vanished');
      };
      expect(await killedOnce('req_after_rethrown_kill', rethrow)).toBe(2);
      expect(await b.requests.get('req_after_rethrown_kill')).toBeDefined();
    });

    it('reads again after the server ended the pool’s idle connections', async () => {
      await a.requests.insert(buildNewRequest({ id: 'req_read_after_restart' }));
      await withClient(tdb.url, (c) =>
        c.query(
          'SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
        ),
      );
      expect((await a.requests.get('req_read_after_restart'))?.id).toBe('req_read_after_restart');
      expect(await b.grants.list(['active'])).toBeDefined();
    });

    it('runs the body again when PostgreSQL breaks a deadlock by failing it', async () => {
      const g1 = await activeGrant(a);
      const g2 = await activeGrant(a);
      const bothHoldOne = { a: gate(), b: gate() };
      let runs = 0;
      /** Locks `first`, waits until the other transaction holds its own, then wants `second`. */
      const crosswise = (
        mine: { open(): void },
        theirs: { wait: Promise<void> },
        first: string,
        second: string,
      ) =>
        a.uow.tx(async () => {
          runs += 1;
          await a.grants.move(first, ['active', 'closing'], 'closing');
          mine.open();
          await theirs.wait;
          await a.grants.move(second, ['active', 'closing'], 'closing');
        });
      await Promise.all([
        crosswise(bothHoldOne.a, bothHoldOne.b, g1.id, g2.id),
        crosswise(bothHoldOne.b, bothHoldOne.a, g2.id, g1.id),
      ]);
      // One of the two was chosen as the deadlock's victim, rolled back, and run again (on a loaded
      // machine its second run may take the first lock before the survivor and deadlock once more).
      expect(runs).toBeGreaterThanOrEqual(3);
      expect((await b.grants.get(g1.id))?.state).toBe('closing');
      expect((await b.grants.get(g2.id))?.state).toBe('closing');
    });

    it('gives up after a bounded number of tries when the server refuses connections, naming the operation', async () => {
      const pool = new Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none' });
      const waits: number[] = [];
      const stores = pgStoresOn(
        createPgContext(pgHandle(pool), {
          sleep: async (ms) => void waits.push(ms),
          retry: { attempts: 4, maxDelayMs: 40 },
        }),
      );
      try {
        await expect(stores.requests.get('req_x')).rejects.toMatchObject({
          name: 'DbError',
          operation: 'requests.get',
          code: 'ECONNREFUSED',
          retryable: true,
        });
        expect(waits).toHaveLength(3);
        expect(Math.max(...waits)).toBeLessThanOrEqual(40);

        let ran = false;
        await expect(
          stores.uow.tx(async () => {
            ran = true;
          }),
        ).rejects.toMatchObject({ operation: 'uow.tx', code: 'ECONNREFUSED' });
        expect(ran).toBe(false);
        await expect(stores.grants.markWarned('grt_x', T0)).rejects.toMatchObject({
          operation: 'grants.markWarned',
        });
      } finally {
        await pool.end();
      }
    });

    it('does not try again what was refused for good (a duplicate key)', async () => {
      const waits: number[] = [];
      const stores = pgStoresOn(createPgContext(one, { sleep: async (ms) => void waits.push(ms) }));
      const r = await stores.requests.insert(buildNewRequest());
      await expect(stores.requests.insert(buildNewRequest({ id: r.id }))).rejects.toMatchObject({
        operation: 'requests.insert',
        code: '23505',
        retryable: false,
      });
      expect(waits).toEqual([]);
    });

    describe('when the connection dies during COMMIT', () => {
      beforeAll(async () => {
        // A deferred trigger that ends its own session while COMMIT runs: the client sees the
        // connection die with COMMIT sent and unanswered, the case whose outcome it cannot know.
        await withClient(tdb.url, async (c) => {
          await c.query(`CREATE FUNCTION test_die_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$`);
          await c.query(`CREATE CONSTRAINT TRIGGER test_die_at_commit AFTER INSERT ON requests
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.reason = 'die at commit')
            EXECUTE FUNCTION test_die_at_commit()`);
        });
      });
      afterAll(async () => {
        await withClient(tdb.url, async (c) => {
          await c.query('DROP TRIGGER test_die_at_commit ON requests');
          await c.query('DROP FUNCTION test_die_at_commit()');
        });
      });

      it('reports an unknown outcome and does not run the body again', async () => {
        let runs = 0;
        await expect(
          a.uow.tx(async () => {
            runs += 1;
            await a.requests.insert(buildNewRequest({ id: 'req_die_at_commit', reason: 'die at commit' }));
          }),
        ).rejects.toMatchObject({
          name: 'DbError',
          operation: 'uow.tx',
          code: 'COMMIT_OUTCOME_UNKNOWN',
          retryable: false,
        });
        expect(runs).toBe(1);
        // (It did not commit: the trigger ran before the commit record was written.)
        expect(await b.requests.get('req_die_at_commit')).toBeUndefined();
      });

      it('names the store operation when a write outside a transaction dies committing', async () => {
        await expect(
          a.requests.insert(buildNewRequest({ id: 'req_die_alone', reason: 'die at commit' })),
        ).rejects.toMatchObject({ operation: 'requests.insert', code: 'COMMIT_OUTCOME_UNKNOWN' });
      });
    });
  });

  describe('text order', () => {
    it('lists text in SQLite’s (byte) order even where the database collates by language rules', async () => {
      const name = `hallpass_test_${process.pid}_icu_${randomBytes(4).toString('hex')}`;
      const server = testServerUrl();
      await withClient(server, (c) =>
        c.query(
          `CREATE DATABASE "${name}" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`,
        ),
      );
      const url = new URL(server);
      url.pathname = `/${name}`;
      const handle = await openPostgres(url.toString());
      try {
        const stores = createPostgresStores(handle);
        const groups = ['sg_a', 'sg-B', 'sga', 'sg-a', 'sg-b'];
        const g = await activeGrant(stores);
        for (const [n, groupId] of groups.entries()) {
          await stores.rules.hold({
            grantId: g.id,
            ruleId: `sgr-${groupId}`,
            region: 'us-east-1',
            groupId,
            protocol: 'tcp',
            fromPort: n,
            toPort: n,
            cidr: '203.0.113.7/32',
            managed: true,
          });
          const target = { region: 'us-east-1', groupId };
          await stores.backstopRecords.set(
            `sgr-${groupId}`,
            { ruleId: `sgr-${groupId}`, target, fireAt: T0 },
            T0,
          );
          await stores.requests.insert(buildNewRequest({ id: `req_${groupId}`, createdAt: T0 }));
        }
        const bytewise = [...groups].sort();
        expect(bytewise).toEqual(['sg-B', 'sg-a', 'sg-b', 'sg_a', 'sga']);
        expect((await stores.rules.knownTargets(T0)).map((t) => t.groupId)).toEqual(bytewise);
        expect((await stores.backstopRecords.all()).map((r) => r.ruleId)).toEqual(
          bytewise.map((x) => `sgr-${x}`),
        );
        expect((await stores.backstopRecords.wanted()).map((w) => w.ruleId)).toEqual(
          bytewise.map((x) => `sgr-${x}`),
        );
        const pending = await stores.requests.listPending();
        expect(pending.map((r) => r.id).filter((id) => id.startsWith('req_sg'))).toEqual(
          bytewise.map((x) => `req_${x}`),
        );
        // The database itself would have sorted them otherwise.
        const natural = await handle.pool.query<{ g: string }>('SELECT unnest($1::text[]) AS g ORDER BY 1', [
          groups,
        ]);
        expect(natural.rows.map((r) => r.g)).not.toEqual(bytewise);
      } finally {
        await handle.close();
        await withClient(server, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
      }
    });
  });
});
