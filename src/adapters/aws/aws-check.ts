import { GetRoleCommand, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { couldNotCheck, type Finding, ok, problem, warning } from '../../app/check';
import { NACL_ENTRY_ACTIONS, ROLE_ACTIONS, SCHEDULER_ACTIONS, SESSION_ACTIONS } from '../../app/iam-policy';
import type { Policy, SecurityGroupResource } from '../../domain/policy';
import type { AwsClients } from './aws-clients';
import { awsErrorCode } from './aws-errors';
import { type CallerIdentity, callerIdentity, missingCredentials, within } from './caller-identity';
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeNetworkAclsCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  RevokeSecurityGroupIngressCommand,
} from './ec2-sdk';

/** Where the IAM policy comes from, for every missing permission. */
const IAM_FIX = "the IAM policy of hallpass's AWS identity: `npm run iam-policy` prints the one it needs";
/** Codes that mean "this endpoint does not offer that call": a check that cannot be made, never a finding. */
const UNSUPPORTED = new Set([
  'InvalidAction',
  'UnsupportedOperation',
  'NotImplemented',
  'UnknownOperationException',
]);
/** One call of the check: bounded, so a silent endpoint never holds `hallpass check` or start-up. */
const CALL_MS = 10_000;
/** A harmless address for DryRun calls: TEST-NET-1, never routed. */
const DRY_RUN_CIDR = '192.0.2.1/32';

const codeOf = (error: unknown): string =>
  awsErrorCode(error) ??
  (error instanceof Error ? (error.message.split('\n')[0] ?? error.name) : String(error));

/** The IAM principal behind a caller ARN: an assumed role's role (without its path), a user as is. */
export function principalOf(arn: string): string {
  const m = /^arn:([a-z-]+):sts::(\d{12}):assumed-role\/([^/]+)\//.exec(arn);
  return m === null ? arn : `arn:${m[1]}:iam::${m[2]}:role/${m[3]}`;
}

/**
 * Whether a role's trust policy lets `caller` in with each of `actions` (Allow statements only; their
 * conditions are not evaluated). `principal` is `*`, the caller's account (`123…` or `…:root`), or its
 * principal ARN.
 */
export function trustAdmits(document: string, caller: CallerIdentity, actions: readonly string[]): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decodeURIComponent(document));
  } catch {
    return [...actions];
  }
  const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
  const statements = arr((parsed as { Statement?: unknown }).Statement) as Record<string, unknown>[];
  const me = principalOf(caller.arn);
  const partition = /^arn:([a-z-]+):/.exec(caller.arn)?.[1] ?? 'aws';
  const admitsMe = (p: unknown): boolean => {
    if (p === '*') return true;
    const aws = arr((p as { AWS?: unknown } | undefined)?.AWS).map(String);
    return aws.some(
      (a) =>
        a === '*' ||
        a === caller.account ||
        a === `arn:${partition}:iam::${caller.account}:root` ||
        a === me ||
        a === caller.arn,
    );
  };
  const allowed = (action: string) =>
    statements.some(
      (s) =>
        s['Effect'] === 'Allow' &&
        admitsMe(s['Principal']) &&
        arr(s['Action'])
          .map(String)
          .some((a) => a === action || a === 'sts:*' || a === '*'),
    );
  return actions.filter((a) => !allowed(a));
}

/** An EC2 call with `DryRun: true`: `DryRunOperation` means allowed, `UnauthorizedOperation` missing. */
async function dryRun(action: string, arn: string, send: () => Promise<unknown>): Promise<Finding> {
  try {
    await within(send(), CALL_MS, 'EC2');
    return ok(`ec2:${action} allowed on ${arn}`);
  } catch (error) {
    const code = codeOf(error);
    if (code === 'DryRunOperation') return ok(`ec2:${action} allowed on ${arn}`);
    if (code === 'UnauthorizedOperation')
      return problem(`permission missing: ec2:${action} on ${arn}`, IAM_FIX);
    return couldNotCheck(`ec2:${action} on ${arn}`, `EC2 answered ${code}`);
  }
}

