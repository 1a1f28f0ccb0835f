import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ACCOUNT_PLACEHOLDER,
  accountFromArns,
  allowedActions,
  type IamPolicyDocument,
  iamPolicyFor,
  NEEDS_NO_PERMISSION,
} from '../../../src/app/iam-policy';
import { loadPolicy, parsePolicy } from '../../../src/config/policy';

const ROOT = path.resolve(__dirname, '../../..');
const AWS_ADAPTERS = path.join(ROOT, 'src/adapters/aws');

/** A policy that uses everything: two regions, a role, a group in another account, cut connections. */
const FULL = parsePolicy(`
naclRuleNumbers: "100-119"
resources:
  - id: db
    kind: security-group
    region: us-east-1
    securityGroupId: sg-0123456789abcdef0
    ports: [5432]
    maxDuration: 1h
    channel: C0123ABCD
    approvers: [U0AAAAAAA]
    cutConnections: nacl
  - id: web
    kind: security-group
    region: eu-west-1
    securityGroupId: sg-0fedcba9876543210
    ports: [443]
    maxDuration: 1h
    channel: C0123ABCD
    approvers: [U0AAAAAAA]
    assumeRoleArn: arn:aws:iam::210987654321:role/HallpassNetworkAdmin
    backstopRoleArn: arn:aws:iam::210987654321:role/hallpass-backstop
  - id: ro
    kind: aws-role
    roleArn: arn:aws:iam::123456789012:role/ProdReadOnly
    region: us-east-1
    maxDuration: 1h
    channel: C0123ABCD
    approvers: [U0AAAAAAA]
`);
const BACKSTOP = { roleArn: 'arn:aws:iam::123456789012:role/hallpass-backstop', group: 'hallpass' };

const statement = (doc: IamPolicyDocument, sid: string) => doc.Statement.find((s) => s.Sid === sid);
const list = (v: string | readonly string[] | undefined): readonly string[] =>
  v === undefined ? [] : typeof v === 'string' ? [v] : v;

/** The SDK's service prefix of each client package the adapters import commands from. */
const SERVICE: Record<string, string> = {
  '@aws-sdk/client-ec2': 'ec2',
  // The EC2 SDK's values come through this module (what the build bundles: scripts/slim-ec2.cjs).
  './ec2-sdk': 'ec2',
  '@aws-sdk/client-sts': 'sts',
  '@aws-sdk/client-iam': 'iam',
  '@aws-sdk/client-scheduler': 'scheduler',
};

/** `service:Action` for every `new XCommand(` in the AWS adapters, from the package it is imported from. */
function actionsTheAdaptersSend(): { file: string; action: string }[] {
  const found: { file: string; action: string }[] = [];
  for (const file of readdirSync(AWS_ADAPTERS).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(path.join(AWS_ADAPTERS, file), 'utf8');
    const importsFrom = new Map<string, string>();
    for (const m of text.matchAll(
      /import\s*\{([^}]*)\}\s*from\s*'(@aws-sdk\/client-[a-z0-9-]+|\.\/ec2-sdk)'/g,
    )) {
      for (const name of (m[1] ?? '').split(',').map((n) => n.replace(/^\s*type\s+/, '').trim()))
        if (name !== '') importsFrom.set(name, m[2] ?? '');
    }
    for (const m of text.matchAll(/new (\w+)Command\(/g)) {
      const command = `${m[1]}Command`;
      const service = SERVICE[importsFrom.get(command) ?? ''];
      if (service === undefined)
        throw new Error(`${file}: ${command} is not imported from a known AWS client`);
      found.push({ file, action: `${service}:${m[1]}` });
    }
  }
  return found;
}

