import { randomBytes } from 'node:crypto';
import { ACTION } from '../../src/adapters/slack/ids';
import { AUDIT_EXPORT_FIELDS } from '../../src/app/audit-export-format';
import { csvObjects, parseCsv } from '../support/csv';
import { FakeClock } from '../support/fake-clock';
import { APPROVER, DEFAULT_POLICY, type Harness, REQUESTER, startHarness } from '../support/harness';
import {
  approvalPosts,
  lastRequestId,
  messageText,
  privateReplies,
  replyAfter,
} from '../support/slack-queries';

const MINUTE = 60_000;
/** In @security, the policy's admins. */
const ADMIN = 'UADMIN1';

/** audit_events types, read from the bot's database. */
async function eventTypes(h: Harness): Promise<string[]> {
  return (await h.db.rows<{ type: string }>('SELECT type FROM audit_events ORDER BY seq')).map((r) => r.type);
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
    const grant = await h.slack.waitFor(async () => {
      const g = (await h.hallpass.useCases.cardOf(requestId))?.grant;
      return g?.state === 'active' ? g : undefined;
    });
    await h.advance(30 * MINUTE);
    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.state).toBe('closed');
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
        not_in_chain: '',
        table_differs: '',
      },
    ]);
    // Who took a copy of the trail is on the trail.
    expect((await eventTypes(h)).at(-1)).toBe('audit.exported');
  });

  it('refuses someone who is not an admin with a clear answer, exporting nothing', async () => {
    await h.command(REQUESTER, 'prod-db 30m from 203.0.113.7 debugging');
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    await h.slack.waitFor(() => privateReplies(h.slack, REQUESTER).length === 1);
    const eventsBefore = await eventTypes(h);

    for (const user of [REQUESTER, APPROVER]) {
      const before = h.slack.calls.length;
      await h.command(user, 'audit 30');
      const reply = await replyAfter(h.slack, user, before);
      expect(reply).toMatch(/Only hallpass admins .* may export the audit log, so nothing was exported/);
    }
    expect(h.slack.callsTo('conversations.open')).toHaveLength(0);
    expect(h.slack.callsTo('files.getUploadURLExternal')).toHaveLength(0);
    expect(h.slack.uploads()).toEqual([]);
    expect(await eventTypes(h)).toEqual(eventsBefore);
  });

  it('refuses a number of days out of range before asking anyone anything', async () => {
    const before = h.slack.calls.length;
    await h.command(ADMIN, 'audit 0');
    expect(await replyAfter(h.slack, ADMIN, before)).toContain('is not a number of days');
    expect(h.slack.uploads()).toEqual([]);
    expect(await eventTypes(h)).not.toContain('audit.exported');
  });
});

const AUDIT_CHANNEL = 'C0AUDIT01';
const WITH_AUDIT_CHANNEL = DEFAULT_POLICY.replace(
  'admins: ["@security"]',
  `admins: ["@security"]\nauditChannel: ${AUDIT_CHANNEL}`,
);
const DAY = 24 * 60 * MINUTE;

/** The audit channel's head notices, oldest first, as `{ count, hash, text }`. */
function heads(h: Harness): { count: number; hash: string; text: string }[] {
  return h.slack.messages(AUDIT_CHANNEL).flatMap((m) => {
    const found = /hallpass audit head: event (\d+), ([0-9a-f]{64})/.exec(m.text);
    return found === null ? [] : [{ count: Number(found[1]), hash: found[2] ?? '', text: messageText(m) }];
  });
}

/** The seal of event `seq`, read from the bot's database. */
async function sealOf(h: Harness, seq: number): Promise<string | undefined> {
  const [row] = await h.db.rows<{ hash: string }>('SELECT hash FROM audit_events WHERE seq = ?', [seq]);
  return row?.hash;
}

