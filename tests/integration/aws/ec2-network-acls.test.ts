import { EC2Client } from '@aws-sdk/client-ec2';
import {
  createEc2NetworkAcls,
  DEFAULT_TCP_ESTABLISHED_SECONDS,
} from '../../../src/adapters/aws/ec2-network-acls';
import { InfraError } from '../../../src/app/infra-error';
import type { AclDeny, NetworkAcls, RuleTarget } from '../../../src/app/ports';
import { type FakeEc2, startFakeEc2 } from '../../support/fake-ec2';

const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' };
const VPC = 'vpc-0aaaaaaaaaaaaaaa1';
const SUBNET_A = 'subnet-0aaaaaaaaaaaaaaa1';
const SUBNET_B = 'subnet-0bbbbbbbbbbbbbbb2';
const SUBNET_C = 'subnet-0ccccccccccccccc3';
const SUBNET_D = 'subnet-0ddddddddddddddd4';
const GROUP_DB = 'sg-0123456789abcdef0';
const GROUP_WEB = 'sg-0fedcba9876543210';
const ACL_AB = 'acl-0aaaaaaaaaaaaaaa1';
const ACL_C = 'acl-0ccccccccccccccc3';
const ACL_D = 'acl-0ddddddddddddddd4';

const target: RuleTarget = { region: 'us-east-1', groupId: GROUP_DB };

const v4Deny: AclDeny = {
  aclId: ACL_AB,
  ruleNumber: 90,
  protocol: 'tcp',
  fromPort: 5432,
  toPort: 5432,
  cidr: '203.0.113.7/32',
};

async function rejection(promise: Promise<unknown>): Promise<InfraError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof InfraError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

let fake: FakeEc2;
let client: EC2Client;
let acls: NetworkAcls;
let clientFor: jest.Mock<EC2Client, [RuleTarget]>;

/** A fresh fake with these options; the client makes one attempt so injected faults reach the test. */
async function start(opts: Parameters<typeof startFakeEc2>[0] = {}): Promise<void> {
  fake = await startFakeEc2(opts);
  client = new EC2Client({ region: 'us-east-1', endpoint: fake.url, credentials, maxAttempts: 1 });
  clientFor = jest.fn((_target: RuleTarget) => client);
  acls = createEc2NetworkAcls({ clientFor });
}

afterEach(async () => {
  client.destroy();
  await fake.close();
});

