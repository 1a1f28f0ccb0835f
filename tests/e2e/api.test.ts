import { ACTION } from '../../src/adapters/slack/ids';
import {
  APPROVER,
  CHANNEL,
  DEFAULT_POLICY,
  GROUP_ID,
  type Harness,
  REQUESTER,
  startHarness,
} from '../support/harness';
import { allText, approvalPosts, dmsTo, lastReply, threadPosts } from '../support/slack-queries';

const ADMIN = 'UADMIN1';
const MINUTE = 60_000;

/** DEFAULT_POLICY with automation allowed on prod-db: tokens up to 15m, agents up to 5m (and at most 10m long). */
const API_POLICY = DEFAULT_POLICY.replace(
  '    breakGlassMaxDuration: 30m\n',
  `    breakGlassMaxDuration: 30m
    automation:
      autoApproveWithin: 15m
      agents:
        autoApproveWithin: 5m
        maxDuration: 10m
`,
);

type Json = Record<string, unknown> & {
  id?: string;
  status?: string;
  error?: { code: string; message: string; issues?: { path: string; message: string }[] };
  grant?: Record<string, unknown>;
  lease?: { ttl: string; expiresAt: string };
  message?: string;
};

/** `/access token create …` as the admin; the secret from the private answer. */
async function createToken(h: Harness, args: string): Promise<string> {
  await h.command(ADMIN, `token create ${args}`);
  const reply = lastReply(h.slack, ADMIN);
  const secret = /hp_[A-Za-z0-9]+_[A-Za-z0-9]+/.exec(reply)?.[0];
  if (secret === undefined) throw new Error(`no token in: ${reply}`);
  return secret;
}

const ask = (h: Harness, token: string, body: Record<string, unknown>) =>
  h.api('POST', '/api/v1/requests', { token, body }) as Promise<{
    status: number;
    body: Json;
    headers: Headers;
  }>;
const read = async (h: Harness, token: string, id: string) =>
  (await h.api('GET', `/api/v1/requests/${id}`, { token })).body as Json;

const DB_ASK = { resource: 'prod-db', duration: '15m', reason: 'nightly vacuum', from: '203.0.113.7' };

