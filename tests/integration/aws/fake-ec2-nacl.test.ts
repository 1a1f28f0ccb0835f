import {
  CreateNetworkAclEntryCommand,
  type CreateNetworkAclEntryCommandInput,
  DeleteNetworkAclEntryCommand,
  DescribeNetworkAclsCommand,
  DescribeNetworkInterfacesCommand,
  EC2Client,
  paginateDescribeNetworkAcls,
  paginateDescribeNetworkInterfaces,
  ReplaceNetworkAclEntryCommand,
} from '@aws-sdk/client-ec2';
import { type FakeEc2, startFakeEc2 } from '../../support/fake-ec2';

const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' };
const VPC = 'vpc-0aaaaaaaaaaaaaaa1';
const SUBNET_A = 'subnet-0aaaaaaaaaaaaaaa1';
const SUBNET_B = 'subnet-0bbbbbbbbbbbbbbb2';
const SUBNET_C = 'subnet-0ccccccccccccccc3';
const GROUP_DB = 'sg-0123456789abcdef0';
const GROUP_WEB = 'sg-0fedcba9876543210';
const ACL = 'acl-0123456789abcdef0';
const OTHER_ACL = 'acl-0fedcba9876543210';

/** A valid ingress deny of TCP 5432 from one IPv4 address; `overrides` replace members. */
const denyEntry = (
  overrides: Partial<CreateNetworkAclEntryCommandInput> = {},
): CreateNetworkAclEntryCommandInput => ({
  NetworkAclId: ACL,
  RuleNumber: 90,
  Protocol: '6',
  RuleAction: 'deny',
  Egress: false,
  CidrBlock: '203.0.113.7/32',
  PortRange: { From: 5432, To: 5432 },
  ...overrides,
});

