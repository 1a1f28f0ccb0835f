import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ACTION } from '../../src/adapters/slack/ids';
import {
  APPROVER,
  BOT_TOKEN,
  CHANNEL,
  type Harness,
  OUTSIDER,
  REQUESTER,
  REQUESTER_EMAIL,
  ROLE_ARN,
  SIGNING_SECRET,
  startHarness,
} from '../support/harness';
import {
  allText,
  approvalPosts,
  dmsTo,
  lastReply,
  lastRequestId,
  replyAfter,
  threadPosts,
} from '../support/slack-queries';

const MINUTE = 60_000;

async function approvedRole(h: Harness, text: string): Promise<{ requestId: string; grantId: string }> {
  const before = approvalPosts(h.slack).length;
  await h.command(REQUESTER, text);
  await h.slack.waitFor(() => approvalPosts(h.slack).length > before);
  const requestId = lastRequestId(h);
  await h.click(APPROVER, ACTION.approveRequest, requestId);
  const grant = await h.slack.waitFor(async () => {
    const g = (await h.hallpass.useCases.cardOf(requestId))?.grant;
    return g?.state === 'active' &&
      dmsTo(h.slack, REQUESTER).some((c) => allText(c).includes('AWS_SESSION_TOKEN'))
      ? g
      : undefined;
  });
  return { requestId, grantId: grant.id };
}

const stsCalls = (h: Harness, action: string) => h.sts.calls.filter((c) => c.action === action);

/** The one inline policy per role that lists its revoked sessions. */
const LIST = 'hallpass-revoked-sessions';
const ADMIN = 'UADMIN1';

/** Asks for a role grant as `user` and has it approved; resolves once it is active (credentials sent). */
async function activeRoleGrant(h: Harness, user: string, text: string): Promise<string> {
  const before = approvalPosts(h.slack).length;
  await h.command(user, text);
  await h.slack.waitFor(() => approvalPosts(h.slack).length > before);
  const requestId = lastRequestId(h);
  await h.click(APPROVER, ACTION.approveRequest, requestId);
  const grant = await h.slack.waitFor(async () => {
    const g = (await h.hallpass.useCases.cardOf(requestId))?.grant;
    return g?.state === 'active' ? g : undefined;
  });
  return grant.id;
}

/** The `aws:userid` values the role's list names now (empty when there is no list). */
function listed(h: Harness): string[] {
  const doc = h.sts.rolePolicies(ROLE_ARN)[LIST] as
    | { Statement: { Condition: { StringLike: { 'aws:userid': string[] } } }[] }
    | undefined;
  return doc?.Statement[0]?.Condition.StringLike['aws:userid'] ?? [];
}

/** The role_sessions row of a grant, read from the database. */
async function sessionRow(
  h: Harness,
  grantId: string,
): Promise<{ denied_at: number | null; deny_policy_name: string | null } | undefined> {
  const [row] = await h.db.rows<{ denied_at: number | null; deny_policy_name: string | null }>(
    'SELECT denied_at, deny_policy_name FROM role_sessions WHERE grant_id = ?',
    [grantId],
  );
  return row;
}

/**
 * Everything the bot's database holds, as text to search. On SQLite the bytes of its files, the WAL and
 * pages freed by a delete included. A PostgreSQL server's files are not the test's to read: there, every
 * row of every table in every schema, as the server prints it.
 */
async function storedText(h: Harness): Promise<string> {
  if (h.db.engine === 'sqlite') {
    const dbDir = path.dirname(h.dbPath);
    return readdirSync(dbDir)
      .map((f) => readFileSync(path.join(dbDir, f)).toString('latin1'))
      .join('\n');
  }
  const tables = await h.db.rows<{ name: string }>(
    `SELECT format('%I.%I', table_schema, table_name) AS name FROM information_schema.tables
     WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`,
  );
  const rows: string[] = [];
  for (const { name } of tables) {
    rows.push(
      ...(await h.db.rows<{ row: string }>(`SELECT t::text AS row FROM ${name} t`)).map((r) => r.row),
    );
  }
  return rows.join('\n');
}

