import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ConfigError } from '../../../src/config/env';
import { checkPolicy, loadPolicy, parsePolicy } from '../../../src/config/policy';
import type { Policy } from '../../../src/domain/policy';
import { SG_RESOURCE } from '../../support/policy-documents';

const ROOT = join(__dirname, '..', '..', '..');
const FIXTURES = join(ROOT, 'tests', 'fixtures');

const SG = SG_RESOURCE;

const ROLE = {
  id: 'prod-readonly',
  kind: 'aws-role',
  roleArn: 'arn:aws:iam::123456789012:role/ProdReadOnly',
  region: 'us-east-1',
  maxDuration: '1h',
  channel: 'C0123ABCD',
  approvers: ['@sre'],
};

const yamlOf = (doc: Record<string, unknown>): string => stringify(doc);
const sgWith = (overrides: Record<string, unknown>): string =>
  yamlOf({ resources: [{ ...SG, ...overrides }] });
const roleWith = (overrides: Record<string, unknown>): string =>
  yamlOf({ resources: [{ ...ROLE, ...overrides }] });

function problemsOf(text: string): readonly string[] {
  const result = checkPolicy(text);
  if (result.ok) throw new Error('expected the policy to be refused');
  return result.section.problems;
}

function policyOf(text: string): Policy {
  const result = checkPolicy(text);
  if (!result.ok) throw new Error(`expected a valid policy, got:\n${result.section.problems.join('\n')}`);
  return result.value;
}

