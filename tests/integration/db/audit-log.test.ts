import { verifyAuditChain } from '../../../src/adapters/db/audit-log';
import type { DbHandle } from '../../../src/adapters/db/open-db';
import { openDatabase } from '../../../src/adapters/db/open-db';
import { createSqliteStores, type SqliteStores } from '../../../src/adapters/db/stores';
import type { AuditEvent } from '../../../src/app/ports';
import { T0 } from '../../support/builders';

const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);

describe('SQLite audit log', () => {
  let handle: DbHandle;
  let stores: SqliteStores;

  beforeEach(() => {
    handle = openDatabase(':memory:');
    stores = createSqliteStores(handle);
  });

  afterEach(() => {
    handle.close();
  });

  it('returns events in append order with their details, to the millisecond', async () => {
    const events: AuditEvent[] = [
      {
        at: at(2),
        actor: 'U_REQ',
        type: 'request.submitted',
        requestId: 'req_1',
        details: { resourceId: 'prod-db', durationMs: 1_800_000, ports: [5432], nested: { ok: true } },
      },
      // Appended later with an earlier time: order is append order, not time order.
      { at: at(1), actor: 'hallpass', type: 'grant.opened', requestId: 'req_1', grantId: 'grt_1' },
      { at: at(3), actor: 'U_OTHER', type: 'request.submitted', requestId: 'req_2' },
    ];

    for (const event of events) await stores.audit.append(event);

    expect(await stores.audit.list()).toStrictEqual(events);
  });

  it('lists the events of one request', async () => {
    await stores.audit.append({ at: at(0), actor: 'U_1', type: 'request.submitted', requestId: 'req_1' });
    await stores.audit.append({ at: at(1), actor: 'U_2', type: 'request.submitted', requestId: 'req_2' });
    await stores.audit.append({ at: at(2), actor: 'U_3', type: 'request.approved', requestId: 'req_1' });

    expect((await stores.audit.list({ requestId: 'req_1' })).map((e) => e.type)).toEqual([
      'request.submitted',
      'request.approved',
    ]);
  });

  it('leaves absent fields absent', async () => {
    await stores.audit.append({ at: T0, actor: 'hallpass', type: 'request.timed_out' });
    expect(await stores.audit.list()).toStrictEqual([
      { at: T0, actor: 'hallpass', type: 'request.timed_out' },
    ]);
  });

  it('reads back, and verifies, an event of a type this version does not append (another version wrote it)', async () => {
    const older = { at: T0, actor: 'hallpass', type: 'sweep.ran' } as unknown as AuditEvent;
    await stores.audit.append(older);
    await stores.audit.append({ at: at(1), actor: 'hallpass', type: 'request.timed_out' });
    expect((await stores.audit.list()).map((e) => e.type)).toEqual(['sweep.ran', 'request.timed_out']);
    expect(verifyAuditChain(handle.db)).toMatchObject({ ok: true, events: 2 });
  });

  it('refuses to update an audit event, even with raw SQL', async () => {
    await stores.audit.append({ at: T0, actor: 'U_1', type: 'request.submitted' });
    expect(() => handle.sqlite.prepare("UPDATE audit_events SET actor = 'U_EVIL'").run()).toThrow(
      /append-only/,
    );
    expect((await stores.audit.list())[0]?.actor).toBe('U_1');
  });

  it('refuses to delete an audit event, even with raw SQL', async () => {
    await stores.audit.append({ at: T0, actor: 'U_1', type: 'request.submitted' });
    expect(() => handle.sqlite.prepare('DELETE FROM audit_events').run()).toThrow(/append-only/);
    expect(await stores.audit.list()).toHaveLength(1);
  });
});
