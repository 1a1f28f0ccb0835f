import { randomBytes } from 'node:crypto';
import { AuditLogRefused, verifyAuditLogAtStart } from '../../../src/adapters/db/audit-startup';
import { verifyPostgresAuditLogAtStart } from '../../../src/adapters/db/pg/audit-record';
import type { AuditKey, AuditKeyring } from '../../../src/app/audit-ports';
import { AUDIT_ENGINES, useAuditEngine } from '../../support/audit-engines';
import { T0 } from '../../support/builders';
import { FakeClock } from '../../support/fake-clock';
import { MemoryLogger } from '../../support/memory-logger';

const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);
const K1: AuditKey = { id: 'k1', secret: randomBytes(32) };

/**
 * Start-up's check of the audit log (the bot's end to end: tests/e2e/audit.test.ts), on each engine
 * through its own entry point: the same refusals, the same acceptance of a named break.
 */
describe.each(AUDIT_ENGINES)('start-up verification of the audit log on %s', (name) => {
  const engine = useAuditEngine(name);
  let logger: MemoryLogger;

  const startUp = (keys: AuditKeyring | undefined, acceptBroken?: number) => {
    const args = {
      audit: engine.log(keys?.current),
      keys,
      acceptBroken,
      clock: new FakeClock(at(60_000)),
      logger,
    };
    const handle = engine.handle;
    return 'sqlite' in handle
      ? verifyAuditLogAtStart({ ...args, db: handle.db })
      : verifyPostgresAuditLogAtStart({ ...args, db: handle.db });
  };

  beforeEach(async () => {
    logger = new MemoryLogger();
    const audit = engine.log(K1);
    for (let i = 0; i < 5; i++) {
      await audit.append({ at: at(i), actor: 'hallpass', type: 'audit.searched', details: { i } });
    }
  });

  it('passes an intact log and says what it checked', async () => {
    expect(await startUp({ current: K1 })).toMatchObject({
      events: 5,
      head: { count: 5, hash: (await engine.row(5)).hash },
      unkeyed: 0,
    });
  });

  it('verifies the chain alone: the tables are not read before hallpass serves', async () => {
    // Without the table check on its path, start-up does not even notice a table it cannot read.
    await engine.tamper('ALTER TABLE approvals RENAME TO approvals_elsewhere');
    expect(await startUp({ current: K1 })).toMatchObject({ events: 5 });
    await expect(engine.reader().read({ current: K1 })).rejects.toThrow();
  });

  it('refuses a keyed log without its key, and a log it cannot verify, naming the break and the way out', async () => {
    await expect(startUp(undefined)).rejects.toThrow(
      /sealed with audit key "k1", but HALLPASS_AUDIT_KEY is not set/,
    );
    await engine.tamper("UPDATE audit_events SET actor = 'U_MALLORY' WHERE seq = 2");
    await expect(startUp({ current: K1 })).rejects.toThrow(
      expect.objectContaining({
        name: 'AuditLogRefused',
        message: expect.stringMatching(/event 2 \(edited\).*set HALLPASS_AUDIT_ACCEPT_BROKEN=2/),
      }),
    );
  });

  it('accepts exactly the named break, on the record, and not a second one at the same place', async () => {
    await engine.tamper("UPDATE audit_events SET actor = 'U_MALLORY' WHERE seq = 2");
    await expect(startUp({ current: K1 }, 3)).rejects.toThrow(/=3 names another event, so it does not apply/);
    expect(await startUp({ current: K1 }, 2)).toMatchObject({ events: 6 });
    expect((await engine.row(6)).type).toBe('audit.break_accepted');
    expect(logger.lines.some((l) => l.msg.includes('accepted a break in the audit log'))).toBe(true);
    expect(await startUp({ current: K1 })).toMatchObject({ events: 6 });
    await engine.tamper(`UPDATE audit_events SET hash = '${'e'.repeat(64)}' WHERE seq = 2`);
    await expect(startUp({ current: K1 }, 2)).rejects.toThrow(AuditLogRefused);
    await expect(startUp({ current: K1 }, 2)).rejects.toThrow(/breaks at event 2 again .* already accepted/);
  });
});
