import { ACTION } from '../../src/adapters/slack/ids';
import { APPROVER, CHANNEL, GROUP_ID, type Harness, REQUESTER, startHarness } from '../support/harness';
import {
  allText,
  approvalPosts,
  dmsTo,
  lastRequestId,
  replyAfter,
  threadPosts,
} from '../support/slack-queries';

const MINUTE = 60_000;
const ADDRESS = '203.0.113.7';
const ACL = 'acl-0a1b2c3d4e5f60001';
const OTHER_ACL = 'acl-0a1b2c3d4e5f60002';

const policy = (range: string) => `
admins: ["@security"]
approvalTimeout: 30m
naclRuleNumbers: "${range}"
resources:
  - id: prod-db
    kind: security-group
    region: us-east-1
    securityGroupId: ${GROUP_ID}
    protocol: tcp
    ports: [5432]
    maxDuration: 1h
    minDuration: 1m
    channel: ${CHANNEL}
    approvers: ["@sre"]
    cutConnections: nacl
  - id: prod-web
    kind: security-group
    region: us-east-1
    securityGroupId: sg-0fedcba9876543210
    ports: [443]
    maxDuration: 1h
    channel: ${CHANNEL}
    approvers: ["@sre"]
`;

async function askAndApprove(h: Harness, text: string): Promise<string> {
  const before = approvalPosts(h.slack).length;
  await h.command(REQUESTER, text);
  await h.slack.waitFor(() => approvalPosts(h.slack).length > before);
  const requestId = lastRequestId(h);
  await h.click(APPROVER, ACTION.approveRequest, requestId);
  return requestId;
}

/** The numbered inbound entries of an ACL (the default `*` entries left out). */
const entries = (h: Harness, aclId: string) =>
  h.ec2
    .aclEntries(aclId)
    .filter((e) => !e.egress && e.ruleNumber < 32767)
    .map((e) => ({
      ruleNumber: e.ruleNumber,
      action: e.ruleAction,
      protocol: e.protocol,
      cidr: e.cidrBlock ?? e.ipv6CidrBlock,
      ports: e.portRange,
    }));

/** Where the group is in use: two subnets under two ACLs, interfaces keeping idle TCP for 5 minutes. */
function seedNetwork(
  h: Harness,
  aclEntries: { ruleNumber: number; cidrBlock: string; ruleAction?: 'allow' | 'deny' }[] = [],
): void {
  h.ec2.addNetworkAcl({ id: ACL, subnetIds: ['subnet-a', 'subnet-b'], entries: aclEntries });
  h.ec2.addNetworkAcl({ id: OTHER_ACL, subnetIds: ['subnet-c'] });
  h.ec2.addNetworkInterface({ subnetId: 'subnet-a', groupIds: [GROUP_ID], tcpEstablishedTimeout: 300 });
  h.ec2.addNetworkInterface({ subnetId: 'subnet-c', groupIds: [GROUP_ID], tcpEstablishedTimeout: 120 });
}