/** A policy someone else put on the role, of exactly `chars` characters as IAM counts them. */
function otherPolicyOf(chars: number): string {
  const doc = (n: number) =>
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'Operators',
          Effect: 'Allow',
          Action: 's3:GetObject',
          Resource: `arn:aws:s3:::${'b'.repeat(n)}/*`,
        },
      ],
    });
  return doc(chars - doc(0).length);
}

describe('aws-role resources: STS sessions bound to the person', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('assumes the role as the requester and sends the credentials to them alone', async () => {
    const { requestId, grantId } = await approvedRole(h, 'prod-readonly 30m reading prod logs');

    const [call] = stsCalls(h, 'AssumeRole');
    expect(call?.params).toMatchObject({
      RoleArn: ROLE_ARN,
      RoleSessionName: grantId,
      SourceIdentity: REQUESTER_EMAIL,
      DurationSeconds: String(30 * 60),
      'Tags.member.1.Key': 'hallpass:grant-id',
      'Tags.member.1.Value': grantId,
      'Tags.member.2.Key': 'hallpass:requester',
      'Tags.member.2.Value': REQUESTER,
    });
    const [session] = h.sts.sessions;
    const credentialsDm = dmsTo(h.slack, REQUESTER).find((c) => allText(c).includes('AWS_SESSION_TOKEN'));
    const dmText = allText(credentialsDm);
    expect(dmText).toContain(`export AWS_ACCESS_KEY_ID=${session?.accessKeyId}`);
    expect(dmText).toContain(`export AWS_SECRET_ACCESS_KEY=${session?.secretAccessKey}`);
    expect(dmText).toContain(`export AWS_SESSION_TOKEN=${session?.sessionToken}`);
    const expiresAt = (await h.hallpass.useCases.cardOf(requestId))?.grant?.expiresAt;
    expect(dmText).toContain(expiresAt?.toISOString());
    // The fallback text (notifications, lock screens) carries no secret.
    expect(String(credentialsDm?.args['text'])).not.toContain(session?.secretAccessKey);

    // The channel sees only that the session started, for whom, for which role, until when.
    await h.slack.waitFor(() => threadPosts(h.slack).some((c) => allText(c).includes(ROLE_ARN)));
    const started = threadPosts(h.slack).find((c) => allText(c).includes(ROLE_ARN));
    expect(allText(started)).toContain(`<@${REQUESTER}>`);
    expect(allText(started)).toContain(expiresAt?.toISOString());

    // A session exactly as long as the grant ends by itself: no deny policy needed.
    await h.advance(30 * MINUTE);
    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.state).toBe('closed');
    expect(stsCalls(h, 'PutRolePolicy')).toHaveLength(0);
  });

  it('cuts a grant shorter than 900 s off with the role’s deny list, and deletes the list when the session expires', async () => {
    const { requestId } = await approvedRole(h, 'prod-readonly 5m quick check');
    expect(stsCalls(h, 'AssumeRole')[0]?.params['DurationSeconds']).toBe('900');
    const [session] = h.sts.sessions;

    await h.advance(5 * MINUTE);
    const policies = h.sts.rolePolicies(ROLE_ARN);
    expect(Object.keys(policies)).toEqual([LIST]);
    expect(policies[LIST]).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'HallpassRevokedSessions',
          Effect: 'Deny',
          Action: '*',
          Resource: '*',
          Condition: { StringLike: { 'aws:userid': [session?.assumedRoleId] } },
        },
      ],
    });
    expect(h.sts.sessionDenied(session?.assumedRoleId ?? '')).toBe(true);

    // The session's own expiry (15 minutes after it started): the policy is no longer needed.
    await h.advance(10 * MINUTE - 1);
    expect(Object.keys(h.sts.rolePolicies(ROLE_ARN))).toHaveLength(1);
    await h.advance(1);
    expect(h.sts.rolePolicies(ROLE_ARN)).toEqual({});
    const trail = await h.hallpass.useCases.auditTrail(requestId);
    expect(trail.map((e) => e.type).slice(-3)).toEqual([
      'grant.closing',
      'grant.closed',
      'grant.deny_removed',
    ]);
    expect(trail.find((e) => e.type === 'grant.closed')?.details).toMatchObject({
      denyPolicy: LIST,
      deniedUntil: session?.expiration.toISOString(),
    });
  });

  it('revoke cuts a running session at once and the deny policy is cleaned up after the session would have ended', async () => {
    const { grantId } = await approvedRole(h, 'prod-readonly 30m investigating');
    await h.advance(10 * MINUTE);
    await h.command(REQUESTER, `revoke ${grantId}`);
    await h.slack.waitFor(() => stsCalls(h, 'PutRolePolicy').length === 1 || undefined);
    const grant = (await h.hallpass.useCases.overview()).active.find((a) => a.grant.id === grantId);
    expect(grant).toBeUndefined();
    expect(h.sts.sessionDenied(h.sts.sessions[0]?.assumedRoleId ?? '')).toBe(true);
    await h.slack.waitFor(() => /closed/.test(lastReply(h.slack, REQUESTER)) || undefined);
    await h.slack.waitFor(() => threadPosts(h.slack).some((c) => allText(c).includes('revoked')));

    await h.advance(20 * MINUTE);
    expect(h.sts.rolePolicies(ROLE_ARN)).toEqual({});
    expect(stsCalls(h, 'DeleteRolePolicy')).toHaveLength(1);
  });

  it('refuses a duration longer than the role’s MaxSessionDuration with a clear answer, changing nothing', async () => {
    await h.command(REQUESTER, 'prod-readonly 90m long read');
    const text = await h.slack.waitFor(() => lastReply(h.slack, REQUESTER) || undefined);
    expect(text).toContain('1h');
    expect(text).toMatch(/role/i);
    expect(approvalPosts(h.slack)).toHaveLength(0);
    expect(stsCalls(h, 'AssumeRole')).toHaveLength(0);
  });

  it('marks the request failed in plain words when AssumeRole is denied, and sends no credentials', async () => {
    h.sts.failNext('sts', 'AssumeRole', 'AccessDenied', 403);
    await h.command(REQUESTER, 'prod-readonly 30m denied by trust policy');
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    const requestId = lastRequestId(h);
    await h.click(APPROVER, ACTION.approveRequest, requestId);
    await h.slack.waitFor(() => dmsTo(h.slack, REQUESTER).some((c) => /failed/.test(allText(c))));
    expect((await h.hallpass.useCases.cardOf(requestId))?.request.state).toBe('failed');
    expect(allText(dmsTo(h.slack, REQUESTER).at(-1))).toMatch(/denied access|trust policy/);
    await h.slack.waitFor(() => threadPosts(h.slack).some((c) => /failed/.test(allText(c))));
    expect(h.slack.calls.some((c) => allText(c).includes('AWS_SESSION_TOKEN'))).toBe(false);
  });

  it('uses the Slack user id as SourceIdentity when Slack shares no email', async () => {
    // The profile has no email (a missing scope, or hidden): users.info itself must answer, since it
    // also says whether the requester is a guest (a failed users.info refuses the request instead).
    h.slack.setEmail(REQUESTER, undefined);
    await approvedRole(h, 'prod-readonly 30m no email on file');
    expect(stsCalls(h, 'AssumeRole')[0]?.params['SourceIdentity']).toBe(REQUESTER);
  });

  it('never writes the credentials to the log, the database, a channel or anyone else', async () => {
    const { grantId } = await approvedRole(h, 'prod-readonly 5m secret scan');
    await h.advance(20 * MINUTE);
    await h.command(REQUESTER, `revoke ${grantId}`);
    const [session] = h.sts.sessions;
    const secrets = [session?.secretAccessKey ?? 'missing', session?.sessionToken ?? 'missing'];
    // The bot's own secrets never reach a log line or the database either.
    for (const own of [BOT_TOKEN, SIGNING_SECRET]) {
      expect(JSON.stringify(h.logger.lines)).not.toContain(own);
    }

    const logged = JSON.stringify(h.logger.lines);
    const stored = await storedText(h);
    // The search sees what the bot stored, so finding no secret in it means something.
    expect(stored).toContain(grantId);
    const elsewhere = h.slack.calls
      .filter((c) => !(c.method === 'chat.postMessage' && c.args['channel'] === REQUESTER))
      .map((c) => JSON.stringify(c.args))
      .join('\n');
    for (const secret of [...secrets, BOT_TOKEN, SIGNING_SECRET]) {
      expect(secret.length).toBeGreaterThan(10);
      expect(logged).not.toContain(secret);
      expect(stored).not.toContain(secret);
      expect(elsewhere).not.toContain(secret);
    }
    // …and exactly one message holds them: the DM to the requester.
    const holders = h.slack.calls.filter((c) => JSON.stringify(c.args).includes(secrets[0] ?? 'missing'));
    expect(holders.map((c) => c.args['channel'])).toEqual([REQUESTER]);
    expect(CHANNEL).not.toBe(REQUESTER);
  });
});

