import { asc } from 'drizzle-orm';
import { rowsInOrder } from '../../../src/adapters/db/audit-log';
import type { DbHandle } from '../../../src/adapters/db/open-db';
import { auditEvents } from '../../../src/adapters/db/schema';
import { useAuditEngine } from '../../support/audit-engines';
import { T0 } from '../../support/builders';

describe("the audit walk's pages on SQLite", () => {
  const engine = useAuditEngine('sqlite');

  it('are the rows drizzle maps, every column under its key, read without its mapping', async () => {
    const audit = engine.log();
    for (let i = 0; i < 5; i++) {
      await audit.append({
        at: new Date(T0.getTime() + i),
        actor: i % 2 === 0 ? 'U_REQ' : 'hallpass',
        type: i === 0 ? 'request.submitted' : 'grant.opened',
        requestId: 'req_1',
        ...(i === 0 ? {} : { grantId: 'grt_1' }),
        ...(i === 3 ? {} : { details: { n: i, nested: { b: [1, 'two'], a: null } } }),
      });
    }
    const { db } = engine.handle as DbHandle;
    const mapped = db.select().from(auditEvents).orderBy(asc(auditEvents.seq)).all();
    expect(mapped).toHaveLength(5);
    // A column added to the table but read differently (a mode drizzle maps) fails here.
    expect([...rowsInOrder(db)].flat()).toStrictEqual(mapped);
    // From an event, up to another.
    expect([...rowsInOrder(db, 4, 1)].flat()).toStrictEqual(mapped.slice(1, 4));
  });
});
