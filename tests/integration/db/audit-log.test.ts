import type { AuditEvent } from '../../../src/app/ports';
import { AUDIT_ENGINES, useAuditEngine } from '../../support/audit-engines';
import { T0 } from '../../support/builders';

const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);

describe.each(AUDIT_ENGINES)('audit log on %s', (name) => {
  const engine = useAuditEngine(name);

  it('returns events in append order with their details, to the millisecond', async () => {
    const audit = engine.log();
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

    for (const event of events) await audit.append(event);

    expect(await audit.list()).toStrictEqual(events);
  });

  it('lists the events of one request', async () => {
    const audit = engine.log();
    await audit.append({ at: at(0), actor: 'U_1', type: 'request.submitted', requestId: 'req_1' });
    await audit.append({ at: at(1), actor: 'U_2', type: 'request.submitted', requestId: 'req_2' });
    await audit.append({ at: at(2), actor: 'U_3', type: 'request.approved', requestId: 'req_1' });

    expect((await audit.list({ requestId: 'req_1' })).map((e) => e.type)).toEqual([
      'request.submitted',
      'request.approved',
    ]);
  });

  it('leaves absent fields absent', async () => {
    const audit = engine.log();
    await audit.append({ at: T0, actor: 'hallpass', type: 'request.timed_out' });
    expect(await audit.list()).toStrictEqual([{ at: T0, actor: 'hallpass', type: 'request.timed_out' }]);
  });

  it('finds the last event of a type', async () => {
    const audit = engine.log();
    expect(await audit.lastOfType('audit.head_published')).toBeUndefined();
    await audit.append({ at: at(0), actor: 'hallpass', type: 'audit.head_published', details: { count: 0 } });
    await audit.append({ at: at(1), actor: 'U_1', type: 'request.submitted' });
    await audit.append({ at: at(2), actor: 'hallpass', type: 'audit.head_published', details: { count: 2 } });
    expect(await audit.lastOfType('audit.head_published')).toStrictEqual({
      at: at(2),
      actor: 'hallpass',
      type: 'audit.head_published',
      details: { count: 2 },
    });
  });

  it('reads back, and verifies, an event of a type this version does not append (another version wrote it)', async () => {
    const audit = engine.log();
    const older = { at: T0, actor: 'hallpass', type: 'sweep.ran' } as unknown as AuditEvent;
    await audit.append(older);
    await audit.append({ at: at(1), actor: 'hallpass', type: 'request.timed_out' });
    expect((await audit.list()).map((e) => e.type)).toEqual(['sweep.ran', 'request.timed_out']);
    expect(await engine.verify()).toMatchObject({ ok: true, events: 2 });
  });

  it('refuses to update an audit event, even with raw SQL', async () => {
    const audit = engine.log();
    await audit.append({ at: T0, actor: 'U_1', type: 'request.submitted' });
    await expect(engine.sql("UPDATE audit_events SET actor = 'U_EVIL'")).rejects.toThrow(/append-only/);
    expect((await audit.list())[0]?.actor).toBe('U_1');
  });

  it('refuses to delete an audit event, even with raw SQL', async () => {
    const audit = engine.log();
    await audit.append({ at: T0, actor: 'U_1', type: 'request.submitted' });
    await expect(engine.sql('DELETE FROM audit_events')).rejects.toThrow(/append-only/);
    expect(await audit.list()).toHaveLength(1);
  });
});