describe('early revocation that cannot be used up (one deny list per role)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('after sixty 1-minute grants cut short, an admin still revokes a 1-hour session; the list is pruned as sessions expire and deleted when empty', async () => {
    // Sixty 1-minute grants, ten a minute (the /access rate limit), each ending while its 15-minute
    // session runs: sixty sessions cut off at once, which used to take sixty inline policies.
    const short: string[] = [];
    for (let batch = 0; batch < 6; batch++) {
      for (let i = 0; i < 10; i++)
        short.push(await activeRoleGrant(h, REQUESTER, `prod-readonly 1m batch ${batch}`));
      await h.advance(MINUTE);
    }
    const sessions = new Map(h.sts.sessions.map((s) => [s.sessionName, s]));
    expect(short.every((id) => h.sts.sessionDenied(sessions.get(id)?.assumedRoleId ?? ''))).toBe(true);
    expect(Object.keys(h.sts.rolePolicies(ROLE_ARN))).toEqual([LIST]);

    const hour = await activeRoleGrant(h, REQUESTER, 'prod-readonly 1h long investigation');
    const hourSession = h.sts.sessions.find((s) => s.sessionName === hour);
    expect(hourSession?.durationSeconds).toBe(3600);
    await h.command(ADMIN, `revoke ${hour}`);
    await h.slack.waitFor(() => /closed/.test(lastReply(h.slack, ADMIN)) || undefined);

    expect(h.sts.sessionDenied(hourSession?.assumedRoleId ?? '')).toBe(true);
    expect((await h.hallpass.useCases.cardOf(lastRequestId(h)))?.grant?.state).toBe('closed');
    expect(Object.keys(h.sts.rolePolicies(ROLE_ARN))).toEqual([LIST]);
    expect(listed(h)).toHaveLength(61);

    // Fifteen minutes after the first batch's sessions began, STS ends them: they leave the list.
    await h.advance(15 * MINUTE - 6 * MINUTE);
    expect(listed(h)).toHaveLength(51);
    expect(short.slice(0, 10).some((id) => h.sts.sessionDenied(sessions.get(id)?.assumedRoleId ?? ''))).toBe(
      false,
    );
    await h.advance(5 * MINUTE);
    expect(listed(h)).toEqual([hourSession?.assumedRoleId]);
    // The hour's session ends by itself too: nothing is left to deny, and the list is deleted.
    await h.advance(60 * MINUTE);
    expect(h.sts.rolePolicies(ROLE_ARN)).toEqual({});
    expect(stsCalls(h, 'DeleteRolePolicy').map((c) => c.params['PolicyName'])).toEqual([LIST]);
    const trail = await h.hallpass.useCases.auditTrail(lastRequestId(h));
    expect(trail.map((e) => e.type).slice(-1)).toEqual(['grant.deny_removed']);
    // A bound for a hang, not a speed check: about 15 s alone, it passed 60 s on PostgreSQL beside two
    // other jest workers on two cores.
  }, 180_000);

  it('refuses a session the role has no room left to revoke, in plain words, without calling AssumeRole', async () => {
    // Someone else's inline policy leaves room for a list of one session, not two.
    h.sts.putRolePolicy(ROLE_ARN, 'OperatorsReadBuckets', otherPolicyOf(10_000));
    const first = await activeRoleGrant(h, REQUESTER, 'prod-readonly 30m first fits');
    const firstSession = h.sts.sessions[0];

    await h.command(REQUESTER, 'prod-readonly 30m second does not');
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 2);
    const requestId = lastRequestId(h);
    await h.click(APPROVER, ACTION.approveRequest, requestId);
    const dm = await h.slack.waitFor(() =>
      dmsTo(h.slack, REQUESTER).find((c) => /failed/.test(allText(c)) && /inline policies/.test(allText(c))),
    );

    expect((await h.hallpass.useCases.cardOf(requestId))?.request.state).toBe('failed');
    expect(stsCalls(h, 'AssumeRole')).toHaveLength(1);
    expect(h.sts.sessions).toHaveLength(1);
    const text = allText(dm);
    expect(text).toContain('no session was issued');
    expect(text).toContain(`the inline policies of ${ROLE_ARN} are full`);
    expect(text).toContain('its other inline policies take 10,000');
    expect(text).toContain('1 other session of this role still live');
    expect(text).toContain(
      `the next at ${firstSession?.expiration.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    );
    expect(text).toMatch(/shrink the role's other inline policies or move them into managed policies/);
    await h.slack.waitFor(() => threadPosts(h.slack).some((c) => /inline policies/.test(allText(c))));
    expect(h.slack.calls.some((c) => allText(c).includes(h.sts.sessions[1]?.sessionToken ?? 'none'))).toBe(
      false,
    );

    // The session that was issued can still be cut off: there was room for it.
    await h.command(REQUESTER, `revoke ${first}`);
    await h.slack.waitFor(() => /closed/.test(lastReply(h.slack, REQUESTER)) || undefined);
    expect(h.sts.sessionDenied(firstSession?.assumedRoleId ?? '')).toBe(true);
  });

  it('a revocation IAM refuses leaves the grant closing with nothing marked denied, and a later retry writes it', async () => {
    const grantId = await activeRoleGrant(h, REQUESTER, 'prod-readonly 30m revoke fails once');
    const requestId = lastRequestId(h);
    const [session] = h.sts.sessions;
    h.sts.failNext('iam', 'PutRolePolicy', 'AccessDenied', 403);

    await h.command(ADMIN, `revoke ${grantId}`);
    await h.slack.waitFor(() => lastReply(h.slack, ADMIN) || undefined);

    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.state).toBe('closing');
    expect(await sessionRow(h, grantId)).toEqual({ denied_at: null, deny_policy_name: null });
    expect(h.sts.rolePolicies(ROLE_ARN)).toEqual({});
    expect(h.sts.sessionDenied(session?.assumedRoleId ?? '')).toBe(false);

    await h.advance(MINUTE);
    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.state).toBe('closed');
    expect(h.sts.sessionDenied(session?.assumedRoleId ?? '')).toBe(true);
    expect(await sessionRow(h, grantId)).toMatchObject({ deny_policy_name: LIST });
    expect(stsCalls(h, 'PutRolePolicy')).toHaveLength(2);
  });

  it('still removes a per-grant deny policy written before the list, at its session’s expiry, and keeps it until then', async () => {
    const old = await activeRoleGrant(h, REQUESTER, 'prod-readonly 30m revoked by an older hallpass');
    const oldSession = h.sts.sessions[0];
    const legacy = `hallpass-deny-${old}`;
    // What an older hallpass left behind after revoking it: its own policy, and the row naming it.
    await h.stopBot();
    h.sts.putRolePolicy(
      ROLE_ARN,
      legacy,
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'HallpassRevokedSession',
            Effect: 'Deny',
            Action: '*',
            Resource: '*',
            Condition: { StringLike: { 'aws:userid': oldSession?.assumedRoleId } },
          },
        ],
      }),
    );
    const at = h.clock.now().getTime();
    await h.db.tamper(
      [
        "UPDATE grants SET state = 'closed', ended_at = ?, end_reason = 'revoked', ended_by = ? WHERE id = ?",
        [at, ADMIN, old],
      ],
      ['UPDATE role_sessions SET deny_policy_name = ?, denied_at = ? WHERE grant_id = ?', [legacy, at, old]],
    );
    h = await h.restart();

    // A revocation now goes to the list, and leaves the old policy alone.
    const next = await activeRoleGrant(h, REQUESTER, 'prod-readonly 30m revoked by this hallpass');
    await h.command(REQUESTER, `revoke ${next}`);
    await h.slack.waitFor(() => /closed/.test(lastReply(h.slack, REQUESTER)) || undefined);
    expect(Object.keys(h.sts.rolePolicies(ROLE_ARN)).sort()).toEqual([legacy, LIST]);
    expect(h.sts.sessionDenied(oldSession?.assumedRoleId ?? '')).toBe(true);

    await h.advance(30 * MINUTE - 1);
    expect(Object.keys(h.sts.rolePolicies(ROLE_ARN)).sort()).toEqual([legacy, LIST]);
    await h.advance(1);
    expect(h.sts.rolePolicies(ROLE_ARN)).toEqual({});
    expect(
      stsCalls(h, 'DeleteRolePolicy')
        .map((c) => c.params['PolicyName'])
        .sort(),
    ).toEqual([legacy, LIST]);
  });
});

describe('/access revoke', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it.each([
    ['an unknown grant id', 'grt_doesnotexist', REQUESTER, 'There is no grant'],
    ['someone else’s grant', 'OWN', OUTSIDER, 'Only the requester'],
  ])('refuses %s and changes nothing', async (_name, id, who, expected) => {
    const { grantId } = await approvedRole(h, 'prod-readonly 30m revoke refusal');
    const since = h.slack.calls.length;
    await h.command(who, `revoke ${id === 'OWN' ? grantId : id}`);
    expect(await replyAfter(h.slack, who, since)).toContain(expected);
    expect((await h.hallpass.useCases.overview()).active.map((a) => a.grant.id)).toEqual([grantId]);
    expect(stsCalls(h, 'PutRolePolicy')).toHaveLength(0);
  });

  it('refuses to revoke a grant that already ended', async () => {
    const { grantId } = await approvedRole(h, 'prod-readonly 30m ends first');
    await h.advance(30 * MINUTE);
    await h.command(REQUESTER, `revoke ${grantId}`);
    await h.slack.waitFor(() => lastReply(h.slack, REQUESTER).includes('already closed') || undefined);
    expect(stsCalls(h, 'PutRolePolicy')).toHaveLength(0);
  });
});

describe('AWS trouble with roles', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('retries a throttled AssumeRole and still opens the session', async () => {
    h = await startHarness();
    h.sts.failNext('sts', 'AssumeRole', 'Throttling', 400, 1);
    await approvedRole(h, 'prod-readonly 30m throttled once');
    expect(stsCalls(h, 'AssumeRole')).toHaveLength(2);
    expect(h.sts.sessions).toHaveLength(1);
  });

  it('manages a security group in another account through its assumeRoleArn', async () => {
    const crossAccountRole = 'arn:aws:iam::210987654321:role/HallpassNetworkAdmin';
    h = await startHarness({
      policy: `
resources:
  - id: partner-db
    kind: security-group
    region: us-east-1
    securityGroupId: sg-0123456789abcdef0
    assumeRoleArn: ${crossAccountRole}
    ports: [5432]
    maxDuration: 1h
    channel: ${CHANNEL}
    autoApprove: true
`,
    });
    h.sts.addRole({ arn: crossAccountRole });
    h.ec2.placeGroup('sg-0123456789abcdef0', '210987654321');
    await h.command(REQUESTER, 'partner-db 30m from 203.0.113.7 partner debugging');
    await h.slack.waitFor(() => h.ec2.rules().length === 1 || undefined);
    const assumed = stsCalls(h, 'AssumeRole').find((c) => c.params['RoleArn'] === crossAccountRole);
    expect(assumed).toBeDefined();
    // The rule was opened with the cross-account session's key, not hallpass's own.
    // (The fake STS dates sessions by the test's clock, so the SDK may refresh them more often than in life.)
    const issued = h.sts.sessions.filter((s) => s.roleArn === crossAccountRole).map((s) => s.accessKeyId);
    const authorize = h.ec2.calls.find((c) => c.action === 'AuthorizeSecurityGroupIngress');
    expect(issued).toContain(authorize?.accessKeyId);
    expect(authorize?.accessKeyId).not.toBe(process.env['AWS_ACCESS_KEY_ID']);
  });
});
