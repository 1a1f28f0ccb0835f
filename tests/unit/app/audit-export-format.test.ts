import {
  AUDIT_EXPORT_FIELDS,
  csvCell,
  exportFilename,
  parseExportDate,
  parseExportWindow,
  toCsv,
  toExportRecord,
  toJsonl,
  withPolicyFallback,
} from '../../../src/app/audit-export-format';
import type {
  AuditExportRow,
  AuditRecordSource,
  ChainStatus,
  ExportWindow,
} from '../../../src/app/audit-ports';
import { exportAudit } from '../../../src/app/export-audit';
import { createNotices } from '../../../src/app/notify';
import type { AuditEvent, AuditLog, GrantStore, RequestStore } from '../../../src/app/ports';
import { parsePolicy } from '../../../src/config/policy';
import type { Actor, Policy } from '../../../src/domain/policy';
import { parseCsv } from '../../support/csv';
import { FakeClock } from '../../support/fake-clock';
import { MemoryLogger } from '../../support/memory-logger';

const MIN = 60_000;
const T = (iso: string) => new Date(iso);

/** A closed security-group grant approved by two people, every field set. */
function fullRow(overrides: Partial<AuditExportRow> = {}): AuditExportRow {
  return {
    requestId: 'req_1',
    requestKind: 'access',
    grantId: 'grt_1',
    resourceId: 'prod-db',
    resourceKind: 'security-group',
    requesterId: 'U_REQ',
    approvers: ['U_APP1', 'U_APP2'],
    decidedBy: 'U_APP2',
    address: '203.0.113.7/32',
    reason: 'debugging slow queries',
    state: 'approved',
    grantState: 'closed',
    requestedAt: T('2026-11-01T09:00:00.001Z'),
    approvedAt: T('2026-11-01T09:02:00.002Z'),
    startedAt: T('2026-11-01T09:02:01.003Z'),
    expiresAt: T('2026-11-01T09:32:00.002Z'),
    endedAt: T('2026-11-01T09:32:00.950Z'),
    endReason: 'expired',
    endedBy: 'hallpass',
    durationMs: 30 * MIN,
    breakGlass: false,
    ...overrides,
  };
}

/** A denied role request: nothing opened, most fields absent. */
function deniedRow(overrides: Partial<AuditExportRow> = {}): AuditExportRow {
  return {
    requestId: 'req_2',
    requestKind: 'access',
    resourceId: 'prod-readonly',
    requesterId: 'U_REQ',
    approvers: [],
    decidedBy: 'U_APP1',
    reason: 'read logs',
    decisionNote: 'use the staging copy',
    state: 'denied',
    requestedAt: T('2026-11-01T10:00:00.000Z'),
    durationMs: 90 * MIN,
    breakGlass: false,
    ...overrides,
  };
}

