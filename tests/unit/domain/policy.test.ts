import {
  type Actor,
  type AwsRoleResource,
  DEFAULTS,
  describePorts,
  detailsShown,
  findResource,
  isAdmin,
  isApprover,
  matchesAny,
  mayRequest,
  type Policy,
  type PortRange,
  type Resource,
  requestableBy,
  type SecurityGroupResource,
} from '../../../src/domain/policy';

const actor = (userId: string, ...groups: string[]): Actor => ({
  userId,
  groups: new Set(groups),
  standing: 'member',
});

const sg = (overrides: Partial<SecurityGroupResource> = {}): SecurityGroupResource => ({
  id: 'prod-db',
  kind: 'security-group',
  region: 'us-east-1',
  channel: 'C0123ABCD',
  approvers: ['@sre'],
  approvals: 1,
  autoApprove: false,
  allowSelfApproval: false,
  minDuration: DEFAULTS.minDuration,
  maxDuration: 60 * 60_000,
  approvalTimeout: DEFAULTS.approvalTimeout,
  breakGlass: false,
  breakGlassMaxDuration: DEFAULTS.breakGlassMaxDuration,
  securityGroupId: 'sg-0123456789abcdef0',
  protocol: 'tcp',
  ports: [{ from: 5432, to: 5432 }],
  maxPrefix: DEFAULTS.maxPrefix,
  ...overrides,
});

const role = (overrides: Partial<AwsRoleResource> = {}): AwsRoleResource => ({
  id: 'prod-readonly',
  kind: 'aws-role',
  region: 'us-east-1',
  channel: 'C0123ABCD',
  approvers: ['@sre'],
  approvals: 1,
  autoApprove: false,
  allowSelfApproval: false,
  minDuration: DEFAULTS.minDuration,
  maxDuration: 60 * 60_000,
  approvalTimeout: DEFAULTS.approvalTimeout,
  breakGlass: false,
  breakGlassMaxDuration: DEFAULTS.breakGlassMaxDuration,
  roleArn: 'arn:aws:iam::123456789012:role/ProdReadOnly',
  ...overrides,
});

const policy = (resources: readonly Resource[], admins: readonly string[] = ['@security']): Policy => ({
  admins,
  approvalTimeout: DEFAULTS.approvalTimeout,
  warnBefore: DEFAULTS.warnBefore,
  resources,
});

describe('matchesAny', () => {
  it.each<[string, readonly string[], Actor, boolean]>([
    ['matches a user named by id', ['U123'], actor('U123'), true],
    ['matches a user through a group handle', ['@sre'], actor('U123', 'sre'), true],
    ['matches when any one principal matches', ['U999', '@dba', '@sre'], actor('U123', 'sre'), true],
    ['does not match another user id', ['U999'], actor('U123', 'sre'), false],
    ['does not match a group the actor is not in', ['@dba'], actor('U123', 'sre'), false],
    ['does not match an empty list', [], actor('U123', 'sre'), false],
    ['does not treat a user id as a group handle', ['@U123'], actor('U123'), false],
    ['does not treat a group name written without @ as a group', ['sre'], actor('U123', 'sre'), false],
    ['compares ids exactly (no case folding)', ['u123'], actor('U123'), false],
    ['does not match a bare @', ['@'], actor('U123', 'sre'), false],
  ])('%s', (_name, principals, who, expected) => {
    expect(matchesAny(principals, who)).toBe(expected);
  });
});

describe('mayRequest', () => {
  it.each<[string, Resource, Actor, boolean]>([
    ['lets anyone ask when requesters is absent', sg({ requesters: undefined }), actor('U1'), true],
    ['lets a listed group member ask', sg({ requesters: ['@backend'] }), actor('U1', 'backend'), true],
    ['lets a listed user ask', sg({ requesters: ['U1'] }), actor('U1'), true],
    ['refuses someone not listed', sg({ requesters: ['@backend'] }), actor('U1', 'frontend'), false],
    [
      'refuses everyone when requesters is an empty list',
      sg({ requesters: [] }),
      actor('U1', 'backend'),
      false,
    ],
    [
      'does not let an approver ask just for being an approver',
      sg({ requesters: ['@backend'], approvers: ['@sre'] }),
      actor('U1', 'sre'),
      false,
    ],
  ])('%s', (_name, resource, who, expected) => {
    expect(mayRequest(resource, who)).toBe(expected);
  });
});