describe('API tokens in Slack: /access token …', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ policy: API_POLICY });
  });
  afterEach(async () => {
    await h.close();
  });

  it('creates a token shown once to the admin alone, stores only its hash, lists, rotates and revokes it, each on the audit record', async () => {
    const secret = await createToken(h, 'ci prod-db,prod-readonly --expires 30d');
    const created = lastReply(h.slack, ADMIN);
    expect(created).toContain('Created API token `ci`');
    expect(created).toContain('prod-db');
    // Nowhere but the admin's private answer: no channel post, no DM, no row, no audit event holds it.
    expect(
      h.slack.calls.filter((c) => c.method !== 'response_url' && JSON.stringify(c.args).includes(secret)),
    ).toEqual([]);
    const rows = await h.db.rows<{ secret_hash: string; owner_id: string; expires_at: number }>(
      'SELECT secret_hash, owner_id, expires_at FROM api_tokens',
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]?.owner_id).toBe(ADMIN);
    expect(rows[0]?.expires_at).toBe(h.clock.now().getTime() + 30 * 24 * 60 * MINUTE);
    const everything = JSON.stringify(await h.db.rows('SELECT * FROM audit_events'));
    expect(everything).not.toContain(secret);
    expect(JSON.stringify(await h.db.rows('SELECT * FROM api_tokens'))).not.toContain(secret);
    // Used once, so a log line about the call would have it if any did.
    expect((await h.api('GET', '/api/v1/resources', { token: secret })).status).toBe(200);
    expect(JSON.stringify(h.logger.lines)).not.toContain(secret.slice(-40));
    expect(everything).toContain('token.created');

    await h.command(ADMIN, 'token list');
    expect(lastReply(h.slack, ADMIN)).toMatch(/`ci` — `prod-db`, `prod-readonly` · owner <@UADMIN1>/);
    expect(lastReply(h.slack, ADMIN)).not.toContain(secret);

    const rotated = await (async () => {
      await h.command(ADMIN, 'token rotate ci --overlap 10m');
      return lastReply(h.slack, ADMIN);
    })();
    expect(rotated).toContain('overlap of 10m');
    const fresh = /hp_[A-Za-z0-9]+_[A-Za-z0-9]+/.exec(rotated)?.[0];
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(secret);

    await h.command(ADMIN, 'token revoke ci');
    expect(lastReply(h.slack, ADMIN)).toContain('Revoked API token `ci`');
    await h.command(ADMIN, 'token list');
    expect(lastReply(h.slack, ADMIN)).toContain('No API tokens');
    const types = (
      await h.db.rows<{ type: string }>(
        "SELECT type FROM audit_events WHERE type LIKE 'token.%' ORDER BY seq",
      )
    ).map((r) => r.type);
    expect(types).toEqual(['token.created', 'token.rotated', 'token.revoked']);
  });

  it.each([
    ['a non-admin', REQUESTER, 'token create ci prod-db', /admins/i],
    ['an unknown resource', ADMIN, 'token create ci prod-db,nope', /no resource `nope`/],
    ['a bad name', ADMIN, 'token create CI! prod-db', /not a token name/],
    ['no resources', ADMIN, 'token create ci', /list the resources/],
    ['an expiry past a year', ADMIN, 'token create ci prod-db --expires 400d', /--expires .* too long/],
    ['a bad duration', ADMIN, 'token create ci prod-db --expires soon', /not a duration/],
    ['an unknown option', ADMIN, 'token create ci prod-db --forever yes', /--forever is not an option/],
    ['an unknown subcommand', ADMIN, 'token delete ci', /not a token subcommand/],
    ['revoking an unknown token', ADMIN, 'token revoke ghost', /no live token named `ghost`/],
    ['rotating an unknown token', ADMIN, 'token rotate ghost', /no live token named `ghost`/],
  ])('refuses %s with a clear answer and stores nothing', async (_what, user, text, answer) => {
    await h.command(user, text);
    expect(lastReply(h.slack, user)).toMatch(answer);
    expect(await h.db.rows('SELECT id FROM api_tokens')).toEqual([]);
  });

  it('refuses a second live token of the same name', async () => {
    await createToken(h, 'ci prod-db');
    await h.command(ADMIN, 'token create ci prod-web');
    expect(lastReply(h.slack, ADMIN)).toContain('exists already');
    expect(await h.db.rows('SELECT id FROM api_tokens')).toHaveLength(1);
  });

  it('lists the token subcommands in /access help', async () => {
    await h.command(REQUESTER, 'help');
    expect(lastReply(h.slack, REQUESTER)).toContain('/access token create');
  });
});

