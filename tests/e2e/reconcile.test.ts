import { EC2Client, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import type { Grant } from '../../src/domain/grant';
import { CHANNEL, GROUP_ID, type Harness, REQUESTER, startHarness } from '../support/harness';
import { allText, dmsTo } from '../support/slack-queries';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const ADDRESS = '203.0.113.7';

/** The tags hallpass writes, as a rule made by this deployment before (or by a lost database) carries them. */
const hallpassTags = (grantId: string, expiresAt: Date, requester = REQUESTER, deployment = 'default') => ({
  'managed-by': 'hallpass',
  'hallpass:deployment': deployment,
  'hallpass:grant-id': grantId,
  'hallpass:requester': requester,
  'hallpass:expires-at': expiresAt.toISOString(),
});

const inMinutes = (h: Harness, n: number) => new Date(h.clock.now().getTime() + n * MINUTE);

/** Reconciliation reports: top-level posts in the channel from the sweep. */
const reports = (h: Harness) =>
  h.slack
    .callsTo('chat.postMessage')
    .filter(
      (c) =>
        c.args['channel'] === CHANNEL &&
        c.args['thread_ts'] === undefined &&
        allText(c).includes('hallpass reconciliation'),
    );

const ruleIds = (h: Harness) => h.ec2.rules(GROUP_ID).map((r) => r.id);
const grantOf = (h: Harness, id: string) => h.hallpass.useCases.grantOf(id);

/** Reconciliation's audit events, read straight from the database (orphans may name no known request). */
async function reconcileEvents(
  h: Harness,
): Promise<{ type: string; grantId: string | null; details: Record<string, unknown> }[]> {
  const rows = await h.db.rows<{ type: string; grant_id: string | null; details: string | null }>(
    "SELECT type, grant_id, details FROM audit_events WHERE type LIKE 'reconcile.%' ORDER BY seq",
  );
  return rows.map((r) => ({
    type: r.type,
    grantId: r.grant_id,
    details: JSON.parse(r.details ?? '{}') as Record<string, unknown>,
  }));
}

/** An auto-approved grant on staging-db (same group as every resource of the default policy), once active. */
async function activeGrant(h: Harness, text: string): Promise<Grant> {
  const before = new Set((await h.hallpass.useCases.overview()).active.map((e) => e.grant.id));
  await h.command(REQUESTER, text);
  const entry = await h.slack.waitFor(async () =>
    (await h.hallpass.useCases.overview()).active.find(
      (e) => !before.has(e.grant.id) && e.grant.state === 'active',
    ),
  );
  return entry.grant;
}

/** Runs one periodic sweep: moves the fake clock by the interval and waits for the sweep to finish. */
async function sweep(h: Harness): Promise<void> {
  await h.advance(60 * SECOND);
  await h.hallpass.settled();
}

/** Deletes a rule behind hallpass's back, as someone in the console would. */
async function deleteByHand(h: Harness, ruleId: string): Promise<void> {
  const client = new EC2Client({ region: 'us-east-1', endpoint: h.ec2.url, maxAttempts: 1 });
  try {
    await client.send(
      new RevokeSecurityGroupIngressCommand({ GroupId: GROUP_ID, SecurityGroupRuleIds: [ruleId] }),
    );
  } finally {
    client.destroy();
  }
}

describe('reconciliation with AWS', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ reconcileInterval: '60s' });
  });
  afterEach(async () => {
    await h.close();
  });

  it('revokes at start-up a tagged rule whose grant the database does not know, and leaves every other rule alone', async () => {
    const orphan = h.ec2.addRule({
      groupId: GROUP_ID,
      fromPort: 5432,
      cidr: '198.51.100.9/32',
      tags: hallpassTags('grt_unknown00000001', inMinutes(h, 30)),
    });
    const byHand = h.ec2.addRule({ groupId: GROUP_ID, fromPort: 5432, cidr: '198.51.100.10/32' });
    const otherTool = h.ec2.addRule({
      groupId: GROUP_ID,
      fromPort: 5432,
      cidr: '198.51.100.11/32',
      tags: { 'managed-by': 'terraform', 'hallpass:grant-id': 'grt_unknown00000002' },
    });

    h = await h.restart();

    expect(ruleIds(h).sort()).toEqual([byHand.id, otherTool.id].sort());
    expect(await reconcileEvents(h)).toEqual([
      {
        type: 'reconcile.orphan_revoked',
        grantId: 'grt_unknown00000001',
        details: expect.objectContaining({
          ruleId: orphan.id,
          reason: 'unknown-grant',
          cidr: '198.51.100.9/32',
        }),
      },
    ]);
    const [report] = reports(h);
    expect(allText(report)).toContain(orphan.id);
    expect(allText(report)).toContain('unknown to the database');
    // Only tagged rules were ever asked for.
    const describe = h.ec2.calls.find((c) => c.action === 'DescribeSecurityGroupRules');
    expect(describe?.params).toMatchObject({
      'Filter.2.Name': 'tag:managed-by',
      'Filter.2.Value.1': 'hallpass',
    });
  });

  it('revokes on the next sweep a rule whose hallpass:expires-at has passed, and keeps the rules grants hold', async () => {
    const grant = await activeGrant(h, `staging-db 1h from ${ADDRESS} working`);
    const [own] = ruleIds(h);
    const stale = h.ec2.addRule({
      groupId: GROUP_ID,
      fromPort: 5432,
      cidr: '198.51.100.20/32',
      tags: hallpassTags(grant.id, inMinutes(h, -5)),
    });

    await h.advance(59 * SECOND);
    await h.hallpass.settled();
    expect(ruleIds(h)).toContain(stale.id);

    await h.advance(1 * SECOND);
    await h.hallpass.settled();
    expect(ruleIds(h)).toEqual([own]);
    expect((await grantOf(h, grant.id))?.state).toBe('active');
    expect((await reconcileEvents(h)).map((e) => [e.type, e.details['ruleId'], e.details['reason']])).toEqual(
      [['reconcile.orphan_revoked', stale.id, 'tag-expired']],
    );
    expect(allText(reports(h)[0])).toContain(stale.id);

    // Later sweeps find nothing more to do and say nothing.
    await sweep(h);
    await sweep(h);
    expect(ruleIds(h)).toEqual([own]);
    expect(reports(h)).toHaveLength(1);
  });

  it('revokes a rule left behind by a grant that has already ended', async () => {
    const grant = await activeGrant(h, `staging-db 15m from ${ADDRESS} short job`);
    await h.advance(15 * MINUTE);
    await h.hallpass.settled();
    expect((await grantOf(h, grant.id))?.state).toBe('closed');
    const leftover = h.ec2.addRule({
      groupId: GROUP_ID,
      fromPort: 5432,
      cidr: `${ADDRESS}/32`,
      tags: hallpassTags(grant.id, inMinutes(h, 45)),
    });

    await sweep(h);

    expect(ruleIds(h)).not.toContain(leftover.id);
    expect((await reconcileEvents(h)).map((e) => [e.grantId, e.details['reason']])).toEqual([
      [grant.id, 'grant-ended'],
    ]);
  });

  it('reports once, without reopening it, an active grant whose rule vanished from AWS', async () => {
    const grant = await activeGrant(h, `staging-db 1h from ${ADDRESS} working`);
    const [own] = ruleIds(h);
    if (own === undefined) throw new Error('the grant opened no rule');
    await deleteByHand(h, own);

    await sweep(h);

    expect((await grantOf(h, grant.id))?.state).toBe('active');
    expect(h.ec2.calls.filter((c) => c.action === 'AuthorizeSecurityGroupIngress')).toHaveLength(1);
    expect(ruleIds(h)).toEqual([]);
    expect(await reconcileEvents(h)).toEqual([
      {
        type: 'reconcile.drift',
        grantId: grant.id,
        details: expect.objectContaining({ kind: 'vanished', ruleId: own }),
      },
    ]);
    expect(reports(h)).toHaveLength(1);
    expect(allText(reports(h)[0])).toMatch(/vanished[\s\S]*did not reopen/);

    // Remembered in the audit log: not reported again, neither by the next sweep nor after a restart.
    await sweep(h);
    h = await h.restart();
    await sweep(h);
    expect(reports(h)).toHaveLength(1);
    expect(await reconcileEvents(h)).toHaveLength(1);
  });

  it('revokes a rule widened by hand at once and ends the grant that held it', async () => {
    const grant = await activeGrant(h, `staging-db 1h from ${ADDRESS} working`);
    const [own] = ruleIds(h);
    if (own === undefined) throw new Error('the grant opened no rule');
    h.ec2.modifyRule(own, { cidr: '0.0.0.0/0', fromPort: 0, toPort: 65535 });

    await sweep(h);

    expect(ruleIds(h)).toEqual([]);
    expect(await grantOf(h, grant.id)).toMatchObject({
      state: 'closed',
      endReason: 'revoked',
      endedBy: 'hallpass',
    });
    expect(await reconcileEvents(h)).toEqual([
      {
        type: 'reconcile.drift',
        grantId: grant.id,
        details: expect.objectContaining({
          kind: 'modified',
          ruleId: own,
          revoked: true,
          found: expect.objectContaining({ cidr: '0.0.0.0/0', fromPort: 0, toPort: 65535 }),
        }),
      },
    ]);
    const text = allText(reports(h)[0]);
    expect(text).toContain('changed by hand');
    expect(text).toContain('0.0.0.0/0');
    expect(text).toContain('revoked and the grant ended');
    await h.slack.waitFor(
      () => dmsTo(h.slack, REQUESTER).some((c) => /ended|closed/i.test(allText(c))) || undefined,
    );
  });

  it('treats every tagged rule as an orphan when the database was deleted between runs, and revokes it at start-up', async () => {
    // The safe choice: a database that no longer knows a grant cannot close its rule at the end, so the
    // rule goes now, even though its hallpass:expires-at is still in the future.
    const grant = await activeGrant(h, `staging-db 1h from ${ADDRESS} working`);
    const [own] = ruleIds(h);
    const byHand = h.ec2.addRule({ groupId: GROUP_ID, fromPort: 22, cidr: '198.51.100.30/32' });
    await h.stopBot();
    await h.db.lose();

    h = await h.restart();

    expect(ruleIds(h)).toEqual([byHand.id]);
    expect(await grantOf(h, grant.id)).toBeUndefined();
    expect(await reconcileEvents(h)).toEqual([
      {
        type: 'reconcile.orphan_revoked',
        grantId: grant.id,
        details: expect.objectContaining({
          ruleId: own,
          reason: 'unknown-grant',
          taggedExpiresAt: grant.expiresAt.toISOString(),
        }),
      },
    ]);
    expect(allText(reports(h)[0])).toContain(grant.id);
  });

  it('retries at the next sweep when EC2 cannot be read', async () => {
    h.ec2.failNext('DescribeSecurityGroupRules', 'UnauthorizedOperation', 403);
    const orphan = h.ec2.addRule({
      groupId: GROUP_ID,
      fromPort: 5432,
      cidr: '198.51.100.40/32',
      tags: hallpassTags('grt_unknown00000003', inMinutes(h, 30)),
    });

    await sweep(h);
    expect(ruleIds(h)).toContain(orphan.id);
    expect(
      h.logger.lines.some((l) => l.level === 'error' && /could not read a security group/.test(l.msg)),
    ).toBe(true);

    await sweep(h);
    expect(ruleIds(h)).not.toContain(orphan.id);
  });
});