/** The error a call fails with (the test fails if it succeeds). */
async function rejection(
  promise: Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

let fake: FakeEc2;
let client: EC2Client;

/** A fresh fake with these options; the client makes one attempt so injected faults reach the test. */
async function start(opts: Parameters<typeof startFakeEc2>[0] = {}): Promise<void> {
  fake = await startFakeEc2(opts);
  client = new EC2Client({ region: 'us-east-1', endpoint: fake.url, credentials, maxAttempts: 1 });
}

beforeEach(async () => {
  await start();
  fake.addNetworkAcl({ id: ACL, vpcId: VPC, subnetIds: [SUBNET_A, SUBNET_B] });
  fake.addNetworkAcl({ id: OTHER_ACL, vpcId: VPC, subnetIds: [SUBNET_C], isDefault: true });
});

afterEach(async () => {
  client.destroy();
  await fake.close();
});

describe('network interfaces in the fake EC2 through the real EC2Client', () => {
  beforeEach(() => {
    fake.addNetworkInterface({
      id: 'eni-0aaaaaaaaaaaaaaa1',
      subnetId: SUBNET_A,
      groupIds: [GROUP_DB],
      groupNames: { [GROUP_DB]: 'db' },
      tcpEstablishedTimeout: 350,
      udpStreamTimeout: 120,
      udpTimeout: 30,
    });
    fake.addNetworkInterface({
      id: 'eni-0bbbbbbbbbbbbbbb2',
      subnetId: SUBNET_B,
      groupIds: [GROUP_WEB, GROUP_DB],
    });
    fake.addNetworkInterface({ id: 'eni-0ccccccccccccccc3', subnetId: SUBNET_A, groupIds: [GROUP_WEB] });
  });

  it('finds the interfaces of a group across subnets, with their connection-tracking timeouts', async () => {
    const out = await client.send(
      new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'group-id', Values: [GROUP_DB] }] }),
    );

    expect(out.NetworkInterfaces).toEqual([
      expect.objectContaining({
        NetworkInterfaceId: 'eni-0aaaaaaaaaaaaaaa1',
        SubnetId: SUBNET_A,
        VpcId: VPC,
        Status: 'in-use',
        Groups: [{ GroupId: GROUP_DB, GroupName: 'db' }],
        ConnectionTrackingConfiguration: {
          TcpEstablishedTimeout: 350,
          UdpStreamTimeout: 120,
          UdpTimeout: 30,
        },
      }),
      expect.objectContaining({
        NetworkInterfaceId: 'eni-0bbbbbbbbbbbbbbb2',
        SubnetId: SUBNET_B,
        VpcId: VPC,
        Groups: [
          { GroupId: GROUP_WEB, GroupName: GROUP_WEB },
          { GroupId: GROUP_DB, GroupName: GROUP_DB },
        ],
      }),
    ]);
    // No timeout set: EC2 leaves the configuration out.
    expect(out.NetworkInterfaces?.[1]?.ConnectionTrackingConfiguration).toBeUndefined();
    expect(fake.calls).toEqual([
      expect.objectContaining({
        action: 'DescribeNetworkInterfaces',
        params: expect.objectContaining({ 'Filter.1.Name': 'group-id', 'Filter.1.Value.1': GROUP_DB }),
      }),
    ]);
  });

  it('ANDs filters, ORs their values, and selects by NetworkInterfaceId', async () => {
    const both = await client.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [
          { Name: 'subnet-id', Values: [SUBNET_A] },
          { Name: 'group-id', Values: [GROUP_WEB, 'sg-0000000000000000a'] },
          { Name: 'vpc-id', Values: ['vpc-*'] },
        ],
      }),
    );
    expect(both.NetworkInterfaces?.map((n) => n.NetworkInterfaceId)).toEqual(['eni-0ccccccccccccccc3']);

    const byId = await client.send(
      new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: ['eni-0bbbbbbbbbbbbbbb2'] }),
    );
    expect(byId.NetworkInterfaces?.map((n) => n.NetworkInterfaceId)).toEqual(['eni-0bbbbbbbbbbbbbbb2']);
    expect(fake.calls[1]?.params).toMatchObject({ 'NetworkInterfaceId.1': 'eni-0bbbbbbbbbbbbbbb2' });
  });

  it('pages with MaxResults and NextToken', async () => {
    for (let i = 0; i < 9; i += 1) fake.addNetworkInterface({ subnetId: SUBNET_C, groupIds: [GROUP_WEB] });

    const first = await client.send(new DescribeNetworkInterfacesCommand({ MaxResults: 5 }));
    expect(first.NetworkInterfaces).toHaveLength(5);
    expect(first.NextToken).toEqual(expect.any(String));

    const ids: string[] = [];
    for await (const page of paginateDescribeNetworkInterfaces({ client, pageSize: 5 }, {})) {
      ids.push(...(page.NetworkInterfaces ?? []).map((n) => n.NetworkInterfaceId ?? ''));
    }
    expect(ids).toHaveLength(12);
    expect(new Set(ids).size).toBe(12);
  });

  it('answers the errors EC2 answers', async () => {
    const missing = await rejection(
      client.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: ['eni-0ddddddddddddddd4'] })),
    );
    expect(missing.name).toBe('InvalidNetworkInterfaceID.NotFound');
    expect(missing.$metadata?.httpStatusCode).toBe(400);

    const badFilter = await rejection(
      client.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'colour', Values: ['red'] }] })),
    );
    expect(badFilter.name).toBe('InvalidParameterValue');

    const combined = await rejection(
      client.send(
        new DescribeNetworkInterfacesCommand({
          NetworkInterfaceIds: ['eni-0aaaaaaaaaaaaaaa1'],
          MaxResults: 5,
        }),
      ),
    );
    expect(combined.name).toBe('InvalidParameterCombination');
  });

  it('hides the interfaces of another account', async () => {
    fake.setAccountOf((key) => (key === 'AKIDOTHER' ? '210987654321' : '123456789012'));
    const other = new EC2Client({
      region: 'us-east-1',
      endpoint: fake.url,
      credentials: { accessKeyId: 'AKIDOTHER', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    try {
      const out = await other.send(new DescribeNetworkInterfacesCommand({}));
      expect(out.NetworkInterfaces).toEqual([]);
    } finally {
      other.destroy();
    }
  });
});

describe('network ACLs in the fake EC2 through the real EC2Client', () => {
  it('finds the ACL of a subnet with its associations and default * entries', async () => {
    const out = await client.send(
      new DescribeNetworkAclsCommand({ Filters: [{ Name: 'association.subnet-id', Values: [SUBNET_B] }] }),
    );

    expect(out.NetworkAcls).toHaveLength(1);
    const acl = out.NetworkAcls?.[0];
    expect(acl).toMatchObject({ NetworkAclId: ACL, VpcId: VPC, IsDefault: false, OwnerId: '123456789012' });
    expect(acl?.Associations).toEqual([
      { NetworkAclAssociationId: expect.stringMatching(/^aclassoc-/), NetworkAclId: ACL, SubnetId: SUBNET_A },
      { NetworkAclAssociationId: expect.stringMatching(/^aclassoc-/), NetworkAclId: ACL, SubnetId: SUBNET_B },
    ]);
    expect(acl?.Entries).toEqual([
      { RuleNumber: 32767, Protocol: '-1', RuleAction: 'deny', Egress: true, CidrBlock: '0.0.0.0/0' },
      { RuleNumber: 32767, Protocol: '-1', RuleAction: 'deny', Egress: false, CidrBlock: '0.0.0.0/0' },
    ]);
    expect(fake.calls[0]?.params).toMatchObject({
      'Filter.1.Name': 'association.subnet-id',
      'Filter.1.Value.1': SUBNET_B,
    });
  });

  it("gives the VPC's default ACL AWS's allow-all rule 100, and IPv6 * entries when the VPC has IPv6", async () => {
    const out = await client.send(new DescribeNetworkAclsCommand({ NetworkAclIds: [OTHER_ACL] }));
    expect(out.NetworkAcls?.[0]?.IsDefault).toBe(true);
    expect(fake.aclEntries(OTHER_ACL).map((e) => [e.egress, e.ruleNumber, e.ruleAction])).toEqual([
      [false, 100, 'allow'],
      [false, 32767, 'deny'],
      [true, 100, 'allow'],
      [true, 32767, 'deny'],
    ]);
    expect(fake.calls[0]?.params).toMatchObject({ 'NetworkAclId.1': OTHER_ACL });

    const v6 = fake.addNetworkAcl({ vpcId: 'vpc-0ddddddddddddddd4', subnetIds: [], ipv6: true });
    expect(fake.aclEntries(v6.id)).toEqual([
      { ruleNumber: 32767, protocol: '-1', ruleAction: 'deny', egress: false, cidrBlock: '0.0.0.0/0' },
      { ruleNumber: 32768, protocol: '-1', ruleAction: 'deny', egress: false, ipv6CidrBlock: '::/0' },
      { ruleNumber: 32767, protocol: '-1', ruleAction: 'deny', egress: true, cidrBlock: '0.0.0.0/0' },
      { ruleNumber: 32768, protocol: '-1', ruleAction: 'deny', egress: true, ipv6CidrBlock: '::/0' },
    ]);
  });

  it('filters by vpc-id and network-acl-id, and pages', async () => {
    for (let i = 0; i < 6; i += 1) fake.addNetworkAcl({ vpcId: 'vpc-0eeeeeeeeeeeeeee5', subnetIds: [] });

    const inVpc = await client.send(
      new DescribeNetworkAclsCommand({ Filters: [{ Name: 'vpc-id', Values: [VPC] }] }),
    );
    expect(inVpc.NetworkAcls?.map((a) => a.NetworkAclId)).toEqual([ACL, OTHER_ACL]);

    const byId = await client.send(
      new DescribeNetworkAclsCommand({ Filters: [{ Name: 'network-acl-id', Values: [OTHER_ACL] }] }),
    );
    expect(byId.NetworkAcls?.map((a) => a.NetworkAclId)).toEqual([OTHER_ACL]);

    const ids: string[] = [];
    let pages = 0;
    for await (const page of paginateDescribeNetworkAcls({ client, pageSize: 5 }, {})) {
      pages += 1;
      ids.push(...(page.NetworkAcls ?? []).map((a) => a.NetworkAclId ?? ''));
    }
    expect(pages).toBe(2);
    expect(new Set(ids).size).toBe(8);
  });

  it('answers InvalidNetworkAclID.NotFound for an unknown ACL id', async () => {
    const error = await rejection(
      client.send(new DescribeNetworkAclsCommand({ NetworkAclIds: ['acl-0ddddddddddddddd4'] })),
    );
    expect(error.name).toBe('InvalidNetworkAclID.NotFound');
  });

  it('creates IPv4 and IPv6 deny entries and describes them, CIDRs in canonical form', async () => {
    await expect(client.send(new CreateNetworkAclEntryCommand(denyEntry()))).resolves.toBeDefined();
    await client.send(
      new CreateNetworkAclEntryCommand(
        denyEntry({ RuleNumber: 91, CidrBlock: undefined, Ipv6CidrBlock: '2001:DB8:0:0::7/128' }),
      ),
    );

    expect(fake.calls[0]).toMatchObject({
      action: 'CreateNetworkAclEntry',
      params: {
        NetworkAclId: ACL,
        RuleNumber: '90',
        Protocol: '6',
        RuleAction: 'deny',
        Egress: 'false',
        CidrBlock: '203.0.113.7/32',
        'PortRange.From': '5432',
        'PortRange.To': '5432',
      },
    });
    const out = await client.send(new DescribeNetworkAclsCommand({ NetworkAclIds: [ACL] }));
    expect(out.NetworkAcls?.[0]?.Entries?.filter((e) => e.Egress === false)).toEqual([
      {
        RuleNumber: 90,
        Protocol: '6',
        RuleAction: 'deny',
        Egress: false,
        CidrBlock: '203.0.113.7/32',
        PortRange: { From: 5432, To: 5432 },
      },
      {
        RuleNumber: 91,
        Protocol: '6',
        RuleAction: 'deny',
        Egress: false,
        Ipv6CidrBlock: '2001:db8::7/128',
        PortRange: { From: 5432, To: 5432 },
      },
      { RuleNumber: 32767, Protocol: '-1', RuleAction: 'deny', Egress: false, CidrBlock: '0.0.0.0/0' },
    ]);
    expect(fake.aclEntries(ACL).map((e) => [e.egress, e.ruleNumber])).toEqual([
      [false, 90],
      [false, 91],
      [false, 32767],
      [true, 32767],
    ]);
  });

  it('stores protocol names as numbers, host bits cleared, and ICMP type and code', async () => {
    await client.send(
      new CreateNetworkAclEntryCommand(
        denyEntry({ Protocol: 'udp', CidrBlock: '10.1.2.3/16', PortRange: { From: 53, To: 53 } }),
      ),
    );
    await client.send(
      new CreateNetworkAclEntryCommand(
        denyEntry({
          RuleNumber: 95,
          Protocol: '1',
          PortRange: undefined,
          IcmpTypeCode: { Type: 8, Code: -1 },
        }),
      ),
    );
    expect(fake.calls[1]?.params).toMatchObject({ 'Icmp.Type': '8', 'Icmp.Code': '-1' });

    const out = await client.send(new DescribeNetworkAclsCommand({ NetworkAclIds: [ACL] }));
    const entries = out.NetworkAcls?.[0]?.Entries ?? [];
    expect(entries.find((e) => e.RuleNumber === 90)).toMatchObject({
      Protocol: '17',
      CidrBlock: '10.1.0.0/16',
    });
    expect(entries.find((e) => e.RuleNumber === 95)).toMatchObject({
      Protocol: '1',
      IcmpTypeCode: { Type: 8, Code: -1 },
    });
  });

  it('refuses a second entry with the same number in the same direction, not in the other', async () => {
    await client.send(new CreateNetworkAclEntryCommand(denyEntry()));

    const duplicate = await rejection(
      client.send(new CreateNetworkAclEntryCommand(denyEntry({ CidrBlock: '198.51.100.1/32' }))),
    );
    expect(duplicate.name).toBe('NetworkAclEntryAlreadyExists');
    expect(duplicate.$metadata?.httpStatusCode).toBe(400);

    await client.send(new CreateNetworkAclEntryCommand(denyEntry({ Egress: true })));
    // Another ACL has its own numbering.
    await client.send(new CreateNetworkAclEntryCommand(denyEntry({ NetworkAclId: OTHER_ACL })));
    expect(fake.aclEntries(ACL).filter((e) => e.ruleNumber === 90)).toHaveLength(2);
  });

  it('answers the parameter errors EC2 answers', async () => {
    const codeOf = async (input: CreateNetworkAclEntryCommandInput) =>
      (await rejection(client.send(new CreateNetworkAclEntryCommand(input)))).name;

    expect(await codeOf(denyEntry({ NetworkAclId: 'acl-0ddddddddddddddd4' }))).toBe(
      'InvalidNetworkAclID.NotFound',
    );
    expect(await codeOf(denyEntry({ RuleNumber: 0 }))).toBe('InvalidParameterValue');
    expect(await codeOf(denyEntry({ RuleNumber: 32767 }))).toBe('InvalidParameterValue');
    expect(await codeOf(denyEntry({ CidrBlock: '203.0.113.300/32' }))).toBe('InvalidParameterValue');
    expect(await codeOf(denyEntry({ CidrBlock: '2001:db8::1/128' }))).toBe('InvalidParameterValue');
    expect(await codeOf(denyEntry({ CidrBlock: undefined, Ipv6CidrBlock: '2001:db8::/129' }))).toBe(
      'InvalidParameterValue',
    );
    expect(await codeOf(denyEntry({ Protocol: 'sctp-ish' }))).toBe('InvalidParameterValue');
    expect(await codeOf(denyEntry({ Protocol: '256' }))).toBe('InvalidParameterValue');
    expect(await codeOf(denyEntry({ RuleAction: 'reject' as 'deny' }))).toBe('InvalidParameterValue');
    expect(await codeOf(denyEntry({ PortRange: { From: 6000, To: 5000 } }))).toBe('InvalidParameterValue');
    expect(await codeOf(denyEntry({ PortRange: undefined }))).toBe('MissingParameter');
    expect(await codeOf(denyEntry({ Protocol: undefined as unknown as string }))).toBe('MissingParameter');
    expect(await codeOf(denyEntry({ CidrBlock: undefined }))).toBe('MissingParameter');
    expect(await codeOf(denyEntry({ Protocol: '1', PortRange: undefined }))).toBe('MissingParameter');
    expect(fake.aclEntries(ACL).filter((e) => e.ruleNumber < 32767)).toEqual([]);
  });

  it('holds 20 numbered entries per direction by default, the * entries not counted', async () => {
    for (let n = 1; n <= 20; n += 1) {
      await client.send(new CreateNetworkAclEntryCommand(denyEntry({ RuleNumber: n * 10 })));
    }

    const full = await rejection(client.send(new CreateNetworkAclEntryCommand(denyEntry({ RuleNumber: 5 }))));
    expect(full.name).toBe('NetworkAclEntryLimitExceeded');
    // The other direction has its own quota.
    await client.send(new CreateNetworkAclEntryCommand(denyEntry({ RuleNumber: 5, Egress: true })));
    expect(fake.aclEntries(ACL).filter((e) => !e.egress)).toHaveLength(21);

    // A freed slot can be used again.
    await client.send(new DeleteNetworkAclEntryCommand({ NetworkAclId: ACL, RuleNumber: 10, Egress: false }));
    await client.send(new CreateNetworkAclEntryCommand(denyEntry({ RuleNumber: 5 })));
  });

  it('takes its per-direction limit from aclEntryLimit', async () => {
    client.destroy();
    await fake.close();
    await start({ aclEntryLimit: 2 });
    fake.addNetworkAcl({ id: ACL, subnetIds: [SUBNET_A] });

    await client.send(new CreateNetworkAclEntryCommand(denyEntry({ RuleNumber: 1 })));
    await client.send(new CreateNetworkAclEntryCommand(denyEntry({ RuleNumber: 2 })));
    const full = await rejection(client.send(new CreateNetworkAclEntryCommand(denyEntry({ RuleNumber: 3 }))));
    expect(full.name).toBe('NetworkAclEntryLimitExceeded');
    expect(fake.networkAcls()[0]?.vpcId).toBe('vpc-0123456789abcdef0');
  });

  it('deletes an entry, then answers InvalidNetworkAclEntry.NotFound', async () => {
    await client.send(new CreateNetworkAclEntryCommand(denyEntry()));
    const remove = new DeleteNetworkAclEntryCommand({ NetworkAclId: ACL, RuleNumber: 90, Egress: false });

    await client.send(remove);
    expect(fake.aclEntries(ACL).map((e) => e.ruleNumber)).toEqual([32767, 32767]);
    expect(fake.calls.at(-1)?.params).toMatchObject({ NetworkAclId: ACL, RuleNumber: '90', Egress: 'false' });

    const again = await rejection(client.send(remove));
    expect(again.name).toBe('InvalidNetworkAclEntry.NotFound');
    const otherDirection = await rejection(
      client.send(new DeleteNetworkAclEntryCommand({ NetworkAclId: ACL, RuleNumber: 90, Egress: true })),
    );
    expect(otherDirection.name).toBe('InvalidNetworkAclEntry.NotFound');
    const unknownAcl = await rejection(
      client.send(
        new DeleteNetworkAclEntryCommand({
          NetworkAclId: 'acl-0ddddddddddddddd4',
          RuleNumber: 90,
          Egress: false,
        }),
      ),
    );
    expect(unknownAcl.name).toBe('InvalidNetworkAclID.NotFound');
  });

  it('replaces an existing entry in place, and only an existing one', async () => {
    await client.send(new CreateNetworkAclEntryCommand(denyEntry()));

    await client.send(
      new ReplaceNetworkAclEntryCommand({
        ...denyEntry(),
        RuleAction: 'allow',
        CidrBlock: '198.51.100.0/24',
      }),
    );
    expect(fake.aclEntries(ACL)[0]).toMatchObject({
      ruleNumber: 90,
      ruleAction: 'allow',
      cidrBlock: '198.51.100.0/24',
    });

    const missing = await rejection(
      client.send(new ReplaceNetworkAclEntryCommand(denyEntry({ RuleNumber: 91 }))),
    );
    expect(missing.name).toBe('InvalidNetworkAclEntry.NotFound');
  });

  it('keeps the ACLs of another account out of reach', async () => {
    fake.setAccountOf((key) => (key === 'AKIDOTHER' ? '210987654321' : '123456789012'));
    const other = new EC2Client({
      region: 'us-east-1',
      endpoint: fake.url,
      credentials: { accessKeyId: 'AKIDOTHER', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    try {
      expect((await other.send(new DescribeNetworkAclsCommand({}))).NetworkAcls).toEqual([]);
      const error = await rejection(other.send(new CreateNetworkAclEntryCommand(denyEntry())));
      expect(error.name).toBe('InvalidNetworkAclID.NotFound');
    } finally {
      other.destroy();
    }
  });

  it('records calls and injects faults into CreateNetworkAclEntry', async () => {
    fake.failNext('CreateNetworkAclEntry', 'RequestLimitExceeded', 503);

    const throttled = await rejection(client.send(new CreateNetworkAclEntryCommand(denyEntry())));
    expect(throttled.name).toBe('RequestLimitExceeded');
    expect(throttled.$metadata?.httpStatusCode).toBe(503);
    expect(fake.aclEntries(ACL).filter((e) => e.ruleNumber === 90)).toEqual([]);

    // A response lost after the change: the entry exists, and a retry finds it there.
    fake.failNext('CreateNetworkAclEntry', 'InternalError', 500, 1, { afterApply: true });
    expect((await rejection(client.send(new CreateNetworkAclEntryCommand(denyEntry())))).name).toBe(
      'InternalError',
    );
    expect(fake.aclEntries(ACL).filter((e) => e.ruleNumber === 90)).toHaveLength(1);
    expect((await rejection(client.send(new CreateNetworkAclEntryCommand(denyEntry())))).name).toBe(
      'NetworkAclEntryAlreadyExists',
    );

    expect(fake.calls.map((c) => c.action)).toEqual([
      'CreateNetworkAclEntry',
      'CreateNetworkAclEntry',
      'CreateNetworkAclEntry',
    ]);
    expect(fake.calls[0]?.accessKeyId).toBe('AKIDTEST');
  });
});