describe('the audit head, published in the audit channel', () => {
  const KEY = `k1:${randomBytes(32).toString('base64')}`;
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ policy: WITH_AUDIT_CHANNEL, env: { HALLPASS_AUDIT_KEY: KEY } });
  });
  afterEach(async () => {
    await h.close();
  });

  it('posts the head at start-up and then daily, each the seal of the event before its own record', async () => {
    await h.command(REQUESTER, 'prod-db 30m from 203.0.113.7 debugging');
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    const [first] = heads(h);
    expect(first).toMatchObject({ count: 0, hash: '0'.repeat(64) });
    expect(first?.text).toContain('scheduled publication');

    await h.advance(DAY);
    const second = heads(h)[1];
    expect(second).toBeDefined();
    // What was posted is exactly the stored seal of that event, and the publication is on the record.
    expect(second?.hash).toBe(await sealOf(h, second?.count ?? 0));
    expect((await eventTypes(h))[second?.count ?? 0]).toBe('audit.head_published');
    expect(second?.text).toContain('HMAC-SHA-256 under audit key k1');
    expect(second?.text).toContain(`npm run audit -- verify --head ${second?.count}:${second?.hash}`);
    expect(second?.text).toContain('The chain verified');
    await h.advance(DAY - MINUTE);
    expect(heads(h)).toHaveLength(2);
    await h.advance(MINUTE);
    expect(heads(h)).toHaveLength(3);
    // A restart does not postpone the next one: it is due a day after the last, as the log says.
    await h.advance(12 * 60 * MINUTE);
    const next = await h.restart({ env: { HALLPASS_AUDIT_KEY: KEY } });
    expect(heads(next)).toHaveLength(3);
    await next.advance(12 * 60 * MINUTE);
    expect(heads(next)).toHaveLength(4);
    await next.stopBot();
  });

  it('posts the head with every /access audit export and names it in the admin’s file message', async () => {
    await h.advance(MINUTE);
    const before = heads(h).length;
    await h.command(ADMIN, 'audit 1');
    await h.slack.waitFor(() => heads(h).length === before + 1);
    const head = heads(h).at(-1);
    expect(head?.text).toContain(`published with an audit export by <@${ADMIN}>`);
    // The head covers the export's own record.
    expect((await eventTypes(h))[(head?.count ?? 0) - 1]).toBe('audit.exported');
    expect(head?.hash).toBe(await sealOf(h, head?.count ?? 0));
    const [upload] = h.slack.uploads();
    expect(upload?.initialComment).toContain(
      `Head published in the audit channel: \`${head?.count}:${head?.hash}\``,
    );
    expect(upload?.initialComment).toContain('verified');
  });

  it('says in the audit channel when the tables disagree with the chain', async () => {
    const requestedAt = h.clock.now();
    await h.command(REQUESTER, 'prod-db 30m from 203.0.113.7 debugging');
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    await h.db.tamper([
      "UPDATE requests SET reason = 'nothing to see' WHERE created_at = ?",
      [requestedAt.getTime()],
    ]);
    await h.advance(DAY);
    expect(heads(h).at(-1)?.text).toContain('1 request(s) in the database tables disagree with the chain');
    // Start-up says so too, naming the row, and runs on.
    const next = await h.restart({ env: { HALLPASS_AUDIT_KEY: KEY } });
    const logged = next.logger.lines.filter((l) => l.msg === 'the tables disagree with the audit chain');
    expect(logged.map((l) => l.fields['problem'])).toEqual([
      expect.stringMatching(
        /reason is "nothing to see" in the tables \(requests.reason\) but "debugging" in the audit chain/,
      ),
    ]);
    await next.stopBot();
  });
});