describe('audit export: CSV', () => {
  it('writes a header row and one row per request, field by field, timestamps ISO-8601 UTC to the millisecond', () => {
    const [header, full, denied, ...rest] = parseCsv(toCsv([fullRow(), deniedRow()]));
    expect(rest).toEqual([]);
    expect(header).toEqual([...AUDIT_EXPORT_FIELDS]);
    const byName = (row: string[] | undefined) =>
      Object.fromEntries(AUDIT_EXPORT_FIELDS.map((f, i) => [f, row?.[i]]));

    expect(byName(full)).toEqual({
      request_id: 'req_1',
      grant_id: 'grt_1',
      resource_id: 'prod-db',
      kind: 'security-group',
      requester: 'U_REQ',
      approvers: 'U_APP1;U_APP2',
      decided_by: 'U_APP2',
      address: '203.0.113.7/32',
      role_arn: '',
      reason: 'debugging slow queries',
      state: 'approved',
      grant_state: 'closed',
      requested_at: '2026-11-01T09:00:00.001Z',
      approved_at: '2026-11-01T09:02:00.002Z',
      started_at: '2026-11-01T09:02:01.003Z',
      expires_at: '2026-11-01T09:32:00.002Z',
      ended_at: '2026-11-01T09:32:00.950Z',
      end_reason: 'expired',
      ended_by: 'hallpass',
      duration_requested: '30m',
      duration_requested_ms: '1800000',
      request_kind: 'access',
      extends_grant_id: '',
      decision_note: '',
      break_glass: 'false',
      reviewed_by: '',
      reviewed_at: '',
      not_in_chain: '',
      table_differs: '',
    });
    expect(byName(denied)).toMatchObject({
      request_id: 'req_2',
      grant_id: '',
      kind: '',
      approvers: '',
      decided_by: 'U_APP1',
      state: 'denied',
      grant_state: '',
      approved_at: '',
      started_at: '',
      expires_at: '',
      ended_at: '',
      end_reason: '',
      duration_requested: '1h30m',
      duration_requested_ms: '5400000',
      decision_note: 'use the staging copy',
    });
  });

  it('ends every record, the header too, with CRLF', () => {
    const csv = toCsv([fullRow()]);
    expect(csv.split('\r\n')).toHaveLength(3);
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(csv.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });

  it('is only the header for an empty window', () => {
    expect(toCsv([])).toBe(`${AUDIT_EXPORT_FIELDS.join(',')}\r\n`);
  });

  it.each([
    ['a comma', 'slow, very slow', '"slow, very slow"'],
    ['a double quote', 'the "orders" table', '"the ""orders"" table"'],
    ['a line feed', 'line one\nline two', '"line one\nline two"'],
    ['a carriage return inside', 'a\rb', '"a\rb"'],
    ['nothing special', 'plain words', 'plain words'],
  ])('quotes a field holding %s (RFC 4180)', (_what, value, cell) => {
    expect(csvCell(value)).toBe(cell);
    const [, row] = parseCsv(toCsv([fullRow({ reason: value })]));
    expect(row?.[AUDIT_EXPORT_FIELDS.indexOf('reason')]).toBe(value);
  });

  it.each([
    ['=', '=HYPERLINK("http://evil.example","click")', `"'=HYPERLINK(""http://evil.example"",""click"")"`],
    ['+', '+1+1', "'+1+1"],
    ['-', '-2+3', "'-2+3"],
    ['@', '@SUM(A1:A2)', "'@SUM(A1:A2)"],
    ['a tab', '\t=1+1', "'\t=1+1"],
    ['a carriage return', '\r=1+1', `"'\r=1+1"`],
  ])('defuses a cell starting with %s so a spreadsheet shows it as text', (_what, value, cell) => {
    expect(csvCell(value)).toBe(cell);
  });

  it('guards every column, not only the reason', () => {
    const [, row] = parseCsv(toCsv([fullRow({ requesterId: '=cmd', approvers: ['@evil', 'U_OK'] })]));
    expect(row?.[AUDIT_EXPORT_FIELDS.indexOf('requester')]).toBe("'=cmd");
    expect(row?.[AUDIT_EXPORT_FIELDS.indexOf('approvers')]).toBe("'@evil;U_OK");
  });
});

describe('audit export: JSON Lines', () => {
  it('writes one object per line with the same field names, in the same order', () => {
    const lines = toJsonl([fullRow(), deniedRow()]).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    const [full, denied] = lines.slice(0, 2).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(Object.keys(full ?? {})).toEqual([...AUDIT_EXPORT_FIELDS]);
    expect(full).toEqual(toExportRecord(fullRow()));
    expect(full).toMatchObject({
      approvers: ['U_APP1', 'U_APP2'],
      requested_at: '2026-11-01T09:00:00.001Z',
      duration_requested_ms: 1_800_000,
      break_glass: false,
      role_arn: null,
    });
    expect(denied).toMatchObject({ grant_id: null, approved_at: null, approvers: [] });
  });

  it('leaves text exactly as recorded: no formula guard outside CSV', () => {
    const [line] = toJsonl([fullRow({ reason: '=1+1, "quoted"\nnext' })]).split('\n');
    expect(JSON.parse(line ?? '{}')).toMatchObject({ reason: '=1+1, "quoted"\nnext' });
  });
});

describe('audit export: dates on the command line', () => {
  it.each([
    ['2026-11-01', '2026-11-01T00:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
    ['2026-11-01T09:30Z', '2026-11-01T09:30:00.000Z'],
    ['2026-11-01T09:30:15Z', '2026-11-01T09:30:15.000Z'],
    ['2026-11-01T09:30:15.5Z', '2026-11-01T09:30:15.500Z'],
    ['2026-11-01T09:30:15.123+01:00', '2026-11-01T08:30:15.123Z'],
    ['2026-11-01T00:30:00-05:30', '2026-11-01T06:00:00.000Z'],
  ])('accepts %s', (input, expected) => {
    expect(parseExportDate(input)?.toISOString()).toBe(expected);
  });

  it.each([
    ['an empty string', ''],
    ['a month that does not exist', '2026-13-01'],
    ['a day that does not exist', '2026-02-30'],
    ['a leap day in a common year', '2025-02-29'],
    ['a date-time without an offset', '2026-11-01T09:30:00'],
    ['a space instead of T', '2026-11-01 09:30:00Z'],
    ['an hour past 23', '2026-11-01T24:00:00Z'],
    ['an offset without a colon', '2026-11-01T09:30:00+0100'],
    ['a US-style date', '11/01/2026'],
    ['words', 'yesterday'],
    ['an epoch number', '1793491200000'],
    ['more than milliseconds', '2026-11-01T09:30:00.1234Z'],
  ])('refuses %s', (_what, input) => {
    expect(parseExportDate(input)).toBeUndefined();
  });

  const now = T('2026-11-15T12:00:00.000Z');

  it('takes [since, now) when --until is left out', () => {
    expect(parseExportWindow({ since: '2026-11-01' }, now)).toEqual({
      ok: true,
      value: { since: T('2026-11-01T00:00:00.000Z'), until: now },
    });
  });

  it('requires --since', () => {
    expect(parseExportWindow({ until: '2026-11-02' }, now)).toMatchObject({
      ok: false,
      error: 'MISSING_SINCE',
    });
  });

  it.each([
    ['--since', { since: '2026-11-31' }, '2026-11-31'],
    ['--until', { since: '2026-11-01', until: 'tomorrow' }, 'tomorrow'],
  ])('names %s when its date is malformed', (flag, flags, input) => {
    expect(parseExportWindow(flags, now)).toEqual({
      ok: false,
      error: 'INVALID_DATE',
      detail: { flag, input },
    });
  });

  it('refuses a window that ends before it starts', () => {
    expect(parseExportWindow({ since: '2026-11-02', until: '2026-11-01' }, now)).toMatchObject({
      ok: false,
      error: 'EMPTY_WINDOW',
    });
  });

  it('names the file after the window’s UTC dates', () => {
    const window: ExportWindow = { since: T('2026-10-16T12:00:00Z'), until: T('2026-11-15T12:00:00Z') };
    expect(exportFilename(window, 'csv')).toBe('hallpass-audit-2026-10-16-2026-11-15.csv');
  });
});

const POLICY = parsePolicy(`
admins: ["@security", "U0ROOT"]
auditChannel: C0AUDIT01
resources:
  - id: prod-db
    kind: security-group
    region: us-east-1
    securityGroupId: sg-0123456789abcdef0
    ports: [5432]
    maxDuration: 1h
    channel: C0123ABCD
    approvers: ["@sre"]
  - id: prod-readonly
    kind: aws-role
    roleArn: arn:aws:iam::123456789012:role/ProdReadOnly
    region: us-east-1
    maxDuration: 2h
    channel: C0123ABCD
    approvers: ["@sre"]
`);

describe('audit export: the policy fills in what the database cannot know', () => {
  it('gives a role request that never opened its kind and role', () => {
    const [row] = withPolicyFallback([deniedRow()], POLICY);
    expect(row).toMatchObject({
      resourceKind: 'aws-role',
      roleArn: 'arn:aws:iam::123456789012:role/ProdReadOnly',
    });
  });

  it('never overwrites what the database recorded', () => {
    const recorded = deniedRow({ resourceKind: 'aws-role', roleArn: 'arn:aws:iam::123456789012:role/Old' });
    expect(withPolicyFallback([recorded], POLICY)).toEqual([recorded]);
    const sg = fullRow();
    expect(withPolicyFallback([sg], POLICY)).toEqual([sg]);
  });

  it('leaves a resource that is no longer in the policy blank', () => {
    const gone = deniedRow({ resourceId: 'retired-db' });
    expect(withPolicyFallback([gone], POLICY)).toEqual([gone]);
  });
});

describe('exportAudit (/access audit <days>)', () => {
  const actor = (userId: string, groups: string[] = []): Actor => ({
    userId,
    groups: new Set(groups),
    standing: 'member',
  });
  const HEAD = { count: 41, hash: 'a'.repeat(64), keyId: 'k1' };
  const CHAIN: ChainStatus = {
    ok: true,
    events: 41,
    head: HEAD,
    unkeyed: 0,
    keyIds: ['k1'],
    accepted: [],
  };

  function setUp(policy: Policy = POLICY) {
    const clock = new FakeClock(T('2026-11-15T12:00:00.000Z'));
    let reads = 0;
    const appended: AuditEvent[] = [];
    const queued: unknown[] = [];
    // One request made before the window: the export leaves it out.
    const old = deniedRow({ requestId: 'req_old', requestedAt: T('2026-10-01T00:00:00.000Z') });
    const auditRecord: AuditRecordSource = {
      read: async () => {
        reads += 1;
        return { chain: CHAIN, rows: [old, fullRow(), deniedRow()], mismatches: [] };
      },
    };
    const audit: AuditLog = {
      append: async (e) => {
        appended.push(e);
      },
      appendAll: async (events) => {
        for (const e of events) await audit.append(e);
      },
      list: async () => [],
      head: async () => HEAD,
      lastOfType: async () => undefined,
    };
    const run = exportAudit({
      clock,
      policy: () => policy,
      auditRecord,
      audit,
      uow: { tx: (fn) => fn(), afterCommit: (then) => then() },
      notices: createNotices({
        clock,
        logger: new MemoryLogger(),
        policy: () => policy,
        outbox: { enqueue: async (item: unknown) => void queued.push(item) },
        deliveries: { wake: () => {} },
        requests: {} as RequestStore,
        grants: {} as GrantStore,
      }),
    });
    return { run, appended, queued, reads: () => reads };
  }

  it('refuses someone who is not an admin, reading and recording nothing', async () => {
    const { run, reads, appended, queued } = setUp();
    expect(await run({ actor: actor('U_SRE', ['sre']), days: 30 })).toEqual({
      ok: false,
      error: 'NOT_ADMIN',
      detail: { userId: 'U_SRE' },
    });
    expect([reads(), appended, queued]).toEqual([0, [], []]);
  });

  it.each([
    ['through a user group', actor('U_SEC', ['security'])],
    ['by user id', actor('U0ROOT')],
  ])(
    'gives an admin (%s) the last N days of the chain-checked record as CSV, records the export and publishes the head',
    async (_how, admin) => {
      const { run, appended, queued } = setUp();
      const result = await run({ actor: admin, days: 30 });
      const since = T('2026-10-16T12:00:00.000Z');
      const until = T('2026-11-15T12:00:00.000Z');
      expect(result).toEqual({
        ok: true,
        value: {
          window: { since, until },
          filename: 'hallpass-audit-2026-10-16-2026-11-15.csv',
          csv: toCsv(withPolicyFallback([fullRow(), deniedRow()], POLICY)),
          rows: 2,
          chain: CHAIN,
          disagreeing: 0,
          published: { count: 41, hash: HEAD.hash },
        },
      });
      expect(appended).toEqual([
        {
          at: until,
          actor: admin.userId,
          type: 'audit.exported',
          details: {
            since: since.toISOString(),
            until: until.toISOString(),
            rows: 2,
            format: 'csv',
            chainOk: true,
            disagreeing: 0,
          },
        },
        {
          at: until,
          actor: admin.userId,
          type: 'audit.head_published',
          details: {
            count: 41,
            hash: HEAD.hash,
            channel: 'C0AUDIT01',
            trigger: 'export',
            chainOk: true,
            mismatches: 0,
          },
        },
      ]);
      expect(queued).toEqual([
        {
          kind: 'channel',
          lane: 'chan:C0AUDIT01',
          channel: 'C0AUDIT01',
          notice: JSON.stringify({
            type: 'audit-head',
            count: 41,
            hash: HEAD.hash,
            keyId: 'k1',
            at: until.toISOString(),
            trigger: {
              kind: 'export',
              by: admin.userId,
              rows: 2,
              since: since.toISOString(),
              until: until.toISOString(),
            },
            chain: { ok: true, unkeyed: 0 },
            mismatches: 0,
          }),
        },
      ]);
    },
  );

  it('publishes nothing without an audit channel, and still records the export', async () => {
    const { run, appended, queued } = setUp({ ...POLICY, auditChannel: undefined });
    const result = await run({ actor: actor('U0ROOT'), days: 30 });
    expect(result.ok && result.value.published).toBeUndefined();
    expect(appended.map((e) => e.type)).toEqual(['audit.exported']);
    expect(queued).toEqual([]);
  });
});