describe('the HTTP API /api/v1', () => {
  let h: Harness;
  let ci: string;
  beforeEach(async () => {
    h = await startHarness({ policy: API_POLICY });
    ci = await createToken(h, 'ci prod-db,prod-web,prod-readonly');
  });
  afterEach(async () => {
    await h.close();
  });

  it('lists only what the token may ask for', async () => {
    const res = await h.api('GET', '/api/v1/resources', { token: ci });
    expect(res.status).toBe(200);
    const ids = (res.body as { resources: { id: string; kind: string }[] }).resources.map((r) => r.id);
    expect(ids).toEqual(['prod-db', 'prod-web', 'prod-readonly']);
    expect((res.body as { resources: Record<string, unknown>[] }).resources[0]).toMatchObject({
      kind: 'security-group',
      maxDuration: '1h',
      protocol: 'tcp',
      ports: ['5432'],
      autoApprove: false,
    });
  });

  it('asks, is approved in Slack, opens, reads, and ends at done: the card names the automation and its owner', async () => {
    const created = await ask(h, ci, DB_ASK);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      resource: 'prod-db',
      status: 'pending',
      duration: '15m',
      from: '203.0.113.7/32',
    });
    const id = created.body.id ?? '';
    expect(created.headers.get('location')).toBe(`/api/v1/requests/${id}`);
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    const card = allText(approvalPosts(h.slack)[0]);
    expect(card).toContain('automation `ci` (owner <@UADMIN1>)');
    expect(card).toContain('nightly vacuum');

    await h.click(APPROVER, ACTION.approveRequest, id);
    const active = await read(h, ci, id);
    expect(active.status).toBe('active');
    expect(active.grant).toMatchObject({
      address: '203.0.113.7/32',
      protocol: 'tcp',
      ports: ['5432'],
      region: 'us-east-1',
    });
    expect(Date.parse(String(active.grant?.['expiresAt']))).toBe(h.clock.now().getTime() + 15 * MINUTE);
    const [rule] = h.ec2.rules(GROUP_ID);
    expect(rule?.tags['hallpass:requester']).toBe('token:ci');
    expect(dmsTo(h.slack, 'token:ci')).toEqual([]);

    const done = await h.api('POST', `/api/v1/requests/${id}/done`, { token: ci });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'ended', grant: { endReason: 'done' } });
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
    // Idempotent on what has ended.
    const again = await h.api('POST', `/api/v1/requests/${id}/done`, { token: ci });
    expect(again.status).toBe(200);
    expect((again.body as Json).status).toBe('ended');
    const trail = (await h.hallpass.useCases.auditTrail(id)).map((e) => [e.type, e.actor]);
    expect(trail).toContainEqual(['request.submitted', 'token:ci']);
    expect(trail).toContainEqual(['grant.closing', 'token:ci']);
  });

  it('cancels a pending request at done', async () => {
    const { body } = await ask(h, ci, DB_ASK);
    const done = await h.api('POST', `/api/v1/requests/${body.id}/done`, { token: ci });
    expect(done.body).toMatchObject({ status: 'cancelled' });
  });

  it.each([
    ['no Authorization header', undefined],
    ['a token that is not ours', 'not-a-token'],
    ['an unknown token of the right shape', 'hp_AAAAAAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'],
  ])('answers 401 to %s', async (_what, token) => {
    const res = await h.api('GET', '/api/v1/resources', token === undefined ? {} : { token });
    expect(res.status).toBe(401);
    expect((res.body as Json).error?.code).toBe('unauthorized');
  });

  it('still lets a revoked token end what it holds (ending access is never refused)', async () => {
    const { body } = await ask(h, ci, DB_ASK);
    await h.click(APPROVER, ACTION.approveRequest, body.id ?? '');
    await h.command(ADMIN, 'token revoke ci');
    expect((await h.api('GET', `/api/v1/requests/${body.id}`, { token: ci })).status).toBe(401);
    expect((await h.api('POST', `/api/v1/requests/${body.id}/lease`, { token: ci })).status).toBe(401);
    const done = await h.api('POST', `/api/v1/requests/${body.id}/done`, { token: ci });
    expect(done.status).toBe(200);
    expect((done.body as Json).status).toBe('ended');
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
  });

  it('answers 401 once a token is revoked, or a secret tampered with', async () => {
    expect((await h.api('GET', '/api/v1/resources', { token: ci })).status).toBe(200);
    expect((await h.api('GET', '/api/v1/resources', { token: `${ci.slice(0, -1)}x` })).status).toBe(401);
    await h.command(ADMIN, 'token revoke ci');
    const res = await h.api('GET', '/api/v1/resources', { token: ci });
    expect(res.status).toBe(401);
    expect((res.body as Json).error?.message).toContain('revoked');
  });

  it('answers 401 once a token has expired', async () => {
    const short = await createToken(h, 'short prod-db --expires 1h');
    expect((await h.api('GET', '/api/v1/resources', { token: short })).status).toBe(200);
    await h.advance(61 * MINUTE);
    const res = await h.api('GET', '/api/v1/resources', { token: short });
    expect(res.status).toBe(401);
    expect((res.body as Json).error?.message).toContain('expired');
  });

  it('keeps the old secret of a rotated token valid for the overlap only', async () => {
    await h.command(ADMIN, 'token rotate ci --overlap 10m');
    const fresh = /hp_[A-Za-z0-9]+_[A-Za-z0-9]+/.exec(lastReply(h.slack, ADMIN))?.[0] ?? '';
    expect((await h.api('GET', '/api/v1/resources', { token: ci })).status).toBe(200);
    expect((await h.api('GET', '/api/v1/resources', { token: fresh })).status).toBe(200);
    await h.advance(10 * MINUTE + 1000);
    const old = await h.api('GET', '/api/v1/resources', { token: ci });
    expect(old.status).toBe(401);
    expect((old.body as Json).error?.message).toContain('rotated');
    expect((await h.api('GET', '/api/v1/resources', { token: fresh })).status).toBe(200);
  });

  it('answers 401 when the token owner is no longer an admin', async () => {
    h.slack.setGroups([
      { id: 'S0SRE', handle: 'sre', users: [APPROVER] },
      { id: 'S0BACKEND', handle: 'backend', users: [REQUESTER] },
      { id: 'S0SECURITY', handle: 'security', users: [] },
    ]);
    await h.event({
      type: 'subteam_members_changed',
      subteam_id: 'S0SECURITY',
      removed_users: [ADMIN],
      added_users: [],
    });
    const res = await h.api('GET', '/api/v1/resources', { token: ci });
    expect(res.status).toBe(401);
    expect((res.body as Json).error?.message).toContain('no longer an admin');
  });

  it('answers 403 for a resource outside the token, and creates nothing', async () => {
    const res = await ask(h, ci, { ...DB_ASK, resource: 'staging-db' });
    expect(res.status).toBe(403);
    expect(res.body.error?.code).toBe('forbidden');
    expect(await h.db.rows('SELECT id FROM requests')).toEqual([]);
  });

  it.each([
    ['a missing reason', { resource: 'prod-db', duration: '15m', from: '203.0.113.7' }, 'reason'],
    ['a bad duration', { ...DB_ASK, duration: 'soon' }, 'duration'],
    ['an unknown field', { ...DB_ASK, sudo: true }, '(body)'],
    ['a duration over the maximum', { ...DB_ASK, duration: '2h' }, 'duration'],
    ['0.0.0.0/0', { ...DB_ASK, from: '0.0.0.0/0' }, 'from'],
    ['no address for a security group', { resource: 'prod-db', duration: '15m', reason: 'x' }, 'from'],
    ['an address for a role', { ...DB_ASK, resource: 'prod-readonly' }, 'from'],
    ['a lease too short', { ...DB_ASK, lease: { ttl: '1s' } }, 'lease.ttl'],
    ['an agent without a lease', { ...DB_ASK, agent: { name: 'claude' } }, 'lease'],
  ])('answers 400 with the issue for %s, and creates nothing', async (_what, body, path) => {
    const res = await ask(h, ci, body);
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('invalid_request');
    expect(res.body.error?.issues?.map((i) => i.path)).toContain(path);
    expect(await h.db.rows('SELECT id FROM requests')).toEqual([]);
  });

  it('answers 400 to a body that is not JSON, and 415 to one that says it is something else', async () => {
    const bad = await h.api('POST', '/api/v1/requests', { token: ci, raw: '{"resource":' });
    expect(bad.status).toBe(400);
    const form = await h.api('POST', '/api/v1/requests', {
      token: ci,
      raw: 'resource=prod-db',
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(415);
    expect((form.body as Json).error?.code).toBe('unsupported_media_type');
  });

  it('answers 404 for unknown routes and for requests of another token, 405 for another method', async () => {
    expect((await h.api('GET', '/api/v1/nope', { token: ci })).status).toBe(404);
    expect((await h.api('GET', '/api/v1/requests/req_unknown', { token: ci })).status).toBe(404);
    const other = await createToken(h, 'other prod-db');
    const { body } = await ask(h, ci, DB_ASK);
    expect((await h.api('GET', `/api/v1/requests/${body.id}`, { token: other })).status).toBe(404);
    expect((await h.api('POST', `/api/v1/requests/${body.id}/done`, { token: other })).status).toBe(404);
    const del = await h.api('DELETE', `/api/v1/requests/${body.id}`, { token: ci });
    expect(del.status).toBe(405);
    expect((del.body as Json).error?.code).toBe('method_not_allowed');
  });

  it('serves fresh STS credentials to the caller alone for an active role grant', async () => {
    const { body } = await ask(h, ci, { resource: 'prod-readonly', duration: '1h', reason: 'read the logs' });
    await h.click(APPROVER, ACTION.approveRequest, body.id ?? '');
    expect((await read(h, ci, body.id ?? '')).status).toBe('active');
    // Not in a DM (there is nobody to DM), not in the channel.
    expect(h.slack.calls.some((c) => JSON.stringify(c.args).includes('secretAccessKey'))).toBe(false);
    const res = await h.api('POST', `/api/v1/requests/${body.id}/credentials`, { token: ci });
    expect(res.status).toBe(200);
    const creds = res.body as Record<string, string>;
    expect(JSON.stringify(h.logger.lines)).not.toContain(creds['secretAccessKey']);
    expect(creds).toMatchObject({ region: 'us-east-1' });
    expect(creds['accessKeyId']).toBeTruthy();
    expect(creds['sessionToken']).toBeTruthy();
    const last = h.sts.sessions[h.sts.sessions.length - 1];
    expect(last?.sourceIdentity).toBe('automation.ci');
    const stored = JSON.stringify(await h.db.rows('SELECT * FROM audit_events'));
    expect(stored).not.toContain(creds['secretAccessKey']);
    expect(stored).not.toContain(creds['sessionToken']);
    expect(stored).toContain('credentials.issued');
    // A security group has no credentials to give.
    const sg = await ask(h, ci, DB_ASK);
    expect((await h.api('POST', `/api/v1/requests/${sg.body.id}/credentials`, { token: ci })).status).toBe(
      409,
    );
  });

  it('serves the OpenAPI document without a token', async () => {
    const res = await h.api('GET', '/api/v1/openapi.json');
    expect(res.status).toBe(200);
    expect((res.body as { openapi: string }).openapi).toBe('3.1.0');
  });
});