describe('start-up verifies the audit log', () => {
  const KEY = `k1:${randomBytes(32).toString('base64')}`;
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ env: { HALLPASS_AUDIT_KEY: KEY } });
    await h.command(REQUESTER, 'prod-db 30m from 203.0.113.7 debugging');
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    await h.click(APPROVER, ACTION.approveRequest, lastRequestId(h));
    await h.stopBot();
  });
  afterEach(async () => {
    await h.close();
  });

  /** Changes event `seq` the way someone who can write the database would (the triggers out of the way). */
  const editEvent = (seq: number, actor: string): Promise<void> =>
    h.db.tamper(['UPDATE audit_events SET actor = ? WHERE seq = ?', [actor, seq]]);

  it('refuses to run on a log it cannot verify, naming the break and the way out', async () => {
    await editEvent(2, 'UMALLORY');
    await expect(h.restart({ env: { HALLPASS_AUDIT_KEY: KEY } })).rejects.toThrow(
      /the audit log does not verify: event 2 \(edited\): event 2 was changed.*set HALLPASS_AUDIT_ACCEPT_BROKEN=2/,
    );
  });

  it('refuses to run without the key once the log is keyed, and with a key that does not verify it', async () => {
    await expect(h.restart({ env: {} })).rejects.toThrow(
      /sealed with audit key "k1", but HALLPASS_AUDIT_KEY is not set/,
    );
    await expect(
      h.restart({ env: { HALLPASS_AUDIT_KEY: `k1:${randomBytes(32).toString('base64')}` } }),
    ).rejects.toThrow(/event 1 \(edited\)/);
  });

  it('accepts exactly the named break when told to, on the record, and no later one', async () => {
    await editEvent(2, 'UMALLORY');
    await expect(
      h.restart({ env: { HALLPASS_AUDIT_KEY: KEY, HALLPASS_AUDIT_ACCEPT_BROKEN: '3' } }),
    ).rejects.toThrow(/HALLPASS_AUDIT_ACCEPT_BROKEN=3 names another event, so it does not apply/);
    const next = await h.restart({ env: { HALLPASS_AUDIT_KEY: KEY, HALLPASS_AUDIT_ACCEPT_BROKEN: '2' } });
    expect(await eventTypes(next)).toContain('audit.break_accepted');
    expect(next.logger.lines.some((l) => l.msg.includes('accepted a break in the audit log'))).toBe(true);
    await next.stopBot();
    // Accepted once, on the record: the setting is no longer needed …
    const again = await h.restart({ env: { HALLPASS_AUDIT_KEY: KEY } });
    await again.stopBot();
    // … a second change at the same place is not accepted again …
    const original = await sealOf(h, 2);
    await h.db.tamper(`UPDATE audit_events SET hash = '${'e'.repeat(64)}' WHERE seq = 2`);
    await expect(
      h.restart({ env: { HALLPASS_AUDIT_KEY: KEY, HALLPASS_AUDIT_ACCEPT_BROKEN: '2' } }),
    ).rejects.toThrow(/breaks at event 2 again .* A break there was already accepted/);
    await h.db.tamper(['UPDATE audit_events SET hash = ? WHERE seq = 2', [original]]);
    // … and a later break is refused, the setting or not.
    await editEvent(4, 'UMALLORY');
    await expect(
      h.restart({ env: { HALLPASS_AUDIT_KEY: KEY, HALLPASS_AUDIT_ACCEPT_BROKEN: '2' } }),
    ).rejects.toThrow(/event 4 \(edited\)/);
  });

  it('warns plainly when there is no key or no audit channel', async () => {
    const plain = await startHarness();
    try {
      const warnings = plain.logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
      expect(warnings).toEqual(
        expect.arrayContaining([
          expect.stringContaining(
            'HALLPASS_AUDIT_KEY is not set: the audit log is sealed with plain SHA-256',
          ),
          expect.stringContaining('the policy names no auditChannel'),
        ]),
      );
      const verified = plain.logger.lines.find((l) => l.msg === 'audit log verified');
      expect(verified?.fields).toMatchObject({ events: 0, unkeyed: 0 });
      // The tables' check against the chain ran once it served, apart.
      const tables = plain.logger.lines.find((l) => l.msg === 'audit tables checked against the chain');
      expect(tables?.fields).toMatchObject({ tablesDisagree: 0 });
    } finally {
      await plain.close();
    }
  });
});

