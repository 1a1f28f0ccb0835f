import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type * as AccessModule from '../../../src/adapters/aws/ec2-network-access';
import type * as AclsModule from '../../../src/adapters/aws/ec2-network-acls';
import * as ec2Sdk from '../../../src/adapters/aws/ec2-sdk';
import type { AclDeny, RuleTarget } from '../../../src/app/ports';
import { type FakeEc2, startFakeEc2 } from '../../support/fake-ec2';

/**
 * The build's EC2 SDK (scripts/slim-ec2.cjs): `dist/adapters/aws/ec2-sdk.js` is replaced by a bundle of
 * only what src/adapters/aws/ec2-sdk.ts exports. Here the bundle is made as the build makes it, then the
 * EC2 adapters run on it (their `./ec2-sdk` swapped for the bundle) against the fake EC2: every command
 * hallpass sends is serialized and its answer read through the bundled schemas alone.
 */

const ROOT = path.resolve(__dirname, '../../..');
const { slimEc2 } = require(path.join(ROOT, 'scripts/slim-ec2.cjs')) as {
  slimEc2(root: string, outfile?: string): Promise<number | undefined>;
};
// Under node_modules, so the bundle's own `require`s (@smithy/*, @aws-sdk/core) resolve as in dist/.
const DIR = path.join(ROOT, 'node_modules/.cache/hallpass-slim-ec2', String(process.pid));
const BUNDLE = path.join(DIR, 'ec2-sdk.js');

const GROUP = 'sg-0123456789abcdef0';
const VPC = 'vpc-0aaaaaaaaaaaaaaa1';
const SUBNET = 'subnet-0aaaaaaaaaaaaaaa1';
const ACL = 'acl-0aaaaaaaaaaaaaaa1';
const target: RuleTarget = { region: 'us-east-1', groupId: GROUP };
const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' };
const rule = { protocol: 'tcp', fromPort: 5432, toPort: 5432, cidr: '203.0.113.7/32', family: 4 } as const;
const tags = { grantId: 'grt_abc', requesterId: 'U123', expiresAt: new Date('2026-11-25T12:30:00.000Z') };

jest.setTimeout(60_000);

let bytes: number | undefined;
beforeAll(async () => {
  mkdirSync(DIR, { recursive: true });
  bytes = await slimEc2(ROOT, BUNDLE);
});
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

it('holds the client and the commands hallpass sends, and a small part of the package', () => {
  const slim = require(BUNDLE) as Record<string, unknown>;
  expect(Object.keys(slim).sort()).toEqual(Object.keys(ec2Sdk).sort());
  for (const name of Object.keys(ec2Sdk)) expect([name, typeof slim[name]]).toEqual([name, 'function']);

  const whole = statSync(require.resolve('@aws-sdk/client-ec2')).size;
  expect(bytes).toBe(statSync(BUNDLE).size);
  expect(bytes).toBeLessThan(whole / 10);
  const text = readFileSync(BUNDLE, 'utf8');
  // Operations hallpass never calls are left out; its own are in.
  expect(text).not.toContain('RunInstances');
  expect(text).toContain('RevokeSecurityGroupIngress');
});

describe('the EC2 adapters on the bundle, against the fake EC2', () => {
  let fake: FakeEc2;
  let client: EC2Client;
  let access: typeof AccessModule;
  let acls: typeof AclsModule;

  beforeEach(async () => {
    fake = await startFakeEc2({ groups: [GROUP] });
    jest.isolateModules(() => {
      jest.doMock('../../../src/adapters/aws/ec2-sdk', () => require(BUNDLE));
      access = require('../../../src/adapters/aws/ec2-network-access');
      acls = require('../../../src/adapters/aws/ec2-network-acls');
      const slim = require('../../../src/adapters/aws/ec2-sdk') as typeof ec2Sdk;
      expect(slim.EC2Client).not.toBe(ec2Sdk.EC2Client);
      client = new slim.EC2Client({ region: 'us-east-1', endpoint: fake.url, credentials, maxAttempts: 1 });
    });
  });

  afterEach(async () => {
    client.destroy();
    jest.dontMock('../../../src/adapters/aws/ec2-sdk');
    await fake.close();
  });

  it('opens a tagged rule, finds it again as a duplicate, lists it, retags it and revokes it', async () => {
    const network = access.createEc2NetworkAccess({ clientFor: () => client, deployment: 'default' });

    const opened = await network.authorize(target, rule, tags);
    expect(opened).toEqual(expect.objectContaining({ existed: false, managed: true }));
    expect(fake.rules(GROUP).map((r) => [r.id, r.cidr, r.tags['hallpass:grant-id']])).toEqual([
      [opened.ruleId, '203.0.113.7/32', 'grt_abc'],
    ]);
    // The duplicate is found through DescribeSecurityGroupRules.
    expect(await network.authorize(target, rule, tags)).toEqual(
      expect.objectContaining({ existed: true, ruleId: opened.ruleId }),
    );
    expect((await network.listManaged(target)).map((r) => r.ruleId)).toEqual([opened.ruleId]);

    await network.retag(target, opened.ruleId, { ...tags, grantId: 'grt_def' });
    expect(fake.rules(GROUP)[0]?.tags['hallpass:grant-id']).toBe('grt_def');

    await network.revoke(target, [opened.ruleId]);
    expect(fake.rules(GROUP)).toEqual([]);
  });

  it("reads EC2's error codes: a group that does not exist fails for good", async () => {
    const network = access.createEc2NetworkAccess({ clientFor: () => client, deployment: 'default' });
    const failed = await network.authorize({ ...target, groupId: 'sg-0000000000000dead' }, rule, tags).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The adapters were loaded apart (isolateModules), with their own InfraError class.
    expect(failed).toEqual(
      expect.objectContaining({
        name: 'InfraError',
        providerCode: 'InvalidGroup.NotFound',
        retryable: false,
      }),
    );
  });

  it("surveys the group's network ACLs, adds a deny entry and removes it", async () => {
    fake.addNetworkAcl({ id: ACL, vpcId: VPC, subnetIds: [SUBNET] });
    fake.addNetworkInterface({ id: 'eni-0aaaaaaaaaaaaaaa1', subnetId: SUBNET, groupIds: [GROUP] });
    const network = acls.createEc2NetworkAcls({ clientFor: () => client });

    const survey = await network.survey(target);
    expect(survey.interfaces).toBe(1);
    expect(survey.acls.map((a) => a.aclId)).toEqual([ACL]);

    const deny: AclDeny = {
      aclId: ACL,
      ruleNumber: 90,
      protocol: 'tcp',
      fromPort: 5432,
      toPort: 5432,
      cidr: '203.0.113.7/32',
    };
    expect(await network.addDeny(target, deny)).toBe('added');
    expect(fake.aclEntries(ACL).filter((e) => e.ruleNumber === 90)).toEqual([
      expect.objectContaining({ ruleAction: 'deny', cidrBlock: '203.0.113.7/32', egress: false }),
    ]);
    await network.removeDeny(target, ACL, 90);
    expect(fake.aclEntries(ACL).some((e) => e.ruleNumber === 90)).toBe(false);
  });
});
