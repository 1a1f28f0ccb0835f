import { ACTION, CALLBACK } from '../../src/adapters/slack/ids';
import { describeMismatch } from '../../src/app/audit-record';
import { APPROVER, APPROVER_2, GROUP_ID, type Harness, REQUESTER, startHarness } from '../support/harness';
import { lastRequestId, replyAfter } from '../support/slack-queries';
import { denyModalValues } from '../support/slack-signing';

const MINUTE = 60_000;

/**
 * The export from the other side: it is derived from the chain and the tables are
 * checked against it, so in normal operation — every way a request and a grant can go — the two must
 * agree exactly, field by field, or `verify` would cry wolf.
 */
describe('the audit chain and the tables agree after every kind of request and grant', () => {
  let h: Harness;
  const ids: Record<string, string> = {};

  async function ask(text: string, user = REQUESTER): Promise<string> {
    // One person may send ten commands a minute.
    await h.advance(10_000);
    const before = h.slack.calls.length;
    await h.command(user, text);
    await replyAfter(h.slack, user, before);
    return lastRequestId(h);
  }
  const grantOf = async (requestId: string) => (await h.hallpass.useCases.cardOf(requestId))?.grant;

  beforeAll(async () => {
    h = await startHarness();
    // Two approvals, then expiry.
    ids['twoVotes'] = await ask('prod-web 30m from 203.0.113.8 two approvers needed');
    await h.click(APPROVER, ACTION.approveRequest, ids['twoVotes']);
    await h.click(APPROVER_2, ACTION.approveRequest, ids['twoVotes']);
    // Denied with a reason.
    ids['denied'] = await ask('prod-db 30m from 203.0.113.9 please');
    await h.submit(APPROVER, CALLBACK.denyModal, denyModalValues('not during the freeze'), ids['denied']);
    // Cancelled by the requester.
    ids['cancelled'] = await ask('prod-db 30m from 203.0.113.10 never mind');
    await h.advance(10_000);
    await h.command(REQUESTER, `cancel ${ids['cancelled']}`);
    // Timed out.
    ids['timedOut'] = await ask('prod-db 30m from 203.0.113.11 anyone?');
    // Auto-approved, then ended early with Done.
    await h.advance(10_000);
    await h.command(REQUESTER, 'staging-db 1h from 203.0.113.12 auto');
    ids['auto'] =
      (await h.hallpass.useCases.overview()).active.find((e) => e.grant.resourceId === 'staging-db')?.grant
        .requestId ?? '';
    await h.click(REQUESTER, ACTION.doneGrant, (await grantOf(ids['auto']))?.id ?? '');
    // Break-glass, reviewed.
    await h.advance(10_000);
    await h.command(
      REQUESTER,
      'prod-db 20m from 203.0.113.13 --break-glass primary database is down and nobody can log in',
    );
    ids['breakGlass'] =
      (await h.hallpass.useCases.overview()).active.find((e) => e.grant.breakGlass)?.grant.requestId ?? '';
    await h.click(APPROVER, ACTION.reviewGrant, (await grantOf(ids['breakGlass']))?.id ?? '');
    // Approved, extended (approved too), then revoked by an approver.
    ids['extended'] = await ask('prod-db 30m from 203.0.113.14 long job');
    await h.click(APPROVER, ACTION.approveRequest, ids['extended']);
    await h.advance(10_000);
    await h.command(REQUESTER, `extend ${(await grantOf(ids['extended']))?.id} 15m`);
    ids['extension'] = lastRequestId(h);
    await h.click(APPROVER, ACTION.approveRequest, ids['extension']);
    await h.advance(10_000);
    await h.command(APPROVER, `revoke ${(await grantOf(ids['extended']))?.id}`);
    // A role session, still active.
    ids['role'] = await ask('prod-readonly 30m reading the logs');
    await h.click(APPROVER, ACTION.approveRequest, ids['role']);
    // AWS refusing the open: the request and the grant fail.
    ids['failed'] = await ask('prod-db 30m from 203.0.113.15 doomed');
    h.ec2.failNext('AuthorizeSecurityGroupIngress', 'UnauthorizedOperation', 403);
    await h.click(APPROVER, ACTION.approveRequest, ids['failed']);
    // A close AWS refuses once, retried until it succeeds.
    ids['retried'] = await ask('prod-db 15m from 203.0.113.16 short');
    await h.click(APPROVER, ACTION.approveRequest, ids['retried']);
    h.ec2.failNext('RevokeSecurityGroupIngress', 'InternalError', 500, 6);
    // Everything due comes due: the timeout, the expiries, the failing close and its retries.
    for (let i = 0; i < 8; i++) await h.advance(10 * MINUTE);
    await h.stopBot();
    // A bound for a hang, not a speed check: 10–15 s alone, it passed 30 s on PostgreSQL in a loaded CI run.
  }, 120_000);

  afterAll(async () => {
    await h.close();
  });

  it('finds no field on which the tables and the chain disagree, and nothing the chain does not prove', async () => {
    const record = await h.db.auditRecord();
    expect(record.chain.ok).toBe(true);
    expect(record.mismatches.map(describeMismatch)).toEqual([]);
    expect(record.rows).toHaveLength(Object.keys(ids).length);
    // Every way a request and a grant can go, as the chain tells it.
    const stateOf = new Map(record.rows.map((r) => [r.requestId, `${r.state}/${r.grantState ?? '-'}`]));
    expect(Object.fromEntries(Object.entries(ids).map(([name, id]) => [name, stateOf.get(id)]))).toEqual({
      twoVotes: 'approved/closed',
      denied: 'denied/-',
      cancelled: 'cancelled/-',
      timedOut: 'timed_out/-',
      auto: 'approved/closed',
      breakGlass: 'approved/closed',
      extended: 'approved/closed',
      extension: 'approved/-',
      role: 'approved/closed',
      failed: 'failed/failed',
      retried: 'approved/closed',
    });
    for (const row of record.rows) expect([row.requestId, row.notInChain]).toEqual([row.requestId, []]);
    // Spot checks of what the chain says.
    const byId = new Map(record.rows.map((r) => [r.requestId, r]));
    expect(byId.get(ids['twoVotes'] ?? '')?.approvers).toEqual([APPROVER, APPROVER_2]);
    expect(byId.get(ids['denied'] ?? '')?.decisionNote).toBe('not during the freeze');
    expect(byId.get(ids['extended'] ?? '')).toMatchObject({ endReason: 'revoked', endedBy: APPROVER });
    expect(byId.get(ids['extension'] ?? '')).toMatchObject({
      requestKind: 'extension',
      address: '203.0.113.14/32',
    });
    expect(byId.get(ids['breakGlass'] ?? '')).toMatchObject({ breakGlass: true, reviewedBy: APPROVER });
    expect(byId.get(ids['role'] ?? '')).toMatchObject({ resourceKind: 'aws-role' });
  });

  it('still agrees for a close retried after AWS refused it (the grant row keeps its count of attempts)', async () => {
    const [row] = await h.db.rows<{ close_attempts: number }>(
      'SELECT close_attempts FROM grants WHERE request_id = ?',
      [ids['retried']],
    );
    expect(row?.close_attempts).toBeGreaterThan(0);
    expect(h.ec2.rules(GROUP_ID)).toEqual([]);
  });
});