describe('the IAM policy hallpass needs', () => {
  const full = iamPolicyFor({
    policy: FULL,
    account: '123456789012',
    backstop: BACKSTOP,
    self: 'arn:aws:iam::123456789012:role/hallpass',
  });

  it('covers every AWS call the adapters make (add the action to src/app/iam-policy.ts when this fails)', () => {
    const sent = actionsTheAdaptersSend();
    // The adapters' calls are found at all: the enumeration itself cannot silently come back empty.
    expect(sent.map((s) => s.action)).toEqual(
      expect.arrayContaining(['ec2:AuthorizeSecurityGroupIngress', 'iam:PutRolePolicy', 'sts:AssumeRole']),
    );
    const allowed = allowedActions(full);
    expect(sent.filter((s) => !allowed.has(s.action) && !NEEDS_NO_PERMISSION.includes(s.action))).toEqual([]);
  });

  it('lets sessions name the person: AssumeRole with TagSession and SetSourceIdentity on the listed roles only', () => {
    const s = statement(full, 'AssumeListedRolesAsThePerson');
    expect(list(s?.Action)).toEqual(['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity']);
    expect(list(s?.Resource)).toEqual(['arn:aws:iam::123456789012:role/ProdReadOnly']);
  });

  it('opens and closes only on the listed groups, each in its region and account', () => {
    expect(list(statement(full, 'OpenAndCloseIngressOnListedGroups')?.Resource)).toEqual([
      'arn:aws:ec2:us-east-1:123456789012:security-group/sg-0123456789abcdef0',
      'arn:aws:ec2:eu-west-1:210987654321:security-group/sg-0fedcba9876543210',
      'arn:aws:ec2:us-east-1:123456789012:security-group-rule/*',
      'arn:aws:ec2:eu-west-1:210987654321:security-group-rule/*',
    ]);
    expect(list(statement(full, 'ManageGroupsInOtherAccounts')?.Resource)).toEqual([
      'arn:aws:iam::210987654321:role/HallpassNetworkAdmin',
    ]);
  });

  it('adds network ACL entries only for the regions of resources that cut connections', () => {
    expect(list(statement(full, 'CutConnectionsWithNetworkAclEntries')?.Resource)).toEqual([
      'arn:aws:ec2:us-east-1:123456789012:network-acl/*',
    ]);
    const plain = iamPolicyFor({ policy: loadPolicy(path.join(ROOT, 'policy.example.yml')), account: '1' });
    expect([...allowedActions(plain)].filter((a) => a.includes('NetworkAcl'))).toEqual([]);
  });

  it('adds Scheduler and PassRole (to Scheduler only) only with the backstop on', () => {
    expect(list(statement(full, 'HoldTheBackstops')?.Resource)).toEqual([
      'arn:aws:scheduler:us-east-1:123456789012:schedule/hallpass/hallpass-*',
      'arn:aws:scheduler:us-east-1:123456789012:schedule-group/hallpass',
      'arn:aws:scheduler:eu-west-1:210987654321:schedule/hallpass/hallpass-*',
      'arn:aws:scheduler:eu-west-1:210987654321:schedule-group/hallpass',
    ]);
    const pass = statement(full, 'HandTheBackstopRoleToScheduler');
    expect(list(pass?.Resource)).toEqual([
      BACKSTOP.roleArn,
      'arn:aws:iam::210987654321:role/hallpass-backstop',
    ]);
    expect(pass?.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
    const without = iamPolicyFor({ policy: FULL, account: '123456789012' });
    expect(
      [...allowedActions(without)].filter((a) => a.startsWith('scheduler:') || a === 'iam:PassRole'),
    ).toEqual([]);
  });

  it('takes the account from the role ARNs only when they agree on one', () => {
    expect(accountFromArns(FULL)).toBe('123456789012');
    expect(accountFromArns(FULL, 'arn:aws:iam::999999999999:role/b')).toBeUndefined();
    const noRoles = parsePolicy(`
resources:
  - { id: db, kind: security-group, region: us-east-1, securityGroupId: sg-0123456789abcdef0, ports: [22], maxDuration: 1h, channel: C0123ABCD, approvers: [U0AAAAAAA] }
`);
    expect(accountFromArns(noRoles)).toBeUndefined();
    expect(JSON.stringify(iamPolicyFor({ policy: noRoles, account: ACCOUNT_PLACEHOLDER }))).toContain(
      `arn:aws:ec2:us-east-1:${ACCOUNT_PLACEHOLDER}:security-group/sg-0123456789abcdef0`,
    );
  });

  it('is what docs/aws.md shows for policy.example.yml', () => {
    const readme = readFileSync(path.join(ROOT, 'docs', 'aws.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Minimal IAM policy for hallpass'));
    const example = /For `policy\.example\.yml`[^\n]*\n\n```json\n([\s\S]*?)\n```/.exec(section)?.[1];
    const policy = loadPolicy(path.join(ROOT, 'policy.example.yml'));
    const account = accountFromArns(policy) ?? ACCOUNT_PLACEHOLDER;
    expect(example).toBe(JSON.stringify(iamPolicyFor({ policy, account }), null, 2));
  });
});