describe('API rate limit', () => {
  it('answers 429 with Retry-After past the per-token limit', async () => {
    const h = await startHarness({ policy: API_POLICY, env: { HALLPASS_API_RATE_LIMIT: '3' } });
    try {
      const ci = await createToken(h, 'ci prod-db');
      for (let i = 0; i < 3; i++)
        expect((await h.api('GET', '/api/v1/resources', { token: ci })).status).toBe(200);
      const limited = await h.api('GET', '/api/v1/resources', { token: ci });
      expect(limited.status).toBe(429);
      expect((limited.body as Json).error?.code).toBe('rate_limited');
      expect(limited.headers.get('retry-after')).toBe('60');
      await h.advance(MINUTE + 1);
      expect((await h.api('GET', '/api/v1/resources', { token: ci })).status).toBe(200);
    } finally {
      await h.close();
    }
  });
});

describe('auto-approval and agents', () => {
  let h: Harness;
  let fixer: string;
  beforeEach(async () => {
    h = await startHarness({ policy: API_POLICY });
    fixer = await createToken(h, 'fixer prod-db,prod-web,staging-db --auto-approve-within 15m');
  });
  afterEach(async () => {
    await h.close();
  });

  it('auto-approves a token request within both the token and the policy limit, and announces it', async () => {
    const res = await ask(h, fixer, { ...DB_ASK, duration: '10m' });
    expect(res.body.status).toBe('active');
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    expect(allText(approvalPosts(h.slack)[0])).toContain('automation `fixer`');
  });

  it('does not auto-approve where the policy does not allow automation, or past its limit', async () => {
    expect((await ask(h, fixer, { ...DB_ASK, resource: 'prod-web', duration: '10m' })).body.status).toBe(
      'pending',
    );
    expect((await ask(h, fixer, { ...DB_ASK, duration: '20m' })).body.status).toBe('pending');
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
  });

  it('names the agent, the automation, its owner and whom it acts for on the card', async () => {
    const res = await ask(h, fixer, {
      ...DB_ASK,
      duration: '8m',
      lease: { ttl: '30s' },
      agent: { name: 'claude', onBehalfOf: 'alice@example.com' },
    });
    // 8m: over the agents' 5m auto-approval, within their 10m cap: a vote.
    expect(res.body.status).toBe('pending');
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    expect(allText(approvalPosts(h.slack)[0])).toContain(
      'agent `claude` via automation `fixer` (owner <@UADMIN1>), for alice@example.com',
    );
  });

  it('auto-approves an agent only where the agents key says so explicitly, and caps its window', async () => {
    const agent = { agent: { name: 'claude' }, lease: { ttl: '30s' } };
    expect((await ask(h, fixer, { ...DB_ASK, duration: '5m', ...agent })).body.status).toBe('active');
    // staging-db auto-approves everyone, but says nothing of agents: a vote.
    expect(
      (await ask(h, fixer, { ...DB_ASK, resource: 'staging-db', duration: '5m', ...agent })).body.status,
    ).toBe('pending');
    const long = await ask(h, fixer, { ...DB_ASK, duration: '11m', ...agent });
    expect(long.status).toBe(400);
    expect(long.body.error?.message).toContain('10m');
  });
});