async function checkGroup(
  aws: AwsClients,
  r: SecurityGroupResource,
  account: string | undefined,
  thorough: boolean,
): Promise<Finding[]> {
  const client = aws.ec2For({ region: r.region, groupId: r.securityGroupId, assumeRoleArn: r.assumeRoleArn });
  const where = `resources ${r.id}`;
  const arn = `arn:aws:ec2:${r.region}:${account ?? '…'}:security-group/${r.securityGroupId}`;
  const findings: Finding[] = [];
  try {
    const out = await within(
      client.send(new DescribeSecurityGroupsCommand({ GroupIds: [r.securityGroupId] })),
      CALL_MS,
      'EC2',
    );
    const found = (out.SecurityGroups ?? []).find((g) => g.GroupId === r.securityGroupId);
    findings.push(
      found === undefined
        ? problem(
            `${where}: security group ${r.securityGroupId} not found in ${r.region}`,
            `securityGroupId and region of ${where} in HALLPASS_POLICY`,
          )
        : ok(`${where}: security group ${r.securityGroupId} (${found.GroupName ?? ''}) found in ${r.region}`),
    );
  } catch (error) {
    const code = codeOf(error);
    if (code === 'InvalidGroup.NotFound' || code === 'InvalidGroupId.Malformed') {
      return [
        problem(
          `${where}: security group ${r.securityGroupId} not found in ${r.region}${r.assumeRoleArn === undefined ? '' : ` (as ${r.assumeRoleArn})`}`,
          `securityGroupId and region of ${where} in HALLPASS_POLICY${r.assumeRoleArn === undefined ? '' : ', or its assumeRoleArn'}`,
        ),
      ];
    }
    if (code === 'AccessDenied' && r.assumeRoleArn !== undefined)
      return [
        problem(
          `${where}: hallpass cannot assume ${r.assumeRoleArn}`,
          `the trust policy of ${r.assumeRoleArn}, and sts:AssumeRole in ${IAM_FIX}`,
        ),
      ];
    findings.push(
      code === 'UnauthorizedOperation'
        ? couldNotCheck(
            `${where}: security group ${r.securityGroupId}`,
            'ec2:DescribeSecurityGroups is not allowed',
            IAM_FIX,
          )
        : couldNotCheck(
            `${where}: security group ${r.securityGroupId} in ${r.region}`,
            `EC2 answered ${code}`,
          ),
    );
  }
  if (!thorough) return findings;
  const port = r.ports[0]?.from ?? 0;
  findings.push(
    await dryRun('AuthorizeSecurityGroupIngress', arn, () =>
      client.send(
        new AuthorizeSecurityGroupIngressCommand({
          DryRun: true,
          GroupId: r.securityGroupId,
          IpPermissions: [
            { IpProtocol: r.protocol, FromPort: port, ToPort: port, IpRanges: [{ CidrIp: DRY_RUN_CIDR }] },
          ],
        }),
      ),
    ),
    await dryRun('RevokeSecurityGroupIngress', arn, () =>
      client.send(
        new RevokeSecurityGroupIngressCommand({
          DryRun: true,
          GroupId: r.securityGroupId,
          SecurityGroupRuleIds: ['sgr-00000000000000000'],
        }),
      ),
    ),
    await dryRun('DescribeSecurityGroupRules', '*', () =>
      client.send(
        new DescribeSecurityGroupRulesCommand({
          DryRun: true,
          Filters: [{ Name: 'group-id', Values: [r.securityGroupId] }],
        }),
      ),
    ),
  );
  if (r.cutConnections === 'nacl') {
    findings.push(
      await dryRun('DescribeNetworkInterfaces', '*', () =>
        client.send(
          new DescribeNetworkInterfacesCommand({
            DryRun: true,
            Filters: [{ Name: 'group-id', Values: [r.securityGroupId] }],
          }),
        ),
      ),
      await dryRun('DescribeNetworkAcls', '*', () =>
        client.send(new DescribeNetworkAclsCommand({ DryRun: true })),
      ),
    );
  }
  return findings;
}

