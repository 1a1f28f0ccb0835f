import type { AuditExportRow, ChainEvent } from '../../../src/app/audit-ports';
import { ChainProjection, checkAgainstTables, describeMismatch } from '../../../src/app/audit-record';

const T = (iso: string) => new Date(iso);
let seq = 0;
const ev = (e: Omit<ChainEvent, 'seq'>): ChainEvent => ({ seq: ++seq, ...e });

function project(events: readonly Omit<ChainEvent, 'seq'>[]) {
  const p = new ChainProjection();
  for (const e of events) p.add(ev(e));
  return p.records();
}

/** A request approved by one approver, opened, extended once and closed at its (new) end. */
const LIFE: Omit<ChainEvent, 'seq'>[] = [
  {
    at: T('2026-11-14T02:00:00Z'),
    actor: 'UREQ',
    type: 'request.submitted',
    requestId: 'req_1',
    details: {
      resourceId: 'prod-db',
      durationMs: 1_800_000,
      source: '203.0.113.7/32',
      reason: 'vacuum',
      breakGlass: false,
    },
  },
  { at: T('2026-11-14T02:01:00Z'), actor: 'UAPP', type: 'request.approval_recorded', requestId: 'req_1' },
  {
    at: T('2026-11-14T02:01:00Z'),
    actor: 'UAPP',
    type: 'request.approved',
    requestId: 'req_1',
    grantId: 'grt_1',
    details: { approvers: ['UAPP'], expiresAt: '2026-11-14T02:31:00.000Z' },
  },
  {
    at: T('2026-11-14T02:01:01Z'),
    actor: 'hallpass',
    type: 'grant.opened',
    requestId: 'req_1',
    grantId: 'grt_1',
  },
  {
    at: T('2026-11-14T02:20:00Z'),
    actor: 'UREQ',
    type: 'request.submitted',
    requestId: 'req_2',
    grantId: 'grt_1',
    details: {
      kind: 'extension',
      durationMs: 900_000,
      currentEnd: '2026-11-14T02:31:00.000Z',
      resourceId: 'prod-db',
      source: '203.0.113.7/32',
      reason: 'extension of grt_1: vacuum',
    },
  },
  { at: T('2026-11-14T02:21:00Z'), actor: 'UAPP', type: 'request.approval_recorded', requestId: 'req_2' },
  {
    at: T('2026-11-14T02:21:00Z'),
    actor: 'UAPP',
    type: 'grant.extended',
    requestId: 'req_2',
    grantId: 'grt_1',
    details: { from: '2026-11-14T02:31:00.000Z', to: '2026-11-14T02:46:00.000Z', byMs: 900_000 },
  },
  {
    at: T('2026-11-14T02:46:00Z'),
    actor: 'hallpass',
    type: 'grant.closing',
    requestId: 'req_1',
    grantId: 'grt_1',
    details: { reason: 'expired' },
  },
  {
    at: T('2026-11-14T02:46:00.950Z'),
    actor: 'hallpass',
    type: 'grant.closed',
    requestId: 'req_1',
    grantId: 'grt_1',
    details: { reason: 'expired', endedBy: 'hallpass' },
  },
];

describe('the chain projection: what the events say about each request', () => {
  it('derives every exported field of a grant and its extension from the events alone', () => {
    const [grant, extension] = project(LIFE);
    expect(grant?.unknown.size).toBe(0);
    expect(grant?.row).toEqual({
      requestId: 'req_1',
      requestKind: 'access',
      extendsGrantId: undefined,
      grantId: 'grt_1',
      resourceId: 'prod-db',
      resourceKind: 'security-group',
      requesterId: 'UREQ',
      approvers: ['UAPP'],
      decidedBy: 'UAPP',
      address: '203.0.113.7/32',
      roleArn: undefined,
      reason: 'vacuum',
      decisionNote: undefined,
      state: 'approved',
      grantState: 'closed',
      requestedAt: T('2026-11-14T02:00:00Z'),
      approvedAt: T('2026-11-14T02:01:00Z'),
      startedAt: T('2026-11-14T02:01:01Z'),
      expiresAt: T('2026-11-14T02:46:00Z'),
      endedAt: T('2026-11-14T02:46:00.950Z'),
      endReason: 'expired',
      endedBy: 'hallpass',
      durationMs: 1_800_000,
      breakGlass: false,
      reviewedBy: undefined,
      reviewedAt: undefined,
    });
    expect(extension?.row).toMatchObject({
      requestKind: 'extension',
      extendsGrantId: 'grt_1',
      grantId: undefined,
      state: 'approved',
      decidedBy: 'UAPP',
      approvedAt: T('2026-11-14T02:21:00Z'),
      address: '203.0.113.7/32',
      reason: 'extension of grt_1: vacuum',
    });
  });

  it('takes an older extension’s resource and address from the grant it extends, and says its reason is not in the chain', () => {
    const legacy = LIFE.map((e) =>
      e.requestId === 'req_2' && e.type === 'request.submitted'
        ? {
            ...e,
            details: { kind: 'extension', durationMs: 900_000, currentEnd: '2026-11-14T02:31:00.000Z' },
          }
        : e,
    );
    const [, extension] = project(legacy);
    expect(extension?.row).toMatchObject({ resourceId: 'prod-db', address: '203.0.113.7/32' });
    expect([...(extension?.unknown ?? [])]).toEqual(['reason']);
  });

  it('says an older auto-approval’s note is not in the chain, and reads a new one’s', () => {
    const submitted = LIFE[0] as Omit<ChainEvent, 'seq'>;
    const auto = (details: Record<string, unknown>) =>
      project([
        submitted,
        {
          at: submitted.at,
          actor: 'hallpass',
          type: 'request.approved',
          requestId: 'req_1',
          grantId: 'grt_1',
          details,
        },
      ])[0];
    expect([...(auto({ auto: true })?.unknown ?? [])]).toEqual(['decisionNote']);
    expect(auto({ auto: true, note: 'auto-approved by policy' })?.row.decisionNote).toBe(
      'auto-approved by policy',
    );
  });

  it('keeps the first failure note, as the store does', () => {
    const [row] = project([
      LIFE[0] as Omit<ChainEvent, 'seq'>,
      LIFE[2] as Omit<ChainEvent, 'seq'>,
      {
        at: T('2026-11-14T02:02:00Z'),
        actor: 'hallpass',
        type: 'grant.failed',
        requestId: 'req_1',
        grantId: 'grt_1',
        details: { reason: 'AWS refused', rollback: 'failed' },
      },
      {
        at: T('2026-11-14T02:03:00Z'),
        actor: 'hallpass',
        type: 'request.failed',
        requestId: 'req_1',
        details: { reason: 'something else' },
      },
    ]);
    expect(row?.row).toMatchObject({
      state: 'failed',
      grantState: 'closing',
      endReason: 'failed',
      decisionNote: expect.stringMatching(/^AWS refused; what was already opened could not be closed yet/),
    });
  });
});

