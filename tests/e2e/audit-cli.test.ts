import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ACTION } from '../../src/adapters/slack/ids';
import { AUDIT_EXPORT_FIELDS } from '../../src/app/audit-export';
import {
  APPROVER,
  DEFAULT_POLICY,
  type Harness,
  REQUESTER,
  ROLE_ARN,
  startHarness,
} from '../support/harness';
import { lastRequestId, replyAfter } from '../support/slack-queries';

const ROOT = path.resolve(__dirname, '../..');
const MINUTE = 60_000;
// Each CLI run starts a fresh tsx process.
jest.setTimeout(60_000);

type Run = { status: number | null; stdout: string; stderr: string };

/** `npm run audit -- <args>`, exactly as an operator types it, against `db`. */
function audit(db: string, ...args: string[]): Run {
  const r = spawnSync('npm', ['run', '--silent', 'audit', '--', ...args], {
    cwd: ROOT,
    env: { ...process.env, HALLPASS_DB: db },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

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

const csvObjects = (text: string): Record<string, string>[] => {
  const [header = [], ...rows] = parseCsv(text);
  expect(header).toEqual([...AUDIT_EXPORT_FIELDS]);
  return rows.map((row) => Object.fromEntries(header.map((name, i) => [name, row[i] ?? ''])));
};

async function approve(h: Harness, text: string): Promise<{ requestId: string; grantId: string; at: Date }> {
  const before = h.slack.calls.length;
  await h.command(REQUESTER, text);
  // The requester's answer comes last, once the request is stored and the scheduler re-armed.
  await replyAfter(h.slack, REQUESTER, before);
  const requestId = lastRequestId(h);
  await h.advance(MINUTE);
  const at = h.clock.now();
  await h.click(APPROVER, ACTION.approveRequest, requestId);
  const grant = await h.slack.waitFor(() => {
    const g = h.hallpass.useCases.cardOf(requestId)?.grant;
    return g?.state === 'active' ? g : undefined;
  });
  return { requestId, grantId: grant.id, at };
}

describe('npm run audit: export and verify against the database the bot wrote', () => {
  let h: Harness;
  let dir: string;
  let db: string;
  let policyFile: string;
  const facts: Record<string, string> = {};

  beforeAll(async () => {
    h = await startHarness();
    dir = mkdtempSync(path.join(tmpdir(), 'hallpass-audit-cli-'));
    policyFile = path.join(dir, 'policy.yml');
    writeFileSync(policyFile, DEFAULT_POLICY);

    // 1. A security-group grant, approved after a minute, closed at expiry. Its reason starts with `=`.
    facts['sgRequestedAt'] = h.clock.now().toISOString();
    const sg = await approve(h, 'prod-db 30m from 203.0.113.7 =1+2, checking "replication"');
    await h.advance(30 * MINUTE);
    Object.assign(facts, {
      sgRequest: sg.requestId,
      sgGrant: sg.grantId,
      sgApprovedAt: sg.at.toISOString(),
      sgEndedAt: h.clock.now().toISOString(),
    });

    // 2. A role request nobody decided: it times out, and nothing in the database names its role.
    facts['timedOutRequestedAt'] = h.clock.now().toISOString();
    const before = h.slack.calls.length;
    await h.command(REQUESTER, 'prod-readonly 20m reading logs');
    await replyAfter(h.slack, REQUESTER, before);
    facts['timedOutRequest'] = lastRequestId(h);
    await h.advance(30 * MINUTE);
    expect(h.hallpass.useCases.cardOf(facts['timedOutRequest'])?.request.state).toBe('timed_out');

    // 3. A role grant, still active when the bot stops.
    const role = await approve(h, 'prod-readonly 45m investigating an incident');
    Object.assign(facts, { roleRequest: role.requestId, roleGrant: role.grantId });

    await h.stopBot();
    db = h.dbPath;
  });

  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exports every request of the window as CSV on stdout, field by field', () => {
    const r = audit(db, 'export', '--since', '2026-11-25', '--until', '2026-11-26T00:00:00Z');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const rows = csvObjects(r.stdout);
    expect(rows.map((row) => row['request_id'])).toEqual([
      facts['sgRequest'],
      facts['timedOutRequest'],
      facts['roleRequest'],
    ]);
    const [sg, timedOut, role] = rows;
    expect(sg).toEqual({
      request_id: facts['sgRequest'],
      grant_id: facts['sgGrant'],
      resource_id: 'prod-db',
      kind: 'security-group',
      requester: REQUESTER,
      approvers: APPROVER,
      decided_by: APPROVER,
      address: '203.0.113.7/32',
      role_arn: '',
      // A spreadsheet would run `=1+2…` as a formula: the leading quote keeps it text.
      reason: `'=1+2, checking "replication"`,
      state: 'approved',
      grant_state: 'closed',
      requested_at: facts['sgRequestedAt'],
      approved_at: facts['sgApprovedAt'],
      started_at: facts['sgApprovedAt'],
      expires_at: new Date(Date.parse(facts['sgApprovedAt'] ?? '') + 30 * MINUTE).toISOString(),
      ended_at: facts['sgEndedAt'],
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
    });
    expect(timedOut).toMatchObject({
      grant_id: '',
      resource_id: 'prod-readonly',
      kind: '',
      role_arn: '',
      approvers: '',
      decided_by: 'hallpass',
      state: 'timed_out',
      grant_state: '',
      requested_at: facts['timedOutRequestedAt'],
      approved_at: '',
      duration_requested: '20m',
    });
    expect(role).toMatchObject({
      grant_id: facts['roleGrant'],
      kind: 'aws-role',
      role_arn: ROLE_ARN,
      address: '',
      grant_state: 'active',
      ended_at: '',
      end_reason: '',
      duration_requested: '45m',
    });
  });

  it('fills in what only the policy knows when given --policy, and writes JSON Lines to --out', () => {
    const out = path.join(dir, 'export.jsonl');
    const r = audit(
      db,
      'export',
      '--since',
      '2026-11-25',
      '--format',
      'jsonl',
      '--out',
      out,
      '--policy',
      policyFile,
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`Wrote 3 request(s) from 2026-11-25T00:00:00.000Z to`);
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((o) => Object.keys(o))).toEqual(Array(3).fill([...AUDIT_EXPORT_FIELDS]));
    const [sg, timedOut] = records;
    expect(sg).toMatchObject({
      request_id: facts['sgRequest'],
      approvers: [APPROVER],
      reason: '=1+2, checking "replication"',
      ended_at: facts['sgEndedAt'],
      duration_requested_ms: 1_800_000,
      grant_state: 'closed',
      role_arn: null,
    });
    expect(timedOut).toMatchObject({
      kind: 'aws-role',
      role_arn: ROLE_ARN,
      grant_id: null,
      approved_at: null,
    });
  });

  it('exports only requests created in [since, until)', () => {
    const r = audit(db, 'export', '--since', facts['timedOutRequestedAt'] ?? '', '--until', '2026-11-26');
    expect(r.status).toBe(0);
    expect(csvObjects(r.stdout).map((row) => row['request_id'])).toEqual([
      facts['timedOutRequest'],
      facts['roleRequest'],
    ]);
  });

  it.each([
    ['--since', ['--since', '2026-13-01']],
    ['--since', ['--since', '01/11/2026', '--until', '2026-11-26']],
    ['--until', ['--since', '2026-11-25', '--until', '2026-11-26T10:00:00']],
  ])(
    'refuses a malformed %s date with exit code 2, naming the flag and the accepted forms, writing nothing',
    (flag, args) => {
      const out = path.join(dir, `never-${Math.random().toString(36).slice(2)}.csv`);
      const r = audit(db, 'export', ...args, '--out', out);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`${flag} "${args[args.indexOf(flag) + 1]}" is not a date`);
      expect(r.stderr).toContain('2026-11-01 (midnight UTC) or ISO-8601 with an offset');
      expect(existsSync(out)).toBe(false);
    },
  );

  it('refuses an export without --since, an unknown format and an unknown flag, with exit code 2', () => {
    const noSince = audit(db, 'export', '--until', '2026-11-26');
    expect([noSince.status, noSince.stderr]).toEqual([2, expect.stringContaining('needs --since')]);
    const xml = audit(db, 'export', '--since', '2026-11-25', '--format', 'xml');
    expect([xml.status, xml.stderr]).toEqual([2, expect.stringContaining('--format "xml" is not a format')]);
    const typo = audit(db, 'export', '--sinse', '2026-11-25');
    expect([typo.status, typo.stdout]).toEqual([2, '']);
  });

  it('says clearly that there is no database, and creates none', () => {
    const missing = path.join(dir, 'nowhere', 'hallpass.db');
    for (const args of [['verify'], ['export', '--since', '2026-11-25']]) {
      const r = audit(missing, ...args);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`no database at ${missing}`);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(missing)).toBe(false);
  });

  it('verifies the intact log with exit code 0', () => {
    const events = (() => {
      const d = new Database(db, { readonly: true });
      try {
        return (d.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n;
      } finally {
        d.close();
      }
    })();
    expect(events).toBeGreaterThan(5);
    const r = audit(db, 'verify');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Audit log intact: ${events} event\\(s\\), head [0-9a-f]{64}\\n$`));
  });

  const tamperings: [string, string, (d: Database.Database) => void][] = [
    [
      'edited',
      'event 3 (edited)',
      (d) => d.prepare("UPDATE audit_events SET actor = 'UMALLORY' WHERE seq = 3").run(),
    ],
    ['deleted', 'event 3 (deleted)', (d) => d.prepare('DELETE FROM audit_events WHERE seq = 3').run()],
    [
      'reordered',
      'event 3 (reordered)',
      (d) => {
        // Swap events 3 and 4, everything but their place in the sequence.
        d.exec(`
          UPDATE audit_events SET seq = -3 WHERE seq = 3;
          UPDATE audit_events SET seq = 3 WHERE seq = 4;
          UPDATE audit_events SET seq = 4 WHERE seq = -3;
        `);
      },
    ],
  ];

  it.each(tamperings)(
    'exits 1 and prints the first broken link when an event was %s',
    (_how, where, tamper) => {
      const copy = path.join(dir, `tampered-${_how}.db`);
      copyFileSync(db, copy);
      const d = new Database(copy);
      // What someone with the file does first: the append-only triggers are in the way.
      d.exec('DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;');
      tamper(d);
      d.close();
      const r = audit(copy, 'verify');
      expect(r.status).toBe(1);
      expect(r.stdout).toContain(`Audit log BROKEN: first broken link at ${where}`);
    },
  );
});