describe('survey', () => {
  beforeEach(async () => {
    await start();
    fake.addNetworkAcl({
      id: ACL_AB,
      vpcId: VPC,
      subnetIds: [SUBNET_A, SUBNET_B],
      ipv6: true,
      entries: [
        { ruleNumber: 200, cidrBlock: '10.0.0.0/16', ruleAction: 'deny' },
        { ruleNumber: 100, protocol: '6', portRange: { from: 443, to: 443 }, cidrBlock: '0.0.0.0/0' },
        { ruleNumber: 101, ipv6CidrBlock: '::/0' },
        { ruleNumber: 50, egress: true, cidrBlock: '0.0.0.0/0' },
      ],
    });
    fake.addNetworkAcl({ id: ACL_C, vpcId: VPC, subnetIds: [SUBNET_C], isDefault: true });
    // An ACL of a subnet none of the group's interfaces is in: never part of the survey.
    fake.addNetworkAcl({
      id: ACL_D,
      vpcId: VPC,
      subnetIds: [SUBNET_D],
      entries: [{ ruleNumber: 1, cidrBlock: '0.0.0.0/0' }],
    });
  });

  it("finds the group's interfaces, their longest TCP timeout (unset counts as five days) and one entry per ACL", async () => {
    fake.addNetworkInterface({
      id: 'eni-0aaaaaaaaaaaaaaa1',
      subnetId: SUBNET_A,
      groupIds: [GROUP_DB],
      tcpEstablishedTimeout: 300,
    });
    fake.addNetworkInterface({
      id: 'eni-0bbbbbbbbbbbbbbb2',
      subnetId: SUBNET_B,
      groupIds: [GROUP_WEB, GROUP_DB],
    });
    fake.addNetworkInterface({
      id: 'eni-0ccccccccccccccc3',
      subnetId: SUBNET_C,
      groupIds: [GROUP_DB],
      tcpEstablishedTimeout: 60,
    });
    // Another group's interface, in a subnet of its own: neither it nor its ACL counts.
    fake.addNetworkInterface({ id: 'eni-0ddddddddddddddd4', subnetId: SUBNET_D, groupIds: [GROUP_WEB] });

    const survey = await acls.survey(target);

    expect(survey).toEqual({
      interfaces: 3,
      tcpEstablishedSeconds: DEFAULT_TCP_ESTABLISHED_SECONDS,
      acls: [
        // Egress 50 and the default `*` entries (32767, and 32768 for IPv6) are left out.
        { aclId: ACL_AB, ingressRuleNumbers: [100, 101, 200], ingressDenyRuleNumbers: [200] },
        // The default ACL's rule 100 allowing everything.
        { aclId: ACL_C, ingressRuleNumbers: [100], ingressDenyRuleNumbers: [] },
      ],
    });
    expect(DEFAULT_TCP_ESTABLISHED_SECONDS).toBe(432_000);
    expect(clientFor).toHaveBeenCalledWith(target);
    expect(fake.calls.map((c) => c.action)).toEqual(['DescribeNetworkInterfaces', 'DescribeNetworkAcls']);
    expect(fake.calls[0]?.params).toEqual(
      expect.objectContaining({
        'Filter.1.Name': 'group-id',
        'Filter.1.Value.1': GROUP_DB,
        MaxResults: '1000',
      }),
    );
    expect(fake.calls[1]?.params).toEqual(
      expect.objectContaining({
        'Filter.1.Name': 'association.subnet-id',
        'Filter.1.Value.1': SUBNET_A,
        'Filter.1.Value.2': SUBNET_B,
        'Filter.1.Value.3': SUBNET_C,
        MaxResults: '100',
      }),
    );
    expect(fake.calls[1]?.params).not.toHaveProperty('Filter.1.Value.4');
  });

  it('takes the longest timeout when every interface sets one', async () => {
    fake.addNetworkInterface({ subnetId: SUBNET_A, groupIds: [GROUP_DB], tcpEstablishedTimeout: 300 });
    fake.addNetworkInterface({ subnetId: SUBNET_A, groupIds: [GROUP_DB], tcpEstablishedTimeout: 7200 });
    fake.addNetworkInterface({ subnetId: SUBNET_B, groupIds: [GROUP_DB], tcpEstablishedTimeout: 60 });
    // Another group's interface with no timeout (five days) is not counted.
    fake.addNetworkInterface({ subnetId: SUBNET_C, groupIds: [GROUP_WEB] });

    const survey = await acls.survey(target);

    expect(survey.interfaces).toBe(3);
    expect(survey.tcpEstablishedSeconds).toBe(7200);
    expect(survey.acls).toEqual([
      { aclId: ACL_AB, ingressRuleNumbers: [100, 101, 200], ingressDenyRuleNumbers: [200] },
    ]);
  });

  it('counts an interface with only UDP timeouts set as having the default TCP timeout', async () => {
    fake.addNetworkInterface({ subnetId: SUBNET_A, groupIds: [GROUP_DB], tcpEstablishedTimeout: 300 });
    fake.addNetworkInterface({ subnetId: SUBNET_A, groupIds: [GROUP_DB], udpTimeout: 30 });

    expect((await acls.survey(target)).tcpEstablishedSeconds).toBe(432_000);
  });

  it('answers nothing in use, without asking for ACLs, when no interface has the group', async () => {
    fake.addNetworkInterface({ subnetId: SUBNET_A, groupIds: [GROUP_WEB] });

    expect(await acls.survey(target)).toEqual({ interfaces: 0, tcpEstablishedSeconds: 0, acls: [] });
    expect(fake.calls.map((c) => c.action)).toEqual(['DescribeNetworkInterfaces']);
  });

  it('refuses to answer when a subnet of the group has no ACL it can see', async () => {
    fake.addNetworkInterface({ subnetId: SUBNET_A, groupIds: [GROUP_DB] });
    fake.addNetworkInterface({ subnetId: 'subnet-0eeeeeeeeeeeeeee5', groupIds: [GROUP_DB] });

    const error = await rejection(acls.survey(target));

    expect(error.providerCode).toBe('NetworkAclNotFound');
    expect(error.message).toContain('subnet-0eeeeeeeeeeeeeee5');
  });

  it('raises a failed listing as an InfraError with its AWS code', async () => {
    fake.addNetworkInterface({ subnetId: SUBNET_A, groupIds: [GROUP_DB] });
    fake.failNext('DescribeNetworkInterfaces', 'RequestLimitExceeded', 503);

    const throttled = await rejection(acls.survey(target));
    expect(throttled.providerCode).toBe('RequestLimitExceeded');
    expect(throttled.retryable).toBe(true);
    expect(throttled.message).toContain('ec2.DescribeNetworkInterfaces');

    fake.failNext('DescribeNetworkAcls', 'UnauthorizedOperation', 403);
    const denied = await rejection(acls.survey(target));
    expect(denied.providerCode).toBe('UnauthorizedOperation');
    expect(denied.retryable).toBe(false);
    expect(denied.message).toContain('ec2.DescribeNetworkAcls');
  });
});

