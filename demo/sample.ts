/**
 * The demo's pretend workspace and AWS account: a few people, their user groups, one resource channel,
 * two security groups and a role. Everything here lives only in the stand-ins of one `npm run demo`.
 */

export type SampleUser = { readonly id: string; readonly name: string; readonly title: string };

export const USERS: readonly SampleUser[] = [
  { id: 'U0DEMOALICE', name: 'alice', title: 'backend engineer (asks for access)' },
  { id: 'U0DEMOBOB', name: 'bob', title: 'SRE (approves)' },
  { id: 'U0DEMOCAROL', name: 'carol', title: 'SRE (approves)' },
  { id: 'U0DEMODAN', name: 'dan', title: 'security (admin)' },
];

const [alice, bob, carol, dan] = USERS.map((u) => u.id);

export const GROUPS = [
  { id: 'S0DEMOSRE', handle: 'sre', users: [bob, carol] },
  { id: 'S0DEMOBACKEND', handle: 'backend', users: [alice, dan] },
  { id: 'S0DEMOSECURITY', handle: 'security', users: [dan] },
].map((g) => ({ ...g, users: g.users.filter((u): u is string => u !== undefined) }));

export const CHANNELS = [{ id: 'C0DEMOACCESS', name: 'prod-access' }] as const;
const channel = CHANNELS[0].id;

export const SECURITY_GROUPS = ['sg-0de30000000000001', 'sg-0de30000000000002'] as const;
export const ROLE_ARN = 'arn:aws:iam::123456789012:role/ProdReadOnly';
export const REGION = 'us-east-1';

/** One approval for the database, two for the web tier, and a role; durations from one minute. */
export const POLICY = `
admins: ["@security"]
approvalTimeout: 30m
resources:
  - id: prod-db
    description: Production Postgres
    kind: security-group
    region: ${REGION}
    securityGroupId: ${SECURITY_GROUPS[0]}
    protocol: tcp
    ports: [5432]
    maxDuration: 1h
    minDuration: 1m
    defaultDuration: 30m
    channel: ${channel}
    requesters: ["@backend"]
    approvers: ["@sre"]
    approvals: 1
  - id: prod-web
    description: Web tier (two approvals)
    kind: security-group
    region: ${REGION}
    securityGroupId: ${SECURITY_GROUPS[1]}
    protocol: tcp
    ports: [443, "8000-8080"]
    maxDuration: 2h
    minDuration: 1m
    channel: ${channel}
    approvers: ["@sre"]
    approvals: 2
  - id: prod-readonly
    description: Read-only AWS role in production
    kind: aws-role
    roleArn: ${ROLE_ARN}
    region: ${REGION}
    maxDuration: 1h
    minDuration: 15m
    channel: ${channel}
    approvers: ["@sre"]
`;