describe('parsePolicy', () => {
  it('parses policy.example.yml', () => {
    const policy = parsePolicy(readFileSync(join(ROOT, 'policy.example.yml'), 'utf8'), 'policy.example.yml');
    expect(policy.admins).toEqual(['@security', 'U0123ABCD']);
    expect(policy.approvalTimeout).toBe(30 * 60_000);
    expect(policy.resources.map((r) => [r.id, r.kind, r.autoApprove])).toEqual([
      ['prod-db', 'security-group', false],
      ['staging-db', 'security-group', true],
      ['prod-readonly', 'aws-role', false],
    ]);
    const [db] = policy.resources;
    expect(db).toMatchObject({
      kind: 'security-group',
      ports: [
        { from: 5432, to: 5432 },
        { from: 8000, to: 8080 },
      ],
      minDuration: 5 * 60_000,
      defaultDuration: 30 * 60_000,
      approvalTimeout: 15 * 60_000,
    });
  });

  it('applies every default to a minimal resource', () => {
    expect(policyOf(sgWith({}))).toEqual({
      visibility: { addresses: 'involved', reasons: 'involved' },
      admins: [],
      trustedWorkspaces: [],
      approvalTimeout: 30 * 60_000,
      warnBefore: 5 * 60_000,
      resources: [
        {
          id: 'prod-db',
          kind: 'security-group',
          region: 'us-east-1',
          securityGroupId: 'sg-0123456789abcdef0',
          protocol: 'tcp',
          ports: [{ from: 5432, to: 5432 }],
          maxPrefix: { 4: 32, 6: 128 },
          channel: 'C0123ABCD',
          approvers: ['@sre'],
          approvals: 1,
          autoApprove: false,
          allowSelfApproval: false,
          allowGuests: false,
          allowExternal: false,
          minDuration: 60_000,
          maxDuration: 3_600_000,
          approvalTimeout: 30 * 60_000,
          breakGlass: false,
          breakGlassMaxDuration: 3_600_000,
        },
      ],
    });
  });

  it('reads warnBefore, breakGlass and breakGlassMaxDuration', () => {
    const p = policyOf(
      yamlOf({ warnBefore: '10m', resources: [{ ...SG, breakGlass: true, breakGlassMaxDuration: '20m' }] }),
    );
    expect(p.warnBefore).toBe(10 * 60_000);
    expect(p.resources[0]).toMatchObject({ breakGlass: true, breakGlassMaxDuration: 20 * 60_000 });
  });

  it('falls back to the top-level approvalTimeout, and lets a resource override it', () => {
    const policy = policyOf(
      yamlOf({ approvalTimeout: '10m', resources: [SG, { ...ROLE, approvalTimeout: '5m' }] }),
    );
    expect(policy.resources.map((r) => r.approvalTimeout)).toEqual([10 * 60_000, 5 * 60_000]);
  });

  it('leaves requesters undefined when absent, meaning anyone may ask', () => {
    expect(policyOf(sgWith({})).resources[0]?.requesters).toBeUndefined();
  });

  it('reads port ranges, IPv6 prefixes, udp and an assumed role', () => {
    const [r] = policyOf(
      sgWith({
        protocol: 'udp',
        ports: ['8000-8080', '53', 443],
        maxPrefix: 28,
        maxPrefixV6: 64,
        assumeRoleArn: 'arn:aws:iam::210987654321:role/HallpassNetworkAdmin',
      }),
    ).resources;
    expect(r).toMatchObject({
      protocol: 'udp',
      ports: [
        { from: 8000, to: 8080 },
        { from: 53, to: 53 },
        { from: 443, to: 443 },
      ],
      maxPrefix: { 4: 28, 6: 64 },
      assumeRoleArn: 'arn:aws:iam::210987654321:role/HallpassNetworkAdmin',
    });
  });

  it('accepts an auto-approved resource without approvers', () => {
    const [r] = policyOf(sgWith({ approvers: undefined, autoApprove: true })).resources;
    expect(r).toMatchObject({ autoApprove: true, approvers: [] });
  });

  it('allows more approvals than listed entries when a group is among them', () => {
    expect(policyOf(sgWith({ approvers: ['U0AAAAAAA', '@sre'], approvals: 3 })).resources[0]?.approvals).toBe(
      3,
    );
  });

  it.each<[string, string, string]>([
    // top level
    [
      'an unknown top-level key',
      yamlOf({ resources: [SG], admin: ['@sec'] }),
      'admin: unknown field (did you mean admins?)',
    ],
    ['no resources', yamlOf({ resources: [] }), 'resources: must list at least one resource'],
    ['missing resources', yamlOf({ admins: [] }), 'resources: required'],
    [
      'a bad admin',
      yamlOf({ admins: ['security'], resources: [SG] }),
      'admins[0]: "security" is not a Slack user id',
    ],
    [
      'a bad top-level approvalTimeout',
      yamlOf({ approvalTimeout: '30 min', resources: [SG] }),
      'approvalTimeout: "30 min" is not a duration',
    ],
    // resource, common fields
    [
      'an unknown resource key',
      sgWith({ aproverss: ['@sre'] }),
      'resources[0].aproverss: unknown field (did you mean approvers?)',
    ],
    ['a missing kind', sgWith({ kind: undefined }), 'resources[0].kind: required'],
    [
      'an unknown kind',
      sgWith({ kind: 'lambda' }),
      'resources[0].kind: "lambda" must be security-group or aws-role',
    ],
    [
      'an id with capitals',
      sgWith({ id: 'Prod_DB' }),
      'resources[0].id: "Prod_DB" must be 1-64 characters of a-z, 0-9 and -',
    ],
    ['an id longer than /access accepts', sgWith({ id: 'a'.repeat(65) }), 'resources[0].id:'],
    ['a reserved id', sgWith({ id: 'revoke' }), 'resources[0].id: "revoke" is reserved'],
    ['a missing region', sgWith({ region: undefined }), 'resources[0].region: required'],
    [
      'a malformed region',
      sgWith({ region: 'virginia' }),
      'resources[0].region: "virginia" is not an AWS region',
    ],
    ['a missing channel', sgWith({ channel: undefined }), 'resources[0].channel: required'],
    [
      'a DM as channel',
      sgWith({ channel: 'D0123ABCD' }),
      'resources[0].channel: "D0123ABCD" is not a Slack channel id',
    ],
    [
      'a channel given as a number',
      sgWith({ channel: 12345 }),
      'resources[0].channel: must be text, not number 12345',
    ],
    [
      'a bad requester',
      sgWith({ requesters: ['backend'] }),
      'resources[0].requesters[0]: "backend" is not a Slack user id',
    ],
    ['an empty requesters list', sgWith({ requesters: [] }), 'resources[0].requesters: must not be empty'],
    [
      'a bad approver',
      sgWith({ approvers: ['@sre', 'u123'] }),
      'resources[0].approvers[1]: "u123" is not a Slack user id',
    ],
    [
      'no approvers without autoApprove',
      sgWith({ approvers: undefined }),
      'resources[0].approvers: required unless autoApprove: true',
    ],
    [
      'an empty approvers list',
      sgWith({ approvers: [] }),
      'resources[0].approvers: required unless autoApprove: true',
    ],
    [
      'zero approvals',
      sgWith({ approvals: 0 }),
      'resources[0].approvals: 0 must be a whole number, at least 1',
    ],
    [
      'fractional approvals',
      sgWith({ approvals: 1.5 }),
      'resources[0].approvals: 1.5 must be a whole number',
    ],
    [
      'more approvals than listed users',
      sgWith({ approvers: ['U0AAAAAAA', 'U0BBBBBBB', 'U0AAAAAAA'], approvals: 3 }),
      'resources[0].approvals: 3 approvals needed but approvers names only 2 users',
    ],
    [
      'autoApprove as text',
      sgWith({ autoApprove: 'yes' }),
      'resources[0].autoApprove: must be true or false, not text "yes"',
    ],
    [
      'allowSelfApproval as a number',
      sgWith({ allowSelfApproval: 1 }),
      'resources[0].allowSelfApproval: must be true or false',
    ],
    ['an empty description', sgWith({ description: '' }), 'resources[0].description: must not be empty'],
    // durations
    ['a missing maxDuration', sgWith({ maxDuration: undefined }), 'resources[0].maxDuration: required'],
    [
      'an unparseable maxDuration',
      sgWith({ maxDuration: '1hr' }),
      'resources[0].maxDuration: "1hr" is not a duration',
    ],
    [
      'a number as maxDuration',
      sgWith({ maxDuration: 60 }),
      'resources[0].maxDuration: 60 is not a duration',
    ],
    [
      'a zero minDuration',
      sgWith({ minDuration: '0s' }),
      'resources[0].minDuration: must be longer than zero',
    ],
    [
      'minDuration above maxDuration',
      sgWith({ minDuration: '2h' }),
      'resources[0].minDuration: 2h is longer than maxDuration 1h',
    ],
    [
      'maxDuration below the default minimum',
      sgWith({ maxDuration: '30s' }),
      'resources[0].maxDuration: 30s is shorter than minDuration (default 1m)',
    ],
    [
      'defaultDuration above maxDuration',
      sgWith({ defaultDuration: '2h' }),
      'resources[0].defaultDuration: 2h is longer than maxDuration 1h',
    ],
    [
      'defaultDuration below minDuration',
      sgWith({ minDuration: '10m', defaultDuration: '5m' }),
      'resources[0].defaultDuration: 5m is shorter than minDuration 10m',
    ],
    [
      'a bad resource approvalTimeout',
      sgWith({ approvalTimeout: 'soon' }),
      'resources[0].approvalTimeout: "soon" is not a duration',
    ],
    // security-group fields
    [
      'a missing securityGroupId',
      sgWith({ securityGroupId: undefined }),
      'resources[0].securityGroupId: required',
    ],
    [
      'a malformed securityGroupId',
      sgWith({ securityGroupId: 'sg-XYZ' }),
      'resources[0].securityGroupId: "sg-XYZ" is not a security group id',
    ],
    ['an unknown protocol', sgWith({ protocol: 'icmp' }), 'resources[0].protocol: "icmp" must be tcp or udp'],
    ['missing ports', sgWith({ ports: undefined }), 'resources[0].ports: required'],
    ['an empty ports list', sgWith({ ports: [] }), 'resources[0].ports: must list at least one port'],
    [
      'a reversed port range',
      sgWith({ ports: [5432, '80-70'] }),
      'resources[0].ports[1]: "80-70" is not a port or a range low-high within 1-65535',
    ],
    ['port zero', sgWith({ ports: [0] }), 'resources[0].ports[0]: 0 is not a port'],
    ['a port above 65535', sgWith({ ports: [65536] }), 'resources[0].ports[0]: 65536 is not a port'],
    ['a range past 65535', sgWith({ ports: ['1-70000'] }), 'resources[0].ports[0]: "1-70000" is not a port'],
    ['a port name', sgWith({ ports: ['postgres'] }), 'resources[0].ports[0]: "postgres" is not a port'],
    [
      'maxPrefix above 32',
      sgWith({ maxPrefix: 33 }),
      'resources[0].maxPrefix: 33 must be an integer between 1 and 32',
    ],
    [
      'maxPrefix zero',
      sgWith({ maxPrefix: 0 }),
      'resources[0].maxPrefix: 0 must be an integer between 1 and 32',
    ],
    [
      'maxPrefixV6 above 128',
      sgWith({ maxPrefixV6: 129 }),
      'resources[0].maxPrefixV6: 129 must be an integer between 1 and 128',
    ],
    [
      'a malformed assumeRoleArn',
      sgWith({ assumeRoleArn: 'arn:aws:iam::1:role/X' }),
      'resources[0].assumeRoleArn: "arn:aws:iam::1:role/X" is not an IAM role ARN',
    ],
    [
      'a roleArn on a security group',
      sgWith({ roleArn: ROLE.roleArn }),
      'resources[0].roleArn: applies only to kind: aws-role',
    ],
    // aws-role fields
    ['a missing roleArn', roleWith({ roleArn: undefined }), 'resources[0].roleArn: required'],
    [
      'a user ARN as roleArn',
      roleWith({ roleArn: 'arn:aws:iam::123456789012:user/alice' }),
      'resources[0].roleArn: "arn:aws:iam::123456789012:user/alice" is not an IAM role ARN',
    ],
    [
      'ports on a role',
      roleWith({ ports: [5432] }),
      'resources[0].ports: applies only to kind: security-group',
    ],
    [
      'securityGroupId on a role',
      roleWith({ securityGroupId: SG.securityGroupId }),
      'resources[0].securityGroupId: applies only to kind: security-group',
    ],
    [
      'maxPrefix on a role',
      roleWith({ maxPrefix: 32 }),
      'resources[0].maxPrefix: applies only to kind: security-group',
    ],
    [
      'protocol on a role',
      roleWith({ protocol: 'tcp' }),
      'resources[0].protocol: applies only to kind: security-group',
    ],
    [
      'a role session longer than STS allows',
      roleWith({ maxDuration: '13h' }),
      'resources[0].maxDuration: 13h is longer than the 12h an STS role session can last',
    ],
    // across resources
    [
      'a duplicate id',
      yamlOf({ resources: [SG, { ...ROLE, id: SG.id }] }),
      'resources[1].id: "prod-db" is already used by resources[0]',
    ],
    [
      'a resource that is not a mapping',
      yamlOf({ resources: [SG, 'prod-db'] }),
      'resources[1]: must be a mapping, not text "prod-db"',
    ],
  ])('refuses %s, naming the field', (_name, text, expected) => {
    const problems = problemsOf(text);
    expect(problems).toEqual(expect.arrayContaining([expect.stringContaining(expected)]));
  });

  it.each([
    ['an empty file', '', 'the file is empty'],
    ['a comment-only file', '# nothing yet\n', 'the file is empty'],
    [
      'a list at the top',
      '- prod-db\n',
      'must be a mapping with admins, approvalTimeout and resources, not a list',
    ],
    ['broken YAML', 'resources: [\n', 'YAML: '],
    [
      'a repeated key',
      'admins: []\nadmins: ["@sre"]\nresources: []\n',
      'YAML: Map keys must be unique at line 2',
    ],
    ['an alias before its anchor', 'admins: *a\nresources: []\n', 'YAML: '],
  ])('refuses %s', (_name, text, expected) => {
    expect(problemsOf(text)).toEqual([expect.stringContaining(expected)]);
  });

  it('reports several problems at once, across resources and levels', () => {
    const text = yamlOf({
      admins: ['nobody'],
      resources: [
        { ...SG, ports: [5432, '80-70'], channel: 'general' },
        { ...ROLE, ports: [22], maxDuration: 'forever' },
      ],
    });
    expect(problemsOf(text)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^admins\[0\]: /),
        expect.stringMatching(/^resources\[0\]\.ports\[1\]: /),
        expect.stringMatching(/^resources\[0\]\.channel: /),
        expect.stringMatching(/^resources\[1\]\.ports: /),
        expect.stringMatching(/^resources\[1\]\.maxDuration: /),
      ]),
    );
    expect(problemsOf(text)).toHaveLength(5);
  });

  it('throws one ConfigError titled with the source, one line per problem', () => {
    const text = sgWith({ ports: ['80-70'], region: 'mars' });
    expect(() => parsePolicy(text, 'custom.yml')).toThrow(ConfigError);
    expect(() => parsePolicy(text, 'custom.yml')).toThrow(
      [
        'Invalid policy file custom.yml:',
        '  - resources[0].region: "mars" is not an AWS region (like us-east-1)',
        '  - resources[0].ports[0]: "80-70" is not a port or a range low-high within 1-65535',
      ].join('\n'),
    );
  });
});