describe('reconciliation beside another deployment (HALLPASS_DEPLOYMENT)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ reconcileInterval: '60s', env: { HALLPASS_DEPLOYMENT: 'production' } });
  });
  afterEach(async () => {
    await h.close();
  });

  /** A rule made by hallpass before rules carried hallpass:deployment. */
  const legacyTags = (grantId: string, expiresAt: Date) => ({
    'managed-by': 'hallpass',
    'hallpass:grant-id': grantId,
    'hallpass:requester': REQUESTER,
    'hallpass:expires-at': expiresAt.toISOString(),
  });

  it("leaves another deployment's rules, and older untagged rules of grants it does not know, in place at start-up and every sweep; its own orphans still go", async () => {
    const grant = await activeGrant(h, `staging-db 1h from ${ADDRESS} working`);
    const [own] = ruleIds(h);
    expect(h.ec2.rules(GROUP_ID)[0]?.tags).toMatchObject({ 'hallpass:deployment': 'production' });
    // Staging's rules on the same group: one live, one whose end has passed, one of a grant id that
    // production's database also has (a database copied from it) — none is production's to revoke.
    const stagingLive = h.ec2.addRule({
      groupId: GROUP_ID,
      fromPort: 5432,
      cidr: '198.51.100.60/32',
      tags: hallpassTags('grt_staging00000001', inMinutes(h, 30), REQUESTER, 'staging'),
    });
    const stagingStale = h.ec2.addRule({
      groupId: GROUP_ID,
      fromPort: 5432,
      cidr: '198.51.100.61/32',
      tags: hallpassTags('grt_staging00000002', inMinutes(h, -30), REQUESTER, 'staging'),
    });
    const stagingSameId = h.ec2.addRule({
      groupId: GROUP_ID,
      fromPort: 5432,
      cidr: '198.51.100.62/32',
      tags: hallpassTags(grant.id, inMinutes(h, -30), REQUESTER, 'staging'),
    });
    // Made before the tag existed, by a grant this database never had: perhaps another deployment's.
    const legacyUnknown = h.ec2.addRule({
      groupId: GROUP_ID,
      fromPort: 5432,
      cidr: '198.51.100.63/32',
      tags: legacyTags('grt_legacy00000001', inMinutes(h, -30)),
    });
    // This deployment's orphan: its grant unknown here.
    const orphan = h.ec2.addRule({
      groupId: GROUP_ID,
      fromPort: 5432,
      cidr: '198.51.100.64/32',
      tags: hallpassTags('grt_unknown00000009', inMinutes(h, 30), REQUESTER, 'production'),
    });
    const others = [stagingLive.id, stagingStale.id, stagingSameId.id, legacyUnknown.id];

    await sweep(h);
    expect(ruleIds(h).sort()).toEqual([own, ...others].sort());
    expect((await reconcileEvents(h)).map((e) => e.details['ruleId'])).toEqual([orphan.id]);

    h = await h.restart();
    await sweep(h);
    await sweep(h);
    expect(ruleIds(h).sort()).toEqual([own, ...others].sort());
    expect(await grantOf(h, grant.id)).toMatchObject({ state: 'active' });
    // Neither revoked nor reported: no drift, no report naming them.
    expect((await reconcileEvents(h)).map((e) => e.details['ruleId'])).toEqual([orphan.id]);
    for (const report of reports(h)) for (const id of others) expect(allText(report)).not.toContain(id);
    const revoked = h.ec2.calls
      .filter((c) => c.action === 'RevokeSecurityGroupIngress')
      .flatMap((c) => Object.entries(c.params).filter(([k]) => k.startsWith('SecurityGroupRuleId')))
      .map(([, v]) => v);
    for (const id of others) expect(revoked).not.toContain(id);
    // The untagged rule is said once per process (this one has run three passes).
    const said = h.logger.lines.filter((l) => l.level === 'warn' && /before rules carried/.test(l.msg));
    expect(said.map((l) => l.fields['ruleId'])).toEqual([legacyUnknown.id]);
  });

  it('revokes an older untagged rule whose grant this database knows, as before', async () => {
    const grant = await activeGrant(h, `staging-db 1h from ${ADDRESS} working`);
    await h.command(REQUESTER, `revoke ${grant.id}`);
    await h.hallpass.settled();
    expect(await grantOf(h, grant.id)).toMatchObject({ state: 'closed' });
    const leftover = h.ec2.addRule({
      groupId: GROUP_ID,
      fromPort: 5432,
      cidr: '198.51.100.70/32',
      tags: legacyTags(grant.id, inMinutes(h, 30)),
    });

    await sweep(h);

    expect(ruleIds(h)).not.toContain(leftover.id);
    expect((await reconcileEvents(h)).map((e) => [e.details['ruleId'], e.details['reason']])).toEqual([
      [leftover.id, 'grant-ended'],
    ]);
  });
});

describe('HALLPASS_RECONCILE_INTERVAL=0s', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ reconcileInterval: '0s' });
  });
  afterEach(async () => {
    await h.close();
  });

  it('reconciles at start-up only', async () => {
    const first = h.ec2.addRule({
      groupId: GROUP_ID,
      fromPort: 5432,
      cidr: '198.51.100.50/32',
      tags: hallpassTags('grt_unknown00000004', inMinutes(h, 30)),
    });
    await h.advance(10 * MINUTE);
    await h.hallpass.settled();
    expect(ruleIds(h)).toEqual([first.id]);
    expect(h.ec2.calls.filter((c) => c.action === 'DescribeSecurityGroupRules')).toHaveLength(1);

    h = await h.restart();
    expect(ruleIds(h)).toEqual([]);
  });
});