describe('survey paging', () => {
  it('reads every page of interfaces, and asks for the ACLs of 200 subnets at a time, every page', async () => {
    await start();
    // 1,250 interfaces (two pages of 1,000) in 250 subnets, each subnet with an ACL of its own: two calls
    // for the ACLs (200 + 50 subnets), the first of two pages (100 ACLs each at most).
    const subnets = Array.from({ length: 250 }, (_, i) => `subnet-${i.toString(16).padStart(17, '0')}`);
    for (const [i, subnetId] of subnets.entries()) {
      fake.addNetworkAcl({
        id: `acl-${i.toString(16).padStart(17, '0')}`,
        vpcId: VPC,
        subnetIds: [subnetId],
        entries: [{ ruleNumber: 10 + i, cidrBlock: '0.0.0.0/0' }],
      });
    }
    for (let i = 0; i < 1250; i++) {
      fake.addNetworkInterface({
        subnetId: subnets[i % subnets.length] ?? SUBNET_A,
        groupIds: [GROUP_DB],
        tcpEstablishedTimeout: 60 + i,
      });
    }

    const survey = await acls.survey(target);

    expect(survey.interfaces).toBe(1250);
    expect(survey.tcpEstablishedSeconds).toBe(60 + 1249);
    expect(survey.acls).toHaveLength(250);
    expect(survey.acls[0]).toEqual({
      aclId: `acl-${'0'.repeat(17)}`,
      ingressRuleNumbers: [10],
      ingressDenyRuleNumbers: [],
    });
    expect(survey.acls.map((a) => a.aclId)).toEqual([...survey.acls.map((a) => a.aclId)].sort());
    const actions = fake.calls.map((c) => c.action);
    expect(actions.filter((a) => a === 'DescribeNetworkInterfaces')).toHaveLength(2);
    const aclCalls = fake.calls.filter((c) => c.action === 'DescribeNetworkAcls');
    expect(aclCalls).toHaveLength(3);
    const subnetCount = (params: Readonly<Record<string, string>>) =>
      Object.keys(params).filter((k) => k.startsWith('Filter.1.Value.')).length;
    expect(aclCalls.map((c) => subnetCount(c.params))).toEqual([200, 200, 50]);
    expect(aclCalls.map((c) => c.params['NextToken'])).toEqual([undefined, '100', undefined]);
  });
});

