import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ACTION } from '../../src/adapters/slack/ids';
import { AUDIT_EXPORT_FIELDS } from '../../src/app/audit-export-format';
import { type RawRow, RESEAL, sha256Reseal } from '../support/audit-tamper';
import type { Statement } from '../support/bot-database';
import { csvObjects, parseCsv } from '../support/csv';
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

/** `npm run audit -- <args>` with extra environment variables (the audit keys, HALLPASS_POLICY). */
function auditWith(env: Record<string, string>, db: string, ...args: string[]): Run {
  const r = spawnSync('npm', ['run', '--silent', 'audit', '--', ...args], {
    cwd: ROOT,
    // No key and no policy unless the test gives them: the working directory's .env must not decide.
    env: {
      ...process.env,
      HALLPASS_AUDIT_KEY: '',
      HALLPASS_AUDIT_OLD_KEYS: '',
      HALLPASS_POLICY: path.join(tmpdir(), 'no-such-policy.yml'),
      HALLPASS_DB: db,
      ...env,
    },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `npm run audit -- <args>`, exactly as an operator types it, against `db`. */
const audit = (db: string, ...args: string[]): Run => auditWith({}, db, ...args);

/** The export's rows by column, once its header is checked to be the export's fields. */
const exportRows = (text: string): Record<string, string>[] => {
  expect(parseCsv(text)[0]).toEqual([...AUDIT_EXPORT_FIELDS]);
  return csvObjects(text);
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
  const grant = await h.slack.waitFor(async () => {
    const g = (await h.hallpass.useCases.cardOf(requestId))?.grant;
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
    expect((await h.hallpass.useCases.cardOf(facts['timedOutRequest']))?.request.state).toBe('timed_out');

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
    // The export is recorded in the log; without an audit channel the head is printed to keep.
    expect(r.stderr).toMatch(
      /^Recorded the export in the audit log; .*, so keep this head yourself: \d+:[0-9a-f]{64}\.\n$/,
    );
    expect(r.stderr).toContain(
      '; no auditChannel in the policy (none found: give --policy or HALLPASS_POLICY), so keep',
    );
    expect(r.status).toBe(0);
    const rows = exportRows(r.stdout);
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
      // Every field proven by the chain, and the tables agree.
      not_in_chain: '',
      table_differs: '',
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
      // From today's policy, not from the record: said so.
      not_in_chain: ['kind', 'role_arn'],
      table_differs: [],
    });
  });

  it('exports only requests created in [since, until)', () => {
    const r = audit(db, 'export', '--since', facts['timedOutRequestedAt'] ?? '', '--until', '2026-11-26');
    expect(r.status).toBe(0);
    expect(exportRows(r.stdout).map((row) => row['request_id'])).toEqual([
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

  it('says clearly that there is no database, and creates none', async () => {
    // A file in a directory that does not exist, or a database the PostgreSQL server does not have.
    const missing = h.db.absent('hallpass_nowhere');
    for (const args of [['verify'], ['export', '--since', '2026-11-25']]) {
      const r = audit(missing.location, ...args);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`no database at ${missing.location}`);
      expect(r.stdout).toBe('');
    }
    expect(await missing.exists()).toBe(false);
  });

  it('verifies the intact log with exit code 0', async () => {
    const [count] = await h.db.rows<{ n: number }>('SELECT count(*) AS n FROM audit_events');
    const events = count?.n ?? 0;
    expect(events).toBeGreaterThan(5);
    const r = audit(db, 'verify');
    expect(r.status).toBe(0);
    const head = /^Audit log intact: (\d+) event\(s\), head ([0-9a-f]{64})\n/.exec(r.stdout);
    expect(head?.[1]).toBe(String(events));
    expect(r.stdout).toContain(`Head to keep: ${events}:${head?.[2]}\n`);
    // Recorded without HALLPASS_AUDIT_KEY: said plainly.
    expect(r.stdout).toContain(`Note: events 1..${events} are not keyed`);
    expect(r.stdout).toContain('Tables agree: every request and grant row matches the chain (3 request(s)).');
  });

  /**
   * A copy of the bot's database with `statements` applied as someone who can write it would, the
   * append-only triggers out of the way (see `BotDatabase.tamper`). Returns where the copy is.
   */
  async function tampered(name: string, ...statements: Statement[]): Promise<string> {
    const copy = await h.db.copy(`tampered-${name}`);
    await copy.tamper(...statements);
    return copy.location;
  }

  const tamperings: [string, string, Statement[]][] = [
    ['edited', 'event 3 (edited)', ["UPDATE audit_events SET actor = 'UMALLORY' WHERE seq = 3"]],
    ['deleted', 'event 3 (deleted)', ['DELETE FROM audit_events WHERE seq = 3']],
    [
      'reordered',
      'event 3 (reordered)',
      // Swap events 3 and 4, everything but their place in the sequence.
      [
        'UPDATE audit_events SET seq = -3 WHERE seq = 3',
        'UPDATE audit_events SET seq = 3 WHERE seq = 4',
        'UPDATE audit_events SET seq = 4 WHERE seq = -3',
      ],
    ],
  ];

  it.each(tamperings)(
    'exits 1 and prints the first broken link when an event was %s',
    async (how, where, statements) => {
      const copy = await tampered(how, ...statements);
      const r = audit(copy, 'verify');
      expect(r.status).toBe(1);
      expect(r.stdout).toContain(`Audit log BROKEN: first broken link at ${where}`);
    },
  );

  it('searches the record: who had access to prod-db in a window, with exact planned and actual times', () => {
    const r = audit(
      db,
      'search',
      '--resource',
      'prod-db',
      '--from',
      '2026-11-25T12:10Z',
      '--to',
      '2026-11-25T12:20Z',
    );
    expect(r.status).toBe(0);
    const [header, line, ...rest] = r.stdout.split('\n');
    expect(header).toMatch(
      /^request_id\s+grant_id\s+resource\s+requester\s+address_or_role\s+state\s+requested_at\s+started_at\s+expires_at \(planned\)\s+ended_at \(actual\)\s+end_reason\s+ended_by\s+checks$/,
    );
    expect(line?.split(/\s+/)).toEqual([
      facts['sgRequest'],
      facts['sgGrant'],
      'prod-db',
      REQUESTER,
      '203.0.113.7/32',
      'approved/closed',
      facts['sgRequestedAt'],
      facts['sgApprovedAt'],
      new Date(Date.parse(facts['sgApprovedAt'] ?? '') + 30 * MINUTE).toISOString(),
      facts['sgEndedAt'],
      'expired',
      'hallpass',
      'ok',
    ]);
    expect(rest.join('\n')).toMatch(
      /^\n1 request\(s\) match\. Audit chain verified: \d+ event\(s\), head \d+:[0-9a-f]{64}\.\n$/,
    );
    // Access ended as the window began: not in it.
    const after = audit(
      db,
      'search',
      '--resource',
      'prod-db',
      '--from',
      facts['sgEndedAt'] ?? '',
      '--to',
      '2026-11-26',
    );
    expect(after.stdout).toContain('0 request(s) match.');
    const byApprover = audit(db, 'search', '--who', APPROVER, '--format', 'jsonl');
    expect(
      byApprover.stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { request_id: string }).request_id),
    ).toEqual([facts['sgRequest'], facts['roleRequest']]);
    expect(
      audit(db, 'search', '--address', '203.0.113.0/24', '--end-reason', 'expired', '--format', 'csv').stdout,
    ).toContain(facts['sgGrant'] ?? 'missing');
  });

  it.each([
    [
      ['--address', '203.0.113.7/24'],
      '--address "203.0.113.7/24" is not an address or network: its host bits are set; did you mean 203.0.113.0/24?',
    ],
    [['--who', 'alice'], '--who "alice" is not a Slack user id'],
    [
      ['--end-reason', 'closed'],
      '--end-reason "closed" is not an end reason: use expired, revoked, done, failed.',
    ],
    [['--from', '2026-11-25T12:00'], '--from "2026-11-25T12:00" is not a date'],
    [
      ['--from', '2026-11-26', '--to', '2026-11-25'],
      '--to (2026-11-25T00:00:00.000Z) must be later than --from',
    ],
    [['--format', 'xml'], '--format "xml" is not a format: use table, csv or jsonl.'],
  ])('refuses a search with %j, saying why, with exit code 2', (args, expected) => {
    const r = audit(db, 'search', ...args);
    expect([r.status, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toContain(expected);
  });

  const sgRow = (csv: string) => exportRows(csv).find((row) => row['request_id'] === facts['sgRequest']);

  // What changes the export today while `verify` says intact: an UPDATE of a table the chain does not cover.
  const tableEdits: [string, () => string, string, string, () => string, () => string][] = [
    [
      'requester',
      () => `UPDATE requests SET requester_id = 'UMALLORY' WHERE id = '${facts['sgRequest']}'`,
      'requester',
      'requests.requester_id',
      () => '"UMALLORY"',
      () => `"${REQUESTER}"`,
    ],
    [
      'reason',
      () => `UPDATE requests SET reason = 'routine maintenance' WHERE id = '${facts['sgRequest']}'`,
      'reason',
      'requests.reason',
      () => '"routine maintenance"',
      () => '"=1+2, checking \\"replication\\""',
    ],
    [
      'address',
      () =>
        `UPDATE requests SET source_cidr = '198.51.100.0/24', source_prefix = 24 WHERE id = '${facts['sgRequest']}'`,
      'address',
      'requests.source_cidr',
      () => '"198.51.100.0/24"',
      () => '"203.0.113.7/32"',
    ],
    [
      'approver',
      () => `UPDATE approvals SET approver_id = 'UMALLORY' WHERE request_id = '${facts['sgRequest']}'`,
      'approvers',
      'approvals.approver_id',
      () => '["UMALLORY"]',
      () => `["${APPROVER}"]`,
    ],
    [
      'end time',
      () => `UPDATE grants SET ended_at = ended_at - 1200000 WHERE id = '${facts['sgGrant']}'`,
      'ended_at',
      'grants.ended_at',
      () => `"${new Date(Date.parse(facts['sgEndedAt'] ?? '') - 1_200_000).toISOString()}"`,
      () => `"${facts['sgEndedAt']}"`,
    ],
  ];

  it.each(tableEdits)(
    'names a request whose %s was edited in its table, and the export shows the chain’s value, flagged',
    async (_what, sql, field, column, tableValueOf, chainValueOf) => {
      const tableValue = tableValueOf();
      const chainValue = chainValueOf();
      const copy = await tampered(`table-${field}`, sql());
      const v = audit(copy, 'verify');
      expect(v.status).toBe(1);
      // The chain itself is intact: the table is what was changed.
      expect(v.stdout).toContain('Audit log intact:');
      expect(v.stdout).toContain(
        `Table disagrees: request ${facts['sgRequest']} (grant ${facts['sgGrant']}): ${field} is ${tableValue} in the tables (${column}) but ${chainValue} in the audit chain.`,
      );
      const e = audit(copy, 'export', '--since', '2026-11-25', '--no-publish');
      expect(e.status).toBe(1);
      expect(e.stderr).toContain('1 row(s) have database tables that disagree with the audit chain');
      const row = sgRow(e.stdout);
      expect(row?.['table_differs']).toBe(field);
      const chain = JSON.parse(chainValue) as unknown;
      expect(row?.[field]).toBe(
        Array.isArray(chain) ? chain.join(';') : field === 'reason' ? `'${chain}` : chain,
      );
    },
  );

  it('names a request row the chain never recorded, and exports it flagged as not in the chain', async () => {
    const copy = await tampered('inserted-row', [
      `INSERT INTO requests (id, resource_id, requester_id, duration_ms, reason, state, created_at, approval_deadline, kind)
       VALUES ('req_forged', 'prod-db', 'UMALLORY', 60000, 'looks legit', 'denied', ?, ?, 'access')`,
      [Date.parse('2026-11-25T13:00:00Z'), Date.parse('2026-11-25T13:30:00Z')],
    ]);
    const v = audit(copy, 'verify');
    expect(v.status).toBe(1);
    expect(v.stdout).toContain(
      'Table disagrees: request req_forged: in the requests table but never recorded in the audit chain (the row was inserted).',
    );
    const e = audit(copy, 'export', '--since', '2026-11-25', '--no-publish');
    expect(exportRows(e.stdout).find((row) => row['request_id'] === 'req_forged')?.['not_in_chain']).toBe(
      '*',
    );
  });

  it('names an event whose details repeat a key, so a reader could be shown a forged reason', async () => {
    const [first] = await h.db.rows<{ details: string }>('SELECT details FROM audit_events WHERE seq = 1');
    const forged = first?.details.replace('"reason":', '"reason":"routine maintenance","reason":');
    expect(forged).toContain('"reason":"routine maintenance","reason":');
    const copy = await tampered('duplicate-key', [
      'UPDATE audit_events SET details = ? WHERE seq = 1',
      [forged],
    ]);
    const r = audit(copy, 'verify');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('Audit log BROKEN: first broken link at event 1 (edited)');
    expect(r.stdout).toContain('repeat the key "reason"');
  });

  it('proves nothing was cut or replaced up to a published head, and fails clearly when it was', async () => {
    const first = audit(db, 'verify');
    const head = /Head to keep: (\d+:[0-9a-f]{64})/.exec(first.stdout)?.[1] ?? '';
    const count = Number(head.split(':')[0]);
    const holds = audit(db, 'verify', '--head', head);
    expect(holds.status).toBe(0);
    expect(holds.stdout).toContain(
      `Published head ${head} holds: nothing up to event ${count} was removed or changed.`,
    );

    // The tail cut and the counter reset: still a chain, but shorter than the head. The counter `seq`
    // is drawn from is each engine's own: SQLite's sqlite_sequence, PostgreSQL's identity sequence.
    const resetCounter: Statement =
      h.db.engine === 'sqlite'
        ? ["UPDATE sqlite_sequence SET seq = ? WHERE name = 'audit_events'", [count - 2]]
        : ["SELECT setval(pg_get_serial_sequence('audit_events', 'seq'), ?)", [count - 2]];
    const cut = await tampered(
      'truncated',
      ['DELETE FROM audit_events WHERE seq > ?', [count - 2]],
      resetCounter,
    );
    expect(audit(cut, 'verify').status).toBe(0);
    const shorter = audit(cut, 'verify', '--head', head);
    expect(shorter.status).toBe(1);
    expect(shorter.stdout).toContain(
      `does NOT hold: the log ends at event ${count - 2}, but the published head names event ${count}: events ${count - 1}..${count} were removed.`,
    );
    // Then appended to again (the CLI records its export): the count is back, the seal is not.
    for (let i = 0; i < 2; i++) audit(cut, 'export', '--since', '2026-11-25');
    const refilled = audit(cut, 'verify', '--head', head);
    expect(refilled.status).toBe(1);
    expect(refilled.stdout).toContain(`was changed or replaced since that head was published`);

    const bad = audit(db, 'verify', '--head', 'latest');
    expect([bad.status, bad.stderr]).toEqual([2, expect.stringContaining('--head "latest" is not a head')]);
  });
});

describe('npm run audit against a keyed log, and the head an export publishes', () => {
  const KEY = `k2026:${randomBytes(32).toString('base64')}`;
  const AUDIT_CHANNEL = 'C0AUDIT01';
  const POLICY_WITH_CHANNEL = DEFAULT_POLICY.replace(
    'admins: ["@security"]',
    `admins: ["@security"]\nauditChannel: ${AUDIT_CHANNEL}`,
  );
  let h: Harness;
  let dir: string;
  let policyFile: string;

  beforeAll(async () => {
    h = await startHarness({ policy: POLICY_WITH_CHANNEL, env: { HALLPASS_AUDIT_KEY: KEY } });
    dir = mkdtempSync(path.join(tmpdir(), 'hallpass-audit-keyed-'));
    policyFile = path.join(dir, 'policy.yml');
    writeFileSync(policyFile, POLICY_WITH_CHANNEL);
    await approve(h, 'prod-db 30m from 203.0.113.7 keyed evidence');
    await h.advance(30 * MINUTE);
    await h.stopBot();
  });

  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies the keyed log only with the key, and says which key sealed it', () => {
    const keyed = auditWith({ HALLPASS_AUDIT_KEY: KEY }, h.dbPath, 'verify');
    expect(keyed.status).toBe(0);
    expect(keyed.stdout).toContain('Sealed with audit key "k2026" (HMAC-SHA-256) from event 1 on.');
    expect(keyed.stdout).not.toContain('not keyed');
    const without = audit(h.dbPath, 'verify');
    expect(without.status).toBe(2);
    expect(without.stderr).toContain(
      'the audit log is sealed with audit key "k2026": set HALLPASS_AUDIT_KEY',
    );
    const wrong = auditWith(
      { HALLPASS_AUDIT_KEY: `k2026:${randomBytes(32).toString('base64')}` },
      h.dbPath,
      'verify',
    );
    expect(wrong.status).toBe(1);
    expect(wrong.stdout).toContain('Audit log BROKEN: first broken link at event 1 (edited)');
    const malformed = auditWith({ HALLPASS_AUDIT_KEY: 'not-a-key' }, h.dbPath, 'verify');
    expect(malformed.status).toBe(2);
    expect(malformed.stderr).toContain('HALLPASS_AUDIT_KEY must be <id>:<base64');
    expect(malformed.stderr).not.toContain('not-a-key');
  });

  it('catches an event edited and every later seal recomputed with SHA-256', async () => {
    const copy = await h.db.copy('recomputed');
    await copy.tamper("UPDATE audit_events SET actor = 'UMALLORY' WHERE seq = 2");
    // The attacker's best effort without the key (see `resealWithSha256` in audit-tamper.ts).
    const rows = await copy.rows<RawRow>('SELECT * FROM audit_events ORDER BY seq');
    await copy.tamper(...sha256Reseal(rows, 2, true).map((params): Statement => [RESEAL, params]));
    const r = auditWith({ HALLPASS_AUDIT_KEY: KEY }, copy.location, 'verify');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('first broken link at event 2 (edited)');
  });

  it('records a CLI export in the log and queues its head, which the bot posts in the audit channel', async () => {
    const r = auditWith(
      { HALLPASS_AUDIT_KEY: KEY, HALLPASS_POLICY: policyFile },
      h.dbPath,
      'export',
      '--since',
      '2026-11-25',
    );
    expect(r.status).toBe(0);
    const queued = /queued head (\d+):([0-9a-f]{64}) for the audit channel C0AUDIT01/.exec(r.stderr);
    expect(queued).not.toBeNull();
    // The next start of the bot sends what the CLI queued (a running bot within its poll interval).
    const next = await h.restart({ env: { HALLPASS_AUDIT_KEY: KEY } });
    try {
      // The CLI queued it at the machine's time; the bot's clock is a fake one behind it: catch up.
      await next.advance(Math.max(0, Date.now() - next.clock.now().getTime()) + MINUTE);
      const posted = await next.slack.waitFor(() =>
        next.slack
          .messages(AUDIT_CHANNEL)
          .find((m) => m.text.includes(`event ${queued?.[1]}, ${queued?.[2]}`)),
      );
      expect(JSON.stringify(posted.blocks)).toContain('published with an audit export by cli:');
      await next.stopBot();
      const v = auditWith(
        { HALLPASS_AUDIT_KEY: KEY },
        h.dbPath,
        'verify',
        '--head',
        `${queued?.[1]}:${queued?.[2]}`,
      );
      expect(v.status).toBe(0);
      expect(v.stdout).toContain('holds: nothing up to event');
    } finally {
      await next.stopBot();
    }
  });
});