describe('loadPolicy', () => {
  it('reads and parses a policy file', () => {
    const policy = loadPolicy(join(FIXTURES, 'policy-minimal.yml'));
    expect(policy.resources.map((r) => r.id)).toEqual(['prod-db']);
  });

  it('names the missing file and points at policy.example.yml', () => {
    const path = join(FIXTURES, 'does-not-exist.yml');
    expect(() => loadPolicy(path)).toThrow(ConfigError);
    expect(() => loadPolicy(path)).toThrow(`file not found: ${path}; copy policy.example.yml there`);
  });

  it('shows where a relative path was resolved to', () => {
    expect(() => loadPolicy('./no-such-policy.yml')).toThrow(
      `./no-such-policy.yml (resolved to ${join(process.cwd(), 'no-such-policy.yml')})`,
    );
  });

  it('reports every problem of the file, titled with its path', () => {
    const path = join(FIXTURES, 'policy-invalid.yml');
    expect(() => loadPolicy(path)).toThrow(
      [
        `Invalid policy file ${path}:`,
        '  - resources[0].ports[0]: "80-70" is not a port or a range low-high within 1-65535',
        '  - resources[0].aproverss: unknown field (did you mean approvers?)',
        '  - resources[0].approvers: required unless autoApprove: true',
      ].join('\n'),
    );
  });
});