describe('leases', () => {
  let h: Harness;
  let ci: string;
  beforeEach(async () => {
    h = await startHarness({ policy: API_POLICY });
    ci = await createToken(h, 'ci prod-db');
  });
  afterEach(async () => {
    await h.close();
  });

  it('keeps a renewed grant, and ends it within the lease time once renewals stop, telling the channel why', async () => {
    const { body } = await ask(h, ci, { ...DB_ASK, lease: { ttl: '30s' } });
    const id = body.id ?? '';
    expect(body.lease?.ttl).toBe('30s');
    await h.click(APPROVER, ACTION.approveRequest, id);
    for (let i = 0; i < 4; i++) {
      await h.advance(20_000);
      const renewed = await h.api('POST', `/api/v1/requests/${id}/lease`, { token: ci });
      expect(renewed.status).toBe(200);
      expect((renewed.body as { leaseExpiresAt: string }).leaseExpiresAt).toBe(
        new Date(h.clock.now().getTime() + 30_000).toISOString(),
      );
    }
    expect((await read(h, ci, id)).status).toBe('active');
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);

    // The client dies: no more renewals.
    await h.advance(29_000);
    expect((await read(h, ci, id)).status).toBe('active');
    await h.advance(1_000);
    const ended = await read(h, ci, id);
    expect(ended.status).toBe('ended');
    expect(ended.grant?.['endReason']).toBe('lease-expired');
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(0);
    await h.slack.waitFor(() =>
      threadPosts(h.slack, CHANNEL).some((c) => allText(c).includes('lease lapsed')),
    );
    const trail = (await h.hallpass.useCases.auditTrail(id)).map((e) => e.type);
    expect(trail).toContain('lease.lapsed');
    // The chain and the tables agree on all of it.
    const record = await h.db.auditRecord();
    expect(record.chain.ok).toBe(true);
    expect(record.mismatches).toEqual([]);
    const late = await h.api('POST', `/api/v1/requests/${id}/lease`, { token: ci });
    expect(late.status).toBe(409);
    expect((late.body as { request: Json }).request.status).toBe('ended');
  });

  it('records no lapse for a lease whose grant ended otherwise (done)', async () => {
    const { body } = await ask(h, ci, { ...DB_ASK, lease: { ttl: '30s' } });
    const id = body.id ?? '';
    await h.click(APPROVER, ACTION.approveRequest, id);
    await h.api('POST', `/api/v1/requests/${id}/done`, { token: ci });
    await h.advance(60_000);
    const after = await read(h, ci, id);
    expect(after.grant?.['endReason']).toBe('done');
    expect((await h.hallpass.useCases.auditTrail(id)).map((e) => e.type)).not.toContain('lease.lapsed');
  });

  it('cancels a pending request whose lease lapses', async () => {
    const { body } = await ask(h, ci, { ...DB_ASK, lease: { ttl: '10s' } });
    await h.advance(10_000);
    const after = await read(h, ci, body.id ?? '');
    expect(after.status).toBe('cancelled');
    expect(after.message).toContain('lease lapsed');
    const record = await h.db.auditRecord();
    expect(record.chain.ok).toBe(true);
    expect(record.mismatches).toEqual([]);
  });

  it('survives a restart: the lease lives in the database', async () => {
    const { body } = await ask(h, ci, { ...DB_ASK, lease: { ttl: '30s' } });
    await h.click(APPROVER, ACTION.approveRequest, body.id ?? '');
    h = await h.restart({ policy: API_POLICY });
    await h.advance(31_000);
    expect((await read(h, ci, body.id ?? '')).grant?.['endReason']).toBe('lease-expired');
  });
});