async function checkRole(
  aws: AwsClients,
  id: string,
  roleArn: string,
  caller: CallerIdentity | undefined,
  thorough: boolean,
): Promise<Finding[]> {
  const where = `resources ${id}`;
  const name = roleArn.slice(roleArn.lastIndexOf('/') + 1);
  const findings: Finding[] = [];
  try {
    const out = await within(aws.iam.send(new GetRoleCommand({ RoleName: name })), CALL_MS, 'IAM');
    findings.push(
      ok(`${where}: role ${roleArn} readable (MaxSessionDuration ${out.Role?.MaxSessionDuration ?? 3600} s)`),
    );
    const document = out.Role?.AssumeRolePolicyDocument;
    if (caller === undefined || document === undefined) {
      findings.push(
        couldNotCheck(
          `${where}: the trust policy of ${roleArn}`,
          caller === undefined ? 'the AWS identity is unknown' : 'IAM returned none',
        ),
      );
    } else {
      const refused = trustAdmits(document, caller, SESSION_ACTIONS);
      findings.push(
        refused.length === 0
          ? ok(
              `${where}: the trust policy of ${roleArn} admits ${principalOf(caller.arn)} (${SESSION_ACTIONS.join(', ')})`,
            )
          : problem(
              `${where}: the trust policy of ${roleArn} does not admit ${principalOf(caller.arn)} for ${refused.join(', ')}`,
              `the trust policy of ${roleArn}: allow ${principalOf(caller.arn)} ${SESSION_ACTIONS.join(', ')} (see docs/aws.md, Minimal IAM policy)`,
            ),
      );
    }
  } catch (error) {
    const code = codeOf(error);
    if (code === 'NoSuchEntity')
      return [problem(`${where}: role ${roleArn} does not exist`, `roleArn of ${where} in HALLPASS_POLICY`)];
    if (code === 'AccessDenied')
      findings.push(problem(`permission missing: iam:GetRole on ${roleArn}`, IAM_FIX));
    else findings.push(couldNotCheck(`${where}: role ${roleArn}`, `IAM answered ${code}`));
  }
  if (thorough)
    findings.push(...(await simulate(aws, [...SESSION_ACTIONS, ...ROLE_ACTIONS], roleArn, caller)));
  return findings;
}

/** `iam:SimulatePrincipalPolicy` for hallpass's own principal: "missing" only from its answer. */
async function simulate(
  aws: AwsClients,
  actions: readonly string[],
  resource: string,
  caller: CallerIdentity | undefined,
): Promise<Finding[]> {
  const what = `${actions.join(', ')} on ${resource}`;
  if (caller === undefined) return [couldNotCheck(what, 'the AWS identity is unknown')];
  try {
    const out = await within(
      aws.iam.send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: principalOf(caller.arn),
          ActionNames: [...actions],
          ResourceArns: [resource],
        }),
      ),
      CALL_MS,
      'IAM',
    );
    const denied = (out.EvaluationResults ?? [])
      .filter((e) => e.EvalDecision !== 'allowed')
      .map((e) => e.EvalActionName ?? '?');
    return denied.length === 0
      ? [ok(`allowed: ${what}`)]
      : [problem(`permissions missing on ${resource}: ${denied.join(', ')}`, IAM_FIX)];
  } catch (error) {
    const code = codeOf(error);
    const why =
      code === 'AccessDenied'
        ? 'hallpass may not call iam:SimulatePrincipalPolicy on itself (optional)'
        : UNSUPPORTED.has(code)
          ? `IAM does not offer SimulatePrincipalPolicy here (${code})`
          : `IAM answered ${code}`;
    return [couldNotCheck(what, why)];
  }
}

