/**
 * `HALLPASS_AWS=dry-run`: the AWS ports, without AWS. Each call hallpass would make is logged (action and
 * parameters; never a secret) and answered plausibly — rule ids `sgr-dryrun…`, a session that names the
 * grant, no schedules or rules to reconcile — so every flow runs against real Slack before hallpass is
 * given AWS credentials. No AWS SDK client is built or called here.
 */
import { randomBytes } from 'node:crypto';
import type {
  Backstops,
  Clock,
  Logger,
  NetworkAccess,
  NetworkAcls,
  RoleSessions,
  RuleTarget,
} from '../../app/ports';

/** The placeholder "credentials" a dry-run role session hands out: they open nothing. */
export const DRY_RUN_CREDENTIALS = {
  accessKeyId: 'DRYRUNNOCREDENTIALS',
  secretAccessKey: 'dry-run-no-credentials-were-issued',
  sessionToken: 'dry-run-no-credentials-were-issued',
} as const;

/** An IAM role's default `MaxSessionDuration`, what a dry run assumes without `iam:GetRole`. */
const DEFAULT_MAX_SESSION_SECONDS = 3600;

export type DryRunAws = {
  readonly network: NetworkAccess;
  readonly acls: NetworkAcls;
  readonly roles: RoleSessions;
  readonly backstops: Backstops;
};

const where = (t: RuleTarget) => ({
  region: t.region,
  groupId: t.groupId,
  ...(t.assumeRoleArn === undefined ? {} : { assumeRoleArn: t.assumeRoleArn }),
});

export function createDryRunAws(deps: { readonly logger: Logger; readonly clock: Clock }): DryRunAws {
  const would = (action: string, params: Record<string, unknown>) =>
    deps.logger.info({ dryRun: true, action, params }, `dry run: would call ${action}`);
  /** The backstops this dry run "created", so reconciliation does not put them back again and again. */
  const schedules = new Map<string, Set<string>>();
  const placeOf = (t: RuleTarget) => `${t.region}\n${t.groupId}\n${t.assumeRoleArn ?? ''}`;
  const id = (prefix: string) => `${prefix}${randomBytes(4).toString('hex').slice(0, 7)}`;
  return {
    network: {
      async authorize(target, rule, tags) {
        const ruleId = id('sgr-dryrun');
        would('ec2:AuthorizeSecurityGroupIngress', {
          ...where(target),
          protocol: rule.protocol,
          fromPort: rule.fromPort,
          toPort: rule.toPort,
          cidr: rule.cidr,
          grantId: tags.grantId,
          expiresAt: tags.expiresAt.toISOString(),
          ruleId,
        });
        return { ruleId, existed: false, managed: true };
      },
      async revoke(target, ruleIds) {
        would('ec2:RevokeSecurityGroupIngress', { ...where(target), ruleIds: [...ruleIds] });
      },
      async retag(target, ruleId, tags) {
        would('ec2:CreateTags', {
          ...where(target),
          ruleId,
          grantId: tags.grantId,
          expiresAt: tags.expiresAt.toISOString(),
        });
      },
      // Reconciliation sees nothing in AWS to compare: it lists nothing.
      listManaged: async () => [],
    },
    acls: {
      survey: async () => ({ interfaces: 0, tcpEstablishedSeconds: 0, acls: [] }),
      async addDeny(target, entry) {
        would('ec2:CreateNetworkAclEntry', { ...where(target), ...entry });
        return 'added';
      },
      async removeDeny(target, aclId, ruleNumber) {
        would('ec2:DeleteNetworkAclEntry', { ...where(target), aclId, ruleNumber });
      },
    },
    roles: {
      maxSessionSeconds: async () => DEFAULT_MAX_SESSION_SECONDS,
      sessionUserId: async ({ grantId }) => `AROADRYRUN:${grantId}`,
      async start(input) {
        would('sts:AssumeRole', {
          roleArn: input.roleArn,
          region: input.region,
          sessionName: input.grantId,
          sourceIdentity: input.sourceIdentity,
          durationSeconds: input.durationSeconds,
        });
        const expiration = new Date(deps.clock.now().getTime() + input.durationSeconds * 1000);
        return {
          session: {
            sessionName: input.grantId,
            assumedRoleId: `AROADRYRUN:${input.grantId}`,
            expiresAt: expiration,
          },
          credentials: { ...DRY_RUN_CREDENTIALS, expiration },
        };
      },
      revocationRoom: async ({ assumedRoleIds }) => ({
        limit: 10_240,
        usedByOthers: 0,
        needed: 160 + 45 * assumedRoleIds.length,
      }),
      async writeRevokedSessions(input) {
        would('iam:PutRolePolicy', {
          roleArn: input.roleArn,
          policyName: 'hallpass-revoked-sessions',
          sessions: input.assumedRoleIds.length,
        });
      },
      async removeDeny(input) {
        would('iam:DeleteRolePolicy', { roleArn: input.roleArn, policyName: input.policyName });
      },
    },
    backstops: {
      async put(b) {
        would('scheduler:CreateSchedule', {
          ...where(b.target),
          ruleId: b.ruleId,
          fireAt: b.fireAt.toISOString(),
          roleArn: b.roleArn,
        });
        schedules.set(placeOf(b.target), (schedules.get(placeOf(b.target)) ?? new Set()).add(b.ruleId));
      },
      async remove(target, ruleId) {
        would('scheduler:DeleteSchedule', { ...where(target), ruleId });
        schedules.get(placeOf(target))?.delete(ruleId);
      },
      list: async (target) => [...(schedules.get(placeOf(target)) ?? [])].map((ruleId) => ({ ruleId })),
    },
  };
}