describe('an end that cuts open connections (cutConnections: nacl)', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('denies the address in every ACL where the group is in use at the end, says so, and lifts it after the hold', async () => {
    h = await startHarness({ policy: policy('100-119') });
    seedNetwork(h, [{ ruleNumber: 100, cidrBlock: '0.0.0.0/0' }]);
    const requestId = await askAndApprove(h, `prod-db 30m from ${ADDRESS} migration`);
    const grant = (await h.hallpass.useCases.cardOf(requestId))?.grant;
    expect(grant?.state).toBe('active');
    // While it runs, nothing is denied.
    expect(entries(h, OTHER_ACL)).toEqual([]);

    await h.advance(30 * MINUTE);
    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.state).toBe('closed');
    expect(h.ec2.rules(GROUP_ID)).toEqual([]);
    const deny = { action: 'deny', protocol: '6', cidr: `${ADDRESS}/32`, ports: { from: 5432, to: 5432 } };
    // 100 is the ACL's own entry: the next free reserved number is taken.
    expect(entries(h, ACL)).toEqual([
      { ruleNumber: 100, action: 'allow', protocol: '-1', cidr: '0.0.0.0/0', ports: undefined },
      { ruleNumber: 101, ...deny },
    ]);
    expect(entries(h, OTHER_ACL)).toEqual([{ ruleNumber: 100, ...deny }]);
    await h.slack.waitFor(() =>
      threadPosts(h.slack).some((c) => /were cut at its end.*acl-0a1b2c3d4e5f60001 #101/.test(allText(c))),
    );
    await h.slack.waitFor(() => dmsTo(h.slack, REQUESTER).some((c) => /from your address/.test(allText(c))));
    const trail = (await h.hallpass.useCases.auditTrail(requestId)).map((e) => e.type);
    expect(trail.filter((t) => t === 'grant.connections_cut')).toHaveLength(2);

    // The hold: the interfaces' longest TCP timeout (300 s) and a minute. Not before…
    await h.advance(5 * MINUTE);
    await h.hallpass.useCases.reconcile();
    expect(entries(h, OTHER_ACL)).toHaveLength(1);
    // …but after it, the sweep takes the entries out and says so.
    await h.advance(MINUTE);
    const result = await h.hallpass.useCases.reconcile();
    expect(result).toMatchObject({ cutsLifted: 2, failed: 0 });
    expect(entries(h, ACL)).toEqual([
      { ruleNumber: 100, action: 'allow', protocol: '-1', cidr: '0.0.0.0/0', ports: undefined },
    ]);
    expect(entries(h, OTHER_ACL)).toEqual([]);
    await h.slack.waitFor(() => threadPosts(h.slack).some((c) => /were removed as planned/.test(allText(c))));
  });

  it('refuses clearly where the reserved range is full, and cuts where it is not', async () => {
    h = await startHarness({ policy: policy('100-100') });
    seedNetwork(h, [{ ruleNumber: 100, cidrBlock: '0.0.0.0/0' }]);
    const requestId = await askAndApprove(h, `prod-db 30m from ${ADDRESS} full`);
    await h.advance(30 * MINUTE);
    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.state).toBe('closed');
    expect(entries(h, ACL)).toHaveLength(1);
    expect(entries(h, OTHER_ACL)).toEqual([
      {
        ruleNumber: 100,
        action: 'deny',
        protocol: '6',
        cidr: `${ADDRESS}/32`,
        ports: { from: 5432, to: 5432 },
      },
    ]);
    await h.slack.waitFor(() =>
      threadPosts(h.slack).some((c) =>
        /could not be cut at its end: network ACL acl-0a1b2c3d4e5f60001 has no free rule number in 100-100/.test(
          allText(c),
        ),
      ),
    );
    expect((await h.hallpass.useCases.auditTrail(requestId)).map((e) => e.type)).toContain(
      'grant.connections_not_cut',
    );
  });

  it('lifts a cut before a new grant for the same address opens, so the new access is not denied', async () => {
    h = await startHarness({ policy: policy('100-119') });
    seedNetwork(h);
    await askAndApprove(h, `prod-db 30m from ${ADDRESS} first`);
    await h.advance(30 * MINUTE);
    expect(entries(h, OTHER_ACL)).toHaveLength(1);
    const second = await askAndApprove(h, `prod-db 30m from ${ADDRESS} again`);
    expect((await h.hallpass.useCases.cardOf(second))?.grant?.state).toBe('active');
    expect(entries(h, ACL)).toEqual([]);
    expect(entries(h, OTHER_ACL)).toEqual([]);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
  });

  it('finishes an entry AWS refused at the end on the next sweep', async () => {
    h = await startHarness({ policy: policy('100-119') });
    seedNetwork(h);
    const requestId = await askAndApprove(h, `prod-db 30m from ${ADDRESS} flaky`);
    h.ec2.failNext('CreateNetworkAclEntry', 'UnauthorizedOperation', 403);
    await h.advance(30 * MINUTE);
    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.state).toBe('closed');
    // One of the two ACLs got its entry; the other's is recorded and waits for the sweep.
    expect(entries(h, ACL).length + entries(h, OTHER_ACL).length).toBe(1);
    const result = await h.hallpass.useCases.reconcile();
    expect(result).toMatchObject({ connectionsCut: 1, failed: 0 });
    expect(entries(h, ACL)).toHaveLength(1);
    expect(entries(h, OTHER_ACL)).toHaveLength(1);
  });

  it('warns, in the log and in /access resources, where open connections outlive a grant for long', async () => {
    h = await startHarness({ policy: policy('100-119') });
    // prod-web cuts nothing, and its interfaces keep the default (five days); prod-db cuts.
    h.ec2.addNetworkAcl({ id: ACL, subnetIds: ['subnet-w', 'subnet-d'] });
    h.ec2.addNetworkInterface({ subnetId: 'subnet-w', groupIds: ['sg-0fedcba9876543210'] });
    h.ec2.addNetworkInterface({ subnetId: 'subnet-d', groupIds: [GROUP_ID] });
    await h.hallpass.useCases.reconcile();
    const warned = h.logger.lines.filter((l) => l.level === 'warn' && /outlive its end/.test(l.msg));
    expect(warned.map((l) => l.fields)).toEqual([
      { resourceId: 'prod-web', tcpEstablishedSeconds: 432000, interfaces: 1 },
    ]);
    const before = h.slack.calls.length;
    await h.command(APPROVER, 'resources');
    const reply = await replyAfter(h.slack, APPROVER, before);
    expect(reply).toMatch(
      /prod-web[\s\S]*not cut at its end: this group's network interfaces keep an idle TCP connection for up to 5d/,
    );
    expect(reply.match(/not cut at its end/g)).toHaveLength(1);
  });

  it("reports, and leaves in place, deny entries in the reserved range it has no record of (they may be another deployment's)", async () => {
    h = await startHarness({ policy: policy('100-119') });
    seedNetwork(h, [
      // A deny this database has no record of: a stale one of a lost database, or another deployment's
      // cut on the same subnets — entries carry no tags, so nothing proves which.
      { ruleNumber: 105, cidrBlock: '198.51.100.1/32', ruleAction: 'deny' },
      // Never looked at: an allow entry, even in the range, and a deny outside it.
      { ruleNumber: 110, cidrBlock: '10.0.0.0/8', ruleAction: 'allow' },
      { ruleNumber: 200, cidrBlock: '198.51.100.2/32', ruleAction: 'deny' },
    ]);
    const result = await h.hallpass.useCases.reconcile();
    await h.hallpass.useCases.reconcile();
    expect(result).toMatchObject({ strayDeniesLeft: 1, failed: 0 });
    expect(entries(h, ACL).map((e) => e.ruleNumber)).toEqual([105, 110, 200]);
    expect(h.ec2.calls.filter((c) => c.action === 'DeleteNetworkAclEntry')).toEqual([]);
    const said = h.logger.lines.filter((l) => l.level === 'warn' && /no record of/.test(l.msg));
    expect(said.map((l) => l.fields)).toEqual([{ aclId: ACL, ruleNumber: 105, resourceId: 'prod-db' }]);
  });

  it('warns at start-up that cuts are lifted only at start-ups when the periodic sweep is off', async () => {
    h = await startHarness({ policy: policy('100-119'), reconcileInterval: '0s' });
    const warned = h.logger.lines.filter(
      (l) => l.level === 'warn' && /periodic reconciliation is off/.test(l.msg),
    );
    expect(warned.map((l) => l.fields)).toEqual([{ resources: ['prod-db'] }]);
  });

  it('cuts nothing for a resource without cutConnections', async () => {
    h = await startHarness({ policy: policy('100-119') });
    h.ec2.addNetworkAcl({ id: ACL, subnetIds: ['subnet-a'] });
    h.ec2.addNetworkInterface({ subnetId: 'subnet-a', groupIds: ['sg-0fedcba9876543210'] });
    const requestId = await askAndApprove(h, `prod-web 30m from ${ADDRESS} web`);
    await h.advance(30 * MINUTE);
    expect((await h.hallpass.useCases.cardOf(requestId))?.grant?.state).toBe('closed');
    expect(h.ec2.calls.filter((c) => /NetworkAcl|NetworkInterfaces/.test(c.action))).toEqual([]);
  });
});