describe('/access audit search', () => {
  let h: Harness;
  let first: { requestId: string; grantId: string; startedAt: Date };
  let second: { requestId: string; grantId: string; startedAt: Date };
  beforeAll(async () => {
    h = await startHarness({ clock: new FakeClock('2026-11-14T01:30:00.000Z') });
    // 01:30 → 02:00 (expires), then 02:45 → revoked at 02:50, then a request cancelled at 02:55.
    first = await grant(h, 'prod-db 30m from 203.0.113.7 nightly vacuum');
    await h.advance(30 * MINUTE);
    await h.advance(45 * MINUTE);
    second = await grant(h, 'prod-db 1h from 198.51.100.4 incident 4521');
    await h.advance(5 * MINUTE);
    await h.command(REQUESTER, `revoke ${second.grantId}`);
    await h.advance(5 * MINUTE);
    const before = h.slack.calls.length;
    await h.command(REQUESTER, 'prod-db 30m from 203.0.113.9 one more look');
    await replyAfter(h.slack, REQUESTER, before);
    await h.command(REQUESTER, `cancel ${lastRequestId(h)}`);
  });
  afterAll(async () => {
    await h.close();
  });

  async function grant(hh: Harness, text: string) {
    const before = hh.slack.calls.length;
    await hh.command(REQUESTER, text);
    await replyAfter(hh.slack, REQUESTER, before);
    const requestId = lastRequestId(hh);
    const startedAt = hh.clock.now();
    await hh.click(APPROVER, ACTION.approveRequest, requestId);
    const g = await hh.slack.waitFor(async () => (await hh.hallpass.useCases.cardOf(requestId))?.grant);
    return { requestId, grantId: g.id, startedAt };
  }

  async function search(user: string, text: string): Promise<string> {
    // One person may send ten commands a minute.
    await h.advance(10_000);
    const before = h.slack.calls.length;
    await h.command(user, `audit search ${text}`);
    return replyAfter(h.slack, user, before);
  }

  it('answers who had access to prod-db between 02:00 and 03:00 on the 14th, with exact planned and actual times', async () => {
    const reply = await search(ADMIN, 'resource:prod-db from:2026-11-14T02:00Z to:2026-11-14T03:00Z');
    // The first grant ended at 02:00 exactly: [01:30, 02:00) does not overlap [02:00, 03:00).
    expect(reply).not.toContain(first.grantId);
    expect(reply).toContain(second.grantId);
    expect(reply).toContain(
      `started \`2026-11-14T02:45:00.000Z\`, planned end \`2026-11-14T03:45:00.000Z\`, ended \`2026-11-14T02:50:00.000Z\` (revoked by <@${REQUESTER}>)`,
    );
    // The cancelled request was made in the window: listed, without access.
    expect(reply).toMatch(/cancelled, asked `2026-11-14T02:55:00.000Z`, no access/);
    expect(reply).toContain('Checked against the audit chain');
    const wider = await search(ADMIN, 'resource:prod-db from:2026-11-14T01:59Z to:2026-11-14T02:01Z');
    expect(wider).toContain(first.grantId);
    expect(wider).toContain('ended `2026-11-14T02:00:00.000Z` (expired by hallpass)');
  });

  it('filters by person, address and end reason', async () => {
    const byAddress = await search(ADMIN, 'address:198.51.100.0/24');
    expect(byAddress).toContain(second.grantId);
    expect(byAddress).not.toContain(first.grantId);
    const wide = await search(ADMIN, 'address:203.0.113.0/24');
    expect(wide).toContain(first.grantId);
    expect(wide).not.toContain(second.grantId);
    const revoked = await search(ADMIN, 'end:revoked');
    expect(revoked).toContain('*1 request(s)*');
    expect(revoked).toContain(second.grantId);
    // The approver approved the two grants; the cancelled request was never theirs.
    const approver = await search(ADMIN, `who:<@${APPROVER}|approver>`);
    expect(approver).toContain('*2 request(s)*');
    expect(await search(ADMIN, `who:${REQUESTER}`)).toContain('*3 request(s)*');
    const handle = await search(ADMIN, `who:@${APPROVER.toLowerCase()} end:expired`);
    expect(handle).toContain(first.grantId);
    expect(handle).toContain('*1 request(s)*');
    expect(await search(ADMIN, 'who:@nobody-here')).toContain('No one in this workspace goes by');
    // Searches are on the record too.
    expect(await eventTypes(h)).toContain('audit.searched');
  });

  it.each([
    ['colour:blue', 'is not a search filter'],
    ['resource:prod-db resource:staging-db', 'is given twice'],
    ['from:yesterday', 'is not a time for `from:`'],
    ['from:2026-11-14T03:00Z to:2026-11-14T02:00Z', 'must be later than'],
    ['address:203.0.113.7/24', 'has host bits set: search for the network `203.0.113.0/24`'],
    ['address:example.com', 'is not an address to search for'],
    ['end:closed', 'is not a way a grant ends'],
    ['who:alice', 'is not a person to search for'],
    ['resource:', 'needs a value after the colon'],
  ])('answers %s with a specific error', async (filters, expected) => {
    expect(await search(ADMIN, filters)).toContain(expected);
  });

  it('refuses someone who is not an admin, reading nothing', async () => {
    const before = (await eventTypes(h)).length;
    expect(await search(REQUESTER, 'resource:prod-db')).toMatch(/Only hallpass admins/);
    expect(await eventTypes(h)).toHaveLength(before);
  });

  it('sends a long answer as a file by direct message', async () => {
    for (let i = 0; i < 10; i++) {
      await h.advance(10_000);
      const before = h.slack.calls.length;
      await h.command(REQUESTER, `prod-db 30m from 203.0.113.${20 + i} batch ${i}`);
      await replyAfter(h.slack, REQUESTER, before);
    }
    const uploads = h.slack.uploads().length;
    const reply = await search(ADMIN, 'resource:prod-db');
    expect(reply).toContain('too many to list here');
    const upload = await h.slack.waitFor(() => h.slack.uploads()[uploads]);
    expect(upload.filename).toMatch(/^hallpass-audit-search-.*\.csv$/);
    expect(csvObjects(upload.content?.toString('utf8') ?? '')).toHaveLength(13);
  });
});
