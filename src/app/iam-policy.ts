/**
 * The least-privilege IAM policy hallpass's own identity needs, computed from the policy file: pure, so
 * `npm run iam-policy` prints it and a test proves every AWS call the adapters make is covered by it
 * (tests/unit/app/iam-policy.test.ts), and docs/aws.md's example is this function's output.
 */
import type { Policy } from '../domain/policy';

/** One IAM policy statement, in the order and shape AWS documents. */
export type IamStatement = {
  readonly Sid: string;
  readonly Effect: 'Allow';
  readonly Action: string | readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string>>>>;
};

export type IamPolicyDocument = {
  readonly Version: '2012-10-17';
  readonly Statement: readonly IamStatement[];
};

/** What besides the policy file shapes the policy. */
export type IamPolicyInput = {
  readonly policy: Policy;
  /** hallpass's own account (where groups without `assumeRoleArn` live); a placeholder when unknown. */
  readonly account: string;
  /** `HALLPASS_BACKSTOP_ROLE_ARN` and `HALLPASS_BACKSTOP_GROUP`, when the backstop is on. */
  readonly backstop?: { readonly roleArn: string; readonly group: string } | undefined;
  /**
   * hallpass's own IAM principal (a user or role ARN), when known: `hallpass check` may then simulate
   * its own permissions (`iam:SimulatePrincipalPolicy` on itself only). Unknown: left out, and the check
   * says "could not check" instead.
   */
  readonly self?: string | undefined;
};

/** Written where the account id is not known: `npm run iam-policy` says so beside the policy. */
export const ACCOUNT_PLACEHOLDER = '<account-id>';

/** EC2 actions on the listed groups (and the rules in them). */
export const INGRESS_ACTIONS = [
  'ec2:AuthorizeSecurityGroupIngress',
  'ec2:RevokeSecurityGroupIngress',
] as const;
/** Read-only EC2 actions without resource-level permissions: `*`. `DescribeSecurityGroups` is `hallpass check`'s. */
export const DESCRIBE_ACTIONS = ['ec2:DescribeSecurityGroupRules', 'ec2:DescribeSecurityGroups'] as const;
/** Finding the network ACLs of a group's subnets (`cutConnections: nacl`); no resource-level permissions. */
export const NACL_DESCRIBE_ACTIONS = ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeNetworkAcls'] as const;
export const NACL_ENTRY_ACTIONS = ['ec2:CreateNetworkAclEntry', 'ec2:DeleteNetworkAclEntry'] as const;
/** Issuing a role session that names the person (`SourceIdentity`) and carries tags. */
export const SESSION_ACTIONS = ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'] as const;
/** Reading a role's limits and budget, and cutting its sessions short. */
export const ROLE_ACTIONS = [
  'iam:GetRole',
  'iam:ListRolePolicies',
  'iam:GetRolePolicy',
  'iam:PutRolePolicy',
  'iam:DeleteRolePolicy',
] as const;
export const SCHEDULER_ACTIONS = [
  'scheduler:CreateSchedule',
  'scheduler:UpdateSchedule',
  'scheduler:DeleteSchedule',
  'scheduler:ListSchedules',
] as const;

/** Calls IAM never denies: `GetCallerIdentity` works even under an explicit deny. */
export const NEEDS_NO_PERMISSION: readonly string[] = ['sts:GetCallerIdentity'];

const ARN = /^arn:([a-z-]+):[a-z0-9-]*:[a-z0-9-]*:(\d{12}):/;

/** The account and partition of an ARN, when it names them. */
export function arnParts(arn: string): { partition: string; account: string } | undefined {
  const m = ARN.exec(arn);
  return m?.[1] === undefined || m[2] === undefined ? undefined : { partition: m[1], account: m[2] };
}

/**
 * The account the policy's own ARNs agree on (every `aws-role` role and the backstop role; not the
 * `assumeRoleArn`s, which name other accounts), or `undefined` when they name none or several.
 */
export function accountFromArns(policy: Policy, backstopRoleArn?: string): string | undefined {
  const arns = [
    ...policy.resources.flatMap((r) => (r.kind === 'aws-role' ? [r.roleArn] : [])),
    ...(backstopRoleArn === undefined ? [] : [backstopRoleArn]),
  ];
  const accounts = new Set(arns.map((a) => arnParts(a)?.account).filter((a) => a !== undefined));
  return accounts.size === 1 ? [...accounts][0] : undefined;
}

const unique = <T>(items: readonly T[]): T[] => [...new Set(items)];
const oneOrMany = (items: readonly string[]): string | readonly string[] =>
  items.length === 1 && items[0] !== undefined ? items[0] : items;

/**
 * The policy, statement by statement: EC2 on exactly the listed groups per region and account (a group
 * reached through `assumeRoleArn` under that role's account), `DescribeSecurityGroupRules` and
 * `DescribeSecurityGroups` on `*`, tagging only at creation or on hallpass's own rules, network ACL
 * entries when a resource cuts connections, STS and IAM on the listed roles, `sts:AssumeRole` on the
 * `assumeRoleArn`s, and Scheduler with `iam:PassRole` when the backstop is on. `sts:GetCallerIdentity`
 * needs no permission.
 */