/** Whether AWS credentials can be found at all: the one AWS finding that stops start-up. */
export async function checkAwsCredentials(): Promise<Finding> {
  const missing = await missingCredentials();
  return missing === undefined
    ? ok('AWS credentials found')
    : problem(
        `no AWS credentials found (${missing})`,
        'AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an instance/task role; or HALLPASS_AWS=dry-run to try hallpass without AWS',
      );
}

/**
 * Every AWS finding: credentials, the identity, each group found in its region with the EC2 permissions
 * hallpass needs on it (DryRun), each role readable and trusting hallpass, and the STS/IAM permissions
 * (SimulatePrincipalPolicy, when allowed). Never throws.
 */
export async function checkAws(opts: {
  readonly aws: AwsClients;
  readonly policy: Policy;
  readonly region: string;
  readonly credentials?: Finding;
  /**
   * `hallpass check`: also the permissions, by EC2 DryRun calls and `iam:SimulatePrincipalPolicy`.
   * Start-up leaves them out: it only reads, so an endpoint that ignored `DryRun` could never be changed.
   */
  readonly thorough?: boolean;
  /** `HALLPASS_BACKSTOP_ROLE_ARN` and `_GROUP`: their Scheduler and `iam:PassRole` permissions are checked too. */
  readonly backstop?: { readonly roleArn: string; readonly group: string } | undefined;
}): Promise<Finding[]> {
  const thorough = opts.thorough ?? true;
  const credentials = opts.credentials ?? (await checkAwsCredentials());
  if (credentials.level === 'problem') return [credentials];
  const findings: Finding[] = [credentials];
  let caller: CallerIdentity | undefined;
  try {
    caller = await callerIdentity(opts.region, CALL_MS);
    findings.push(ok(`AWS identity ${caller.arn} (account ${caller.account})`));
  } catch (error) {
    const code = codeOf(error);
    findings.push(
      code === 'InvalidClientTokenId' || code === 'SignatureDoesNotMatch' || code === 'ExpiredToken'
        ? problem(
            `AWS refuses the credentials (${code})`,
            'the AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN)',
          )
        : couldNotCheck(
            'the AWS identity (sts:GetCallerIdentity)',
            code,
            'AWS_REGION, AWS_ENDPOINT_URL_STS, or the network',
          ),
    );
  }
  for (const r of opts.policy.resources) {
    if (r.kind === 'security-group')
      findings.push(...(await checkGroup(opts.aws, r, caller?.account, thorough)));
    else findings.push(...(await checkRole(opts.aws, r.id, r.roleArn, caller, thorough)));
  }
  if (thorough && caller !== undefined) {
    const account = caller.account;
    // Hallpass's own account only: a group reached through assumeRoleArn is managed with that role's permissions.
    const own = opts.policy.resources.flatMap((r) =>
      r.kind === 'security-group' && r.assumeRoleArn === undefined ? [r] : [],
    );
    for (const region of new Set(own.filter((r) => r.cutConnections === 'nacl').map((r) => r.region)))
      findings.push(
        ...(await simulate(
          opts.aws,
          NACL_ENTRY_ACTIONS,
          `arn:aws:ec2:${region}:${account}:network-acl/*`,
          caller,
        )),
      );
    if (opts.backstop !== undefined) {
      const { group, roleArn } = opts.backstop;
      for (const region of new Set(own.map((r) => r.region)))
        findings.push(
          ...(await simulate(
            opts.aws,
            SCHEDULER_ACTIONS,
            `arn:aws:scheduler:${region}:${account}:schedule/${group}/hallpass-*`,
            caller,
          )),
        );
      findings.push(...(await simulate(opts.aws, ['iam:PassRole'], roleArn, caller)));
    }
  }
  if (opts.policy.resources.length === 0)
    findings.push(warning('the policy lists no resource', 'resources in HALLPASS_POLICY'));
  return findings;
}