describe('warnBefore', () => {
  it('accepts 0s, which turns warnings off', () => {
    const result = checkPolicy(`warnBefore: 0s\n${sgWith({})}`);
    expect(result.ok && result.value.warnBefore).toBe(0);
  });
});

describe('auditChannel and auditHeadInterval (where and how often the audit head is published)', () => {
  it('reads both, and leaves them unset by default', () => {
    expect(policyOf(`auditChannel: C0AUDIT01\nauditHeadInterval: 12h\n${sgWith({})}`)).toMatchObject({
      auditChannel: 'C0AUDIT01',
      auditHeadInterval: 12 * 3_600_000,
    });
    expect(policyOf(sgWith({}))).toMatchObject({ auditChannel: undefined, auditHeadInterval: undefined });
  });

  it.each([
    ['auditChannel: "#audit"', 'auditChannel: "#audit" is not a Slack channel id (C… or G…)'],
    ['auditHeadInterval: 30s', 'auditHeadInterval: must be at least 1m'],
    ['auditHeadInterval: daily', 'auditHeadInterval: "daily" is not a duration'],
  ])('refuses %s', (line, problem) => {
    expect(problemsOf(`${line}\n${sgWith({})}`)).toContainEqual(expect.stringContaining(problem));
  });
});

describe('visibility (who sees addresses and reasons in the workspace-wide lists)', () => {
  it('defaults to those involved for both', () => {
    expect(policyOf(yamlOf({ resources: [SG] })).visibility).toEqual({
      addresses: 'involved',
      reasons: 'involved',
    });
  });

  it('takes everyone for either, the other keeping its default', () => {
    expect(policyOf(yamlOf({ visibility: { addresses: 'everyone' }, resources: [SG] })).visibility).toEqual({
      addresses: 'everyone',
      reasons: 'involved',
    });
  });

  it.each([
    [{ addresses: 'all' }, 'visibility.addresses'],
    [{ reasons: true }, 'visibility.reasons'],
    [{ address: 'everyone' }, 'visibility'],
  ])('refuses %j, naming the field', (visibility, field) => {
    const problems = problemsOf(yamlOf({ visibility, resources: [SG] }));
    expect(problems.some((p) => p.startsWith(field))).toBe(true);
  });
});