describe('isApprover', () => {
  it.each<[string, Resource, Actor, boolean]>([
    ['accepts a member of an approver group', sg({ approvers: ['@sre'] }), actor('U1', 'sre'), true],
    ['accepts an approver named by id', role({ approvers: ['U1'] }), actor('U1'), true],
    [
      'refuses a requester who is not an approver',
      sg({ approvers: ['@sre'], requesters: ['@backend'] }),
      actor('U1', 'backend'),
      false,
    ],
    ['refuses everyone when approvers is empty', sg({ approvers: [] }), actor('U1', 'sre'), false],
  ])('%s', (_name, resource, who, expected) => {
    expect(isApprover(resource, who)).toBe(expected);
  });
});

describe('isAdmin', () => {
  it.each<[string, readonly string[], Actor, boolean]>([
    ['accepts a member of an admin group', ['@security'], actor('U1', 'security'), true],
    ['accepts an admin named by id', ['U1'], actor('U1'), true],
    ['refuses an approver who is not an admin', ['@security'], actor('U1', 'sre'), false],
    ['refuses everyone when there are no admins', [], actor('U1', 'security'), false],
  ])('%s', (_name, admins, who, expected) => {
    expect(isAdmin(policy([sg()], admins), who)).toBe(expected);
  });
});

describe('requestableBy', () => {
  const open = sg({ id: 'open-db', requesters: undefined });
  const backendOnly = sg({ id: 'backend-db', requesters: ['@backend'] });
  const userOnly = role({ id: 'u1-role', requesters: ['U1'] });
  const all = policy([open, backendOnly, userOnly]);

  it.each<[string, Actor, readonly string[]]>([
    ['lists only unrestricted resources for an outsider', actor('U9'), ['open-db']],
    ['adds group-restricted resources for a member', actor('U9', 'backend'), ['open-db', 'backend-db']],
    [
      'adds user-restricted resources for that user, in policy order',
      actor('U1', 'backend'),
      ['open-db', 'backend-db', 'u1-role'],
    ],
  ])('%s', (_name, who, ids) => {
    expect(requestableBy(all, who).map((r) => r.id)).toEqual(ids);
  });
});

describe('findResource', () => {
  const all = policy([sg({ id: 'prod-db' }), role({ id: 'prod-readonly' })]);

  it.each([
    ['prod-db', 'prod-db'],
    ['prod-readonly', 'prod-readonly'],
    ['PROD-DB', undefined],
    ['nope', undefined],
  ])('finds %j → %j', (id, expected) => {
    expect(findResource(all, id)?.id).toBe(expected);
  });
});

describe('describePorts', () => {
  it.each<[string, 'tcp' | 'udp', readonly PortRange[], string]>([
    ['a single port', 'tcp', [{ from: 5432, to: 5432 }], 'tcp 5432'],
    ['a range', 'tcp', [{ from: 8000, to: 8080 }], 'tcp 8000-8080'],
    [
      'ports and ranges in policy order',
      'tcp',
      [
        { from: 5432, to: 5432 },
        { from: 8000, to: 8080 },
      ],
      'tcp 5432, 8000-8080',
    ],
    ['udp', 'udp', [{ from: 53, to: 53 }], 'udp 53'],
  ])('describes %s', (_name, protocol, ports, expected) => {
    expect(describePorts(sg({ protocol, ports }))).toBe(expected);
  });
});

describe('detailsShown: addresses and reasons in the workspace-wide lists', () => {
  const db = sg({ approvers: ['@sre'] });
  const p = policy([db]);
  it.each([
    ['the requester', actor('U_REQ'), true],
    ['an approver of the resource', actor('U_APP', 'sre'), true],
    ['an admin', actor('U_ADM', 'security'), true],
    ['anyone else', actor('U_OTHER', 'backend'), false],
  ])('%s: %s', (_who, viewer, shown) => {
    expect(detailsShown(p, db, 'U_REQ', viewer)).toEqual({ address: shown, reason: shown });
  });

  it('shows what the policy opens to everyone, and nothing more', () => {
    const open = { ...p, visibility: { addresses: 'everyone', reasons: 'involved' } } as const;
    expect(detailsShown(open, db, 'U_REQ', actor('U_OTHER'))).toEqual({ address: true, reason: false });
  });

  it('shows nothing to an outsider when the resource has left the policy (no approvers to match)', () => {
    expect(detailsShown(p, undefined, 'U_REQ', actor('U_APP', 'sre'))).toEqual({
      address: false,
      reason: false,
    });
  });
});