export function iamPolicyFor(input: IamPolicyInput): IamPolicyDocument {
  const { policy, account } = input;
  const groups = policy.resources.flatMap((r) => (r.kind === 'security-group' ? [r] : []));
  const roles = policy.resources.flatMap((r) => (r.kind === 'aws-role' ? [r] : []));
  const partition =
    [...roles.map((r) => r.roleArn), ...(input.backstop ? [input.backstop.roleArn] : [])]
      .map((a) => arnParts(a)?.partition)
      .find((p) => p !== undefined) ?? 'aws';
  const accountOf = (g: (typeof groups)[number]): string =>
    (g.assumeRoleArn === undefined ? undefined : arnParts(g.assumeRoleArn)?.account) ?? account;
  const ec2Arn = (g: (typeof groups)[number], what: string): string =>
    `arn:${partition}:ec2:${g.region}:${accountOf(g)}:${what}`;
  const ruleArns = unique(groups.map((g) => ec2Arn(g, 'security-group-rule/*')));
  const statements: IamStatement[] = [];
  if (groups.length > 0) {
    statements.push(
      {
        Sid: 'OpenAndCloseIngressOnListedGroups',
        Effect: 'Allow',
        Action: INGRESS_ACTIONS,
        Resource: unique([
          ...groups.map((g) => ec2Arn(g, `security-group/${g.securityGroupId}`)),
          ...ruleArns,
        ]),
      },
      {
        Sid: 'TagRulesAsTheyAreCreated',
        Effect: 'Allow',
        Action: 'ec2:CreateTags',
        Resource: oneOrMany(ruleArns),
        Condition: { StringEquals: { 'ec2:CreateAction': 'AuthorizeSecurityGroupIngress' } },
      },
      {
        Sid: 'RetagOnlyHallpassRules',
        Effect: 'Allow',
        Action: 'ec2:CreateTags',
        Resource: oneOrMany(ruleArns),
        Condition: { StringEquals: { 'aws:ResourceTag/managed-by': 'hallpass' } },
      },
      { Sid: 'FindExistingRules', Effect: 'Allow', Action: DESCRIBE_ACTIONS, Resource: '*' },
    );
  }
  const cutting = groups.filter((g) => g.cutConnections === 'nacl');
  if (cutting.length > 0) {
    statements.push(
      { Sid: 'FindTheNetworkAclsOfCutGroups', Effect: 'Allow', Action: NACL_DESCRIBE_ACTIONS, Resource: '*' },
      {
        Sid: 'CutConnectionsWithNetworkAclEntries',
        Effect: 'Allow',
        Action: NACL_ENTRY_ACTIONS,
        Resource: unique(cutting.map((g) => ec2Arn(g, 'network-acl/*'))),
      },
    );
  }
  const roleArns = unique(roles.map((r) => r.roleArn));
  if (roleArns.length > 0) {
    statements.push(
      { Sid: 'AssumeListedRolesAsThePerson', Effect: 'Allow', Action: SESSION_ACTIONS, Resource: roleArns },
      { Sid: 'ReadLimitsAndCutSessionsShort', Effect: 'Allow', Action: ROLE_ACTIONS, Resource: roleArns },
    );
  }
  const managers = unique(groups.flatMap((g) => (g.assumeRoleArn === undefined ? [] : [g.assumeRoleArn])));
  if (managers.length > 0) {
    statements.push({
      Sid: 'ManageGroupsInOtherAccounts',
      Effect: 'Allow',
      Action: 'sts:AssumeRole',
      Resource: managers,
    });
  }
  if (input.backstop !== undefined) {
    const { group } = input.backstop;
    const places = unique(groups.map((g) => `${partition}:scheduler:${g.region}:${accountOf(g)}`));
    statements.push(
      {
        Sid: 'HoldTheBackstops',
        Effect: 'Allow',
        Action: SCHEDULER_ACTIONS,
        Resource: places.flatMap((p) => [
          `arn:${p}:schedule/${group}/hallpass-*`,
          `arn:${p}:schedule-group/${group}`,
        ]),
      },
      {
        Sid: 'HandTheBackstopRoleToScheduler',
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: oneOrMany(
          unique([
            input.backstop.roleArn,
            ...groups.flatMap((g) => (g.backstopRoleArn === undefined ? [] : [g.backstopRoleArn])),
          ]),
        ),
        Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      },
    );
  }
  if (input.self !== undefined) {
    statements.push({
      Sid: 'LetCheckSimulateItsOwnPermissions',
      Effect: 'Allow',
      Action: 'iam:SimulatePrincipalPolicy',
      Resource: input.self,
    });
  }
  return { Version: '2012-10-17', Statement: statements };
}

/** Every action a statement of the document allows (for the tests that keep it complete). */
export const allowedActions = (doc: IamPolicyDocument): Set<string> =>
  new Set(doc.Statement.flatMap((s) => (typeof s.Action === 'string' ? [s.Action] : [...s.Action])));
