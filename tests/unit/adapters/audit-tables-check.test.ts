import { checkTablesAgainstChain } from '../../../src/adapters/db/audit-startup';
import type { AuditRecord, TableMismatch } from '../../../src/app/audit-record';
import { MemoryLogger } from '../../support/memory-logger';

const verified: AuditRecord['chain'] = {
  ok: true,
  events: 40,
  head: { count: 40, hash: 'a'.repeat(64) },
  unkeyed: 0,
  keyIds: [],
  accepted: [],
};

const recordWith = (mismatches: TableMismatch[], chain: AuditRecord['chain'] = verified): AuditRecord => ({
  chain,
  rows: [],
  mismatches,
});

/** The check start-up runs once hallpass serves: the tables against the chain, logged, stopping nothing. */
describe('checkTablesAgainstChain', () => {
  it('names the first twenty rows that disagree, counts the rest, and answers how many', async () => {
    const logger = new MemoryLogger();
    const mismatches: TableMismatch[] = Array.from({ length: 25 }, (_, i) => ({
      kind: 'not-in-chain',
      requestId: `req_${i}`,
    }));
    expect(await checkTablesAgainstChain({ read: async () => recordWith(mismatches) }, logger)).toBe(25);
    const named = logger.lines.filter((l) => l.msg === 'the tables disagree with the audit chain');
    expect(named.map((l) => l.fields['requestId'])).toEqual(mismatches.slice(0, 20).map((m) => m.requestId));
    expect(named[0]?.fields['problem']).toContain(
      'in the requests table but never recorded in the audit chain',
    );
    expect(logger.lines.find((l) => l.msg.startsWith('more table rows disagree'))?.fields).toEqual({
      more: 5,
    });
    expect(logger.lines.at(-1)).toMatchObject({ level: 'info', fields: { tablesDisagree: 25 } });
  });

  it('logs nothing alarming when the tables agree', async () => {
    const logger = new MemoryLogger();
    expect(await checkTablesAgainstChain({ read: async () => recordWith([]) }, logger)).toBe(0);
    expect(logger.lines.filter((l) => l.level !== 'info')).toEqual([]);
  });

  it('says so when the chain no longer verifies, comparing nothing', async () => {
    const logger = new MemoryLogger();
    const broken: AuditRecord['chain'] = {
      ok: false,
      firstBrokenSeq: 7,
      reason: 'edited',
      message: 'event 7 was edited',
      detectedAtSeq: 7,
      detectedHash: null,
      head: { count: 40, hash: 'b'.repeat(64) },
    };
    const found = await checkTablesAgainstChain(
      { read: async () => recordWith([{ kind: 'not-in-chain', requestId: 'req_1' }], broken) },
      logger,
    );
    expect(found).toBeUndefined();
    expect(logger.lines).toEqual([
      expect.objectContaining({ level: 'error', fields: { firstBrokenSeq: 7, reason: 'edited' } }),
    ]);
  });
});
