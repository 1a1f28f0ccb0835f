import { auditHeadMessage } from '../../../src/adapters/slack/views/audit-head';
import { auditSearchMessage } from '../../../src/adapters/slack/views/audit-search';
import type { AuditExportRow, ChainStatus } from '../../../src/app/audit-ports';
import type { AuditHeadNotice } from '../../../src/app/notices';

const HASH = 'ab'.repeat(32);
const text = (m: { text: string; blocks: unknown[] }) => `${m.text}\n${JSON.stringify(m.blocks)}`;

describe('the audit head notice', () => {
  const notice: AuditHeadNotice = {
    type: 'audit-head',
    count: 1234,
    hash: HASH,
    keyId: 'k2026',
    at: '2026-11-15T00:00:00.000Z',
    trigger: { kind: 'schedule' },
    chain: { ok: true, unkeyed: 0 },
    mismatches: 0,
  };

  it('carries the count and seal verbatim, the command to check them, and the key', () => {
    const shown = text(auditHeadMessage(notice));
    expect(shown).toContain(`event *1234*, seal \`${HASH}\``);
    expect(shown).toContain(`npm run audit -- verify --head 1234:${HASH}`);
    expect(shown).toContain('HMAC-SHA-256 under audit key k2026');
    expect(auditHeadMessage(notice).text).toBe(`hallpass audit head: event 1234, ${HASH}`);
  });

  it('says loudly when the chain is broken or the tables disagree, and when it is unkeyed', () => {
    const shown = text(
      auditHeadMessage({
        ...notice,
        keyId: undefined,
        chain: { ok: false, firstBrokenSeq: 17, message: 'event 17 was changed: <!channel>' },
        mismatches: 2,
      }),
    );
    expect(shown).toContain('*The chain is BROKEN* at event 17');
    expect(shown).toContain('2 request(s) in the database tables disagree with the chain');
    expect(shown).toContain('plain SHA-256');
    expect(shown).not.toContain('<!channel>');
  });

  it('names who exported, only as a mention when it is a user id', () => {
    const byUser = auditHeadMessage({ ...notice, trigger: { kind: 'export', by: 'UADMIN1', rows: 3 } });
    expect(text(byUser)).toContain('published with an audit export by <@UADMIN1> (3 request(s))');
    const byCli = auditHeadMessage({ ...notice, trigger: { kind: 'export', by: 'cli:<!here>', rows: 3 } });
    expect(text(byCli)).not.toContain('<!here>');
  });
});

describe('the audit search answer', () => {
  const chain: ChainStatus = {
    ok: true,
    events: 40,
    head: { count: 40, hash: HASH },
    unkeyed: 0,
    keyIds: ['k1'],
    accepted: [],
  };
  const row: AuditExportRow = {
    requestId: 'req_1',
    requestKind: 'access',
    grantId: 'grt_1',
    resourceId: 'prod-db',
    requesterId: 'UREQ1',
    approvers: ['UAPP1'],
    address: '203.0.113.7/32',
    reason: '*bold* <!channel>',
    state: 'approved',
    grantState: 'closed',
    requestedAt: new Date('2026-11-14T02:40:00Z'),
    startedAt: new Date('2026-11-14T02:45:00Z'),
    expiresAt: new Date('2026-11-14T03:45:00Z'),
    endedAt: new Date('2026-11-14T02:50:00Z'),
    endReason: 'revoked',
    endedBy: 'UREQ1',
    durationMs: 3_600_000,
    breakGlass: false,
    tableDiffers: ['ended_at'],
  };

  it('lists each grant with its exact times and flags a disagreeing table', () => {
    const shown = text(auditSearchMessage({ rows: [row], filters: { resourceId: 'prod-db' }, chain }));
    expect(shown).toContain(
      'started `2026-11-14T02:45:00.000Z`, planned end `2026-11-14T03:45:00.000Z`, ended `2026-11-14T02:50:00.000Z` (revoked by <@UREQ1>)',
    );
    expect(shown).toContain('tables differ: ended_at');
    expect(shown).toContain('verified; head 40:');
    expect(shown).not.toContain('<!channel>');
  });

  it('says when nothing matches', () => {
    expect(text(auditSearchMessage({ rows: [], filters: { endReason: 'done' }, chain }))).toContain(
      'No request on record matches ended done.',
    );
    expect(text(auditSearchMessage({ rows: [], filters: {}, chain }))).toContain(
      'No request is on record yet.',
    );
  });
});
