import Database from 'better-sqlite3';
import { ACTION } from '../../src/adapters/slack/ids';
import { AUDIT_EXPORT_FIELDS } from '../../src/app/audit-export';
import { APPROVER, type Harness, REQUESTER, startHarness } from '../support/harness';
import { approvalPosts, lastRequestId, privateReplies, replyAfter } from '../support/slack-queries';

const MINUTE = 60_000;
/** In @security, the policy's admins. */
const ADMIN = 'UADMIN1';

/** RFC 4180: quoted fields, `""` for a quote, CRLF between records. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += c;
  }
  return records;
}

/** The CSV's rows as objects keyed by its header. */
function csvObjects(text: string): Record<string, string>[] {
  const [header = [], ...rows] = parseCsv(text);
  return rows.map((row) => Object.fromEntries(header.map((name, i) => [name, row[i] ?? ''])));
}

/** audit_events types, read from the bot's database file (WAL lets a second reader in). */
function eventTypes(h: Harness): string[] {
  const db = new Database(h.dbPath, { readonly: true });
  try {
    return (db.prepare('SELECT type FROM audit_events ORDER BY seq').all() as { type: string }[]).map(
      (r) => r.type,
    );
  } finally {
    db.close();
  }
}

describe('/access audit <days>: the audit export as a file for admins', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('sends an admin the export as a CSV file in a direct message, one row per request, field by field', async () => {
    // Arrange: a grant approved, opened and closed at expiry.
    const requestedAt = h.clock.now();
    await h.command(REQUESTER, 'prod-db 30m from 203.0.113.7 debugging slow, "stuck" queries');
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    const requestId = lastRequestId(h);
    await h.advance(2 * MINUTE);
    const approvedAt = h.clock.now();
    await h.click(APPROVER, ACTION.approveRequest, requestId);
    const grant = await h.slack.waitFor(() => {
      const g = h.hallpass.useCases.cardOf(requestId)?.grant;
      return g?.state === 'active' ? g : undefined;
    });
    await h.advance(30 * MINUTE);
    expect(h.hallpass.useCases.cardOf(requestId)?.grant?.state).toBe('closed');
    const exportedAt = h.clock.now();

    // Act.
    const before = h.slack.calls.length;
    await h.command(ADMIN, 'audit 7');
    const reply = await replyAfter(h.slack, ADMIN, before);

    // Assert: a DM opened with the admin, the file uploaded there, a short confirmation.
    expect(reply).toContain('direct message');
    expect(reply).toContain('1 request');
    const [open] = h.slack.callsTo('conversations.open');
    expect(open?.args['users']).toBe(ADMIN);
    const [upload] = h.slack.uploads();
    const since = new Date(exportedAt.getTime() - 7 * 24 * 60 * MINUTE);
    expect(upload).toMatchObject({
      filename: `hallpass-audit-${since.toISOString().slice(0, 10)}-${exportedAt.toISOString().slice(0, 10)}.csv`,
      completed: true,
      channelId: 'DADMIN1',
    });
    expect(upload?.initialComment).toContain(since.toISOString());
    const csv = upload?.content?.toString('utf8') ?? '';
    expect(upload?.length).toBe(Buffer.byteLength(csv));
    expect(parseCsv(csv)[0]).toEqual([...AUDIT_EXPORT_FIELDS]);
    expect(csvObjects(csv)).toEqual([
      {
        request_id: requestId,
        grant_id: grant.id,
        resource_id: 'prod-db',
        kind: 'security-group',
        requester: REQUESTER,
        approvers: APPROVER,
        decided_by: APPROVER,
        address: '203.0.113.7/32',
        role_arn: '',
        reason: 'debugging slow, "stuck" queries',
        state: 'approved',
        grant_state: 'closed',
        requested_at: requestedAt.toISOString(),
        approved_at: approvedAt.toISOString(),
        started_at: approvedAt.toISOString(),
        expires_at: new Date(approvedAt.getTime() + 30 * MINUTE).toISOString(),
        ended_at: exportedAt.toISOString(),
        end_reason: 'expired',
        ended_by: 'hallpass',
        duration_requested: '30m',
        duration_requested_ms: String(30 * MINUTE),
        request_kind: 'access',
        extends_grant_id: '',
        decision_note: '',
        break_glass: 'false',
        reviewed_by: '',
        reviewed_at: '',
      },
    ]);
    // Who took a copy of the trail is on the trail.
    expect(eventTypes(h).at(-1)).toBe('audit.exported');
  });

  it('refuses someone who is not an admin with a clear answer, exporting nothing', async () => {
    await h.command(REQUESTER, 'prod-db 30m from 203.0.113.7 debugging');
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    await h.slack.waitFor(() => privateReplies(h.slack, REQUESTER).length === 1);
    const eventsBefore = eventTypes(h);

    for (const user of [REQUESTER, APPROVER]) {
      const before = h.slack.calls.length;
      await h.command(user, 'audit 30');
      const reply = await replyAfter(h.slack, user, before);
      expect(reply).toMatch(/Only hallpass admins .* may export the audit log, so nothing was exported/);
    }
    expect(h.slack.callsTo('conversations.open')).toHaveLength(0);
    expect(h.slack.callsTo('files.getUploadURLExternal')).toHaveLength(0);
    expect(h.slack.uploads()).toEqual([]);
    expect(eventTypes(h)).toEqual(eventsBefore);
  });

  it('refuses a number of days out of range before asking anyone anything', async () => {
    const before = h.slack.calls.length;
    await h.command(ADMIN, 'audit 0');
    expect(await replyAfter(h.slack, ADMIN, before)).toContain('is not a number of days');
    expect(h.slack.uploads()).toEqual([]);
    expect(eventTypes(h)).not.toContain('audit.exported');
  });
});