describe('addDeny', () => {
  beforeEach(async () => {
    await start({ aclEntryLimit: 3 });
    fake.addNetworkAcl({
      id: ACL_AB,
      vpcId: VPC,
      subnetIds: [SUBNET_A, SUBNET_B],
      ipv6: true,
      entries: [{ ruleNumber: 100, cidrBlock: '0.0.0.0/0' }],
    });
  });

  it('adds an inbound IPv4 deny entry for the address and ports', async () => {
    expect(await acls.addDeny(target, v4Deny)).toBe('added');

    const added = fake.aclEntries(ACL_AB).filter((e) => e.ruleNumber === 90);
    expect(added).toEqual([
      {
        ruleNumber: 90,
        protocol: '6',
        ruleAction: 'deny',
        egress: false,
        cidrBlock: '203.0.113.7/32',
        portRange: { from: 5432, to: 5432 },
      },
    ]);
    expect(fake.calls).toEqual([
      expect.objectContaining({
        action: 'CreateNetworkAclEntry',
        params: expect.objectContaining({ NetworkAclId: ACL_AB, RuleNumber: '90', Egress: 'false' }),
      }),
    ]);
    expect(fake.calls[0]?.params).not.toHaveProperty('Ipv6CidrBlock');
  });

  it('adds an IPv6 deny entry as an Ipv6CidrBlock, UDP as protocol 17', async () => {
    const entry: AclDeny = {
      aclId: ACL_AB,
      ruleNumber: 91,
      protocol: 'udp',
      fromPort: 6000,
      toPort: 6010,
      cidr: '2001:db8::7/128',
    };

    expect(await acls.addDeny(target, entry)).toBe('added');

    expect(fake.aclEntries(ACL_AB).filter((e) => e.ruleNumber === 91)).toEqual([
      {
        ruleNumber: 91,
        protocol: '17',
        ruleAction: 'deny',
        egress: false,
        ipv6CidrBlock: '2001:db8::7/128',
        portRange: { from: 6000, to: 6010 },
      },
    ]);
    expect(fake.calls[0]?.params).not.toHaveProperty('CidrBlock');
  });

  it("answers 'exists' for a number already taken, leaving that entry alone", async () => {
    expect(await acls.addDeny(target, { ...v4Deny, ruleNumber: 100 })).toBe('exists');

    expect(fake.aclEntries(ACL_AB).filter((e) => e.ruleNumber === 100 && !e.egress)).toEqual([
      expect.objectContaining({ ruleAction: 'allow', protocol: '-1', cidrBlock: '0.0.0.0/0' }),
    ]);
  });

  it("answers 'full' when the ACL has no room", async () => {
    expect(await acls.addDeny(target, { ...v4Deny, ruleNumber: 1 })).toBe('added');
    expect(await acls.addDeny(target, { ...v4Deny, ruleNumber: 2 })).toBe('added');

    expect(await acls.addDeny(target, { ...v4Deny, ruleNumber: 3 })).toBe('full');
    expect(fake.aclEntries(ACL_AB).some((e) => e.ruleNumber === 3)).toBe(false);
  });

  it('raises any other failure as an InfraError with its AWS code', async () => {
    fake.failNext('CreateNetworkAclEntry', 'UnauthorizedOperation', 403);
    const denied = await rejection(acls.addDeny(target, v4Deny));
    expect(denied.providerCode).toBe('UnauthorizedOperation');
    expect(denied.retryable).toBe(false);
    expect(denied.message).toContain('ec2.CreateNetworkAclEntry');

    fake.failNext('CreateNetworkAclEntry', 'RequestLimitExceeded', 503);
    expect((await rejection(acls.addDeny(target, v4Deny))).retryable).toBe(true);

    const unknown = await rejection(acls.addDeny(target, { ...v4Deny, aclId: 'acl-0999999999999999a' }));
    expect(unknown.providerCode).toBe('InvalidNetworkAclID.NotFound');
    expect(fake.aclEntries(ACL_AB).some((e) => e.ruleNumber === 90)).toBe(false);
  });
});

describe('removeDeny', () => {
  beforeEach(async () => {
    await start();
    fake.addNetworkAcl({
      id: ACL_AB,
      vpcId: VPC,
      subnetIds: [SUBNET_A],
      entries: [
        {
          ruleNumber: 90,
          ruleAction: 'deny',
          protocol: '6',
          portRange: { from: 5432, to: 5432 },
          cidrBlock: '203.0.113.7/32',
        },
        { ruleNumber: 90, egress: true, cidrBlock: '0.0.0.0/0' },
      ],
    });
  });

  it('removes the inbound entry, and succeeds again once it is gone', async () => {
    await acls.removeDeny(target, ACL_AB, 90);
    await acls.removeDeny(target, ACL_AB, 90);

    const entries = fake.aclEntries(ACL_AB);
    expect(entries.some((e) => e.ruleNumber === 90 && !e.egress)).toBe(false);
    // The outbound entry with the same number is not touched.
    expect(entries.some((e) => e.ruleNumber === 90 && e.egress)).toBe(true);
    expect(fake.calls.map((c) => [c.action, c.params['Egress'], c.params['RuleNumber']])).toEqual([
      ['DeleteNetworkAclEntry', 'false', '90'],
      ['DeleteNetworkAclEntry', 'false', '90'],
    ]);
  });

  it('raises an unknown ACL (what another account sees) instead of taking it for success', async () => {
    fake.addNetworkAcl({ id: ACL_C, vpcId: VPC, subnetIds: [SUBNET_C], account: '210987654321' });

    const other = await rejection(acls.removeDeny(target, ACL_C, 90));
    expect(other.providerCode).toBe('InvalidNetworkAclID.NotFound');
    expect(other.message).toContain('ec2.DeleteNetworkAclEntry');

    const missing = await rejection(acls.removeDeny(target, 'acl-0999999999999999a', 90));
    expect(missing.providerCode).toBe('InvalidNetworkAclID.NotFound');
  });

  it('raises any other failure as an InfraError with its AWS code', async () => {
    fake.failNext('DeleteNetworkAclEntry', 'InternalError', 500);

    const error = await rejection(acls.removeDeny(target, ACL_AB, 90));

    expect(error.providerCode).toBe('InternalError');
    expect(error.retryable).toBe(true);
    expect(fake.aclEntries(ACL_AB).some((e) => e.ruleNumber === 90 && !e.egress)).toBe(true);
  });
});