describe('checking the tables against the chain', () => {
  const [chained] = project(LIFE);
  const tableRow = chained?.row as AuditExportRow;

  it('agrees when the tables say what the chain says', () => {
    const { rows, mismatches } = checkAgainstTables(chained === undefined ? [] : [chained], [tableRow]);
    expect(mismatches).toEqual([]);
    expect(rows[0]).toMatchObject({ notInChain: [], tableDiffers: [] });
  });

  it('names each field a table says differently, and keeps the chain’s value in the row', () => {
    const edited: AuditExportRow = {
      ...tableRow,
      requesterId: 'UMALLORY',
      approvers: ['UMALLORY'],
      endedAt: T('2026-11-14T02:30:00Z'),
    };
    const { rows, mismatches } = checkAgainstTables(chained === undefined ? [] : [chained], [edited]);
    expect(rows[0]).toMatchObject({
      requesterId: 'UREQ',
      tableDiffers: ['requester', 'approvers', 'ended_at'],
    });
    expect(mismatches.map(describeMismatch)).toEqual([
      'request req_1 (grant grt_1): requester is "UMALLORY" in the tables (requests.requester_id) but "UREQ" in the audit chain.',
      'request req_1 (grant grt_1): approvers is ["UMALLORY"] in the tables (approvals.approver_id) but ["UAPP"] in the audit chain.',
      'request req_1 (grant grt_1): ended_at is "2026-11-14T02:30:00.000Z" in the tables (grants.ended_at) but "2026-11-14T02:46:00.950Z" in the audit chain.',
    ]);
  });

  it('keeps a row only the tables hold, flagged, and names a request they lost', () => {
    const forged: AuditExportRow = {
      ...tableRow,
      requestId: 'req_forged',
      requestedAt: T('2026-11-14T01:00:00Z'),
    };
    const { rows, mismatches } = checkAgainstTables(chained === undefined ? [] : [chained], [forged]);
    expect(rows.map((r) => [r.requestId, r.notInChain, r.tableDiffers])).toEqual([
      ['req_forged', ['*'], []],
      ['req_1', [], ['*']],
    ]);
    expect(mismatches.map(describeMismatch)).toEqual([
      'request req_1: in the audit chain but not in the requests table (the row was deleted).',
      'request req_forged: in the requests table but never recorded in the audit chain (the row was inserted).',
    ]);
  });

  it('shows what the chain cannot say from the tables, marked as not in the chain', () => {
    const legacy = new ChainProjection();
    for (const e of LIFE.slice(0, 1))
      legacy.add(ev({ ...e, details: { resourceId: 'prod-db', durationMs: 1_800_000 } }));
    const { rows, mismatches } = checkAgainstTables(legacy.records(), [
      {
        ...tableRow,
        grantId: undefined,
        grantState: undefined,
        state: 'pending',
        approvers: [],
        decidedBy: undefined,
        approvedAt: undefined,
        startedAt: undefined,
        expiresAt: undefined,
        endedAt: undefined,
        endReason: undefined,
        endedBy: undefined,
        address: undefined,
        resourceKind: undefined,
      },
    ]);
    expect(mismatches).toEqual([]);
    expect(rows[0]).toMatchObject({ reason: 'vacuum', notInChain: ['reason'], tableDiffers: [] });
  });
});
