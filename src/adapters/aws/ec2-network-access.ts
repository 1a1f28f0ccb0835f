import type {
  AuthorizeSecurityGroupIngressCommandOutput,
  DescribeSecurityGroupRulesCommandOutput,
  EC2Client,
  IpPermission,
  RevokeSecurityGroupIngressCommandOutput,
  SecurityGroupRule,
  Tag,
} from '@aws-sdk/client-ec2';
import ipaddr from 'ipaddr.js';
import { InfraError } from '../../app/infra-error';
import type { AuthorizeResult, ManagedRule, NetworkAccess, RuleTags, RuleTarget } from '../../app/ports';
import { hasAwsErrorCode, toInfraError } from './aws-errors';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateTagsCommand,
  DescribeSecurityGroupRulesCommand,
  RevokeSecurityGroupIngressCommand,
} from './ec2-sdk';

/** The tag that marks a rule as opened by hallpass, and so revocable by it. */
export const MANAGED_BY_TAG = { Key: 'managed-by', Value: 'hallpass' } as const;
/** Tag keys written on every rule hallpass opens (the external contract in DESIGN.md). */
export const TAG_KEYS = {
  /** `HALLPASS_DEPLOYMENT`: whose rule it is, when several deployments share a security group. */
  deployment: 'hallpass:deployment',
  grantId: 'hallpass:grant-id',
  requester: 'hallpass:requester',
  expiresAt: 'hallpass:expires-at',
} as const;

/** EC2 refuses a rule description longer than this. */
export const MAX_DESCRIPTION_LENGTH = 255;

/**
 * Revoke errors that mean the rule is already gone. `InvalidGroup.NotFound` is deliberately not one:
 * a revoke sent with the wrong credentials or region (another account's group) gets exactly that
 * answer while the rule stays open, so it is a failure — retried and raised loudly — never success.
 */
const ALREADY_GONE = ['InvalidPermission.NotFound', 'InvalidSecurityGroupRuleId.NotFound'] as const;

/**
 * Rule ids named by one RevokeSecurityGroupIngress call: a group holds at most 1,000 rules (60 by
 * default), so every due rule of one group fits in one call, and a thousand grants sharing one
 * `expires_at` on a few groups cost a call per group — what an account throttled at a few calls a second
 * can afford. A refusal one id causes is isolated by halving (see `revokeSome`), not by a call per id.
 */
export const REVOKE_IDS_PER_CALL = 1000;

/** `items` in consecutive slices of at most `size`. */
function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Bounds the Duplicate lookup: EC2 allows at most 1000 rules per group, and a page holds up to 1000. */
const MAX_DESCRIBE_PAGES = 50;

/** Dependencies of {@link createEc2NetworkAccess}. */
export type Ec2NetworkAccessDeps = {
  /** The client for a target's region (and, later, account); built in main.ts. */
  readonly clientFor: (target: RuleTarget) => EC2Client;
  /** `HALLPASS_DEPLOYMENT`: tagged on every rule this deployment makes. */
  readonly deployment: string;
};

/** The five tags every hallpass rule carries; `hallpass:expires-at` is ISO-8601 UTC. */
export function ruleTags(tags: RuleTags, deployment: string): Tag[] {
  return [
    { Key: MANAGED_BY_TAG.Key, Value: MANAGED_BY_TAG.Value },
    { Key: TAG_KEYS.deployment, Value: deployment },
    { Key: TAG_KEYS.grantId, Value: tags.grantId },
    { Key: TAG_KEYS.requester, Value: tags.requesterId },
    { Key: TAG_KEYS.expiresAt, Value: tags.expiresAt.toISOString() },
  ];
}

/**
 * Keeps only the characters EC2 accepts in a rule description (a-z, A-Z, 0-9, space and
 * `._-:/()#,@[]+=&;{}!$*`), replacing others with `_`, and cuts to 255 characters. EC2 rejects the
 * whole call otherwise, and grant ids and Slack user ids are not ours to trust.
 */
export function sanitizeDescription(text: string): string {
  return Array.from(text, (ch) => (/^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]$/.test(ch) ? ch : '_'))
    .join('')
    .slice(0, MAX_DESCRIPTION_LENGTH);
}

/** `hallpass grt_abc for U123 until 2026-11-25T12:30:00.000Z`, sanitized for EC2. */
export function ruleDescription(tags: RuleTags): string {
  return sanitizeDescription(
    `hallpass ${tags.grantId} for ${tags.requesterId} until ${tags.expiresAt.toISOString()}`,
  );
}

/** EC2 may answer with protocol numbers where we sent names. */
function normalizeProtocol(protocol: string | undefined): string | undefined {
  const p = protocol?.toLowerCase();
  if (p === '6') return 'tcp';
  if (p === '17') return 'udp';
  return p;
}

type RuleSpec = Parameters<NetworkAccess['authorize']>[1];

function matches(rule: SecurityGroupRule, groupId: string, spec: RuleSpec): boolean {
  if (rule.IsEgress === true) return false;
  if (rule.GroupId !== undefined && rule.GroupId !== groupId) return false;
  if (normalizeProtocol(rule.IpProtocol) !== spec.protocol) return false;
  if (rule.FromPort !== spec.fromPort || rule.ToPort !== spec.toPort) return false;
  const cidr = spec.family === 6 ? rule.CidrIpv6 : rule.CidrIpv4;
  return cidr !== undefined && canonicalCidr(cidr) === canonicalCidr(spec.cidr);
}

const isManaged = (rule: SecurityGroupRule): boolean =>
  (rule.Tags ?? []).some((t) => t.Key === MANAGED_BY_TAG.Key && t.Value === MANAGED_BY_TAG.Value);

const tagOf = (rule: SecurityGroupRule, key: string): string | undefined =>
  (rule.Tags ?? []).find((t) => t.Key === key)?.Value;

/**
 * A CIDR as the domain spells it (`ipaddr` canonical, IPv6 compressed): one spelling per range, so
 * `2001:DB8:0::/64` and `2001:db8::/64` compare equal, and a listed rule compares with what a hold recorded.
 */
function canonicalCidr(cidr: string): string {
  try {
    const [addr, prefix] = ipaddr.parseCIDR(cidr.trim());
    return `${addr.toString()}/${prefix}`;
  } catch {
    return cidr.trim().toLowerCase();
  }
}

/** A tagged ingress rule as the port describes it; the grant tags are read, never trusted for more than a report. */
function toManagedRule(rule: SecurityGroupRule & { SecurityGroupRuleId: string }): ManagedRule {
  const tag = (key: string) => tagOf(rule, key);
  const expiresText = tag(TAG_KEYS.expiresAt);
  const expiresAt = expiresText === undefined ? undefined : new Date(expiresText);
  const cidr = rule.CidrIpv4 ?? rule.CidrIpv6;
  return {
    ruleId: rule.SecurityGroupRuleId,
    protocol: normalizeProtocol(rule.IpProtocol) ?? '-1',
    fromPort: rule.FromPort ?? -1,
    toPort: rule.ToPort ?? -1,
    cidr: cidr === undefined ? undefined : canonicalCidr(cidr),
    tags: {
      deployment: tag(TAG_KEYS.deployment),
      grantId: tag(TAG_KEYS.grantId),
      requesterId: tag(TAG_KEYS.requester),
      expiresAt: expiresAt === undefined || Number.isNaN(expiresAt.getTime()) ? undefined : expiresAt,
    },
  };
}

/** The most rules one DescribeSecurityGroupRules page may hold. */
const MAX_RESULTS = 1000;

/**
 * The `NetworkAccess` port on EC2 security groups. Each grant's address becomes one ingress rule,
 * created with its tags in the same call (TagSpecifications), so a rule never exists untagged.
 * Every failure is thrown as an `InfraError` whose `retryable` alone drives retries.
 */
export function createEc2NetworkAccess(deps: Ec2NetworkAccessDeps): NetworkAccess {
  /** Finds the ingress rule EC2 reported as a duplicate of `spec`, paging through the group's rules. */
  async function findExisting(client: EC2Client, groupId: string, spec: RuleSpec): Promise<AuthorizeResult> {
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_DESCRIBE_PAGES; page++) {
      let out: DescribeSecurityGroupRulesCommandOutput;
      try {
        out = await client.send(
          new DescribeSecurityGroupRulesCommand({
            Filters: [{ Name: 'group-id', Values: [groupId] }],
            ...(nextToken === undefined ? {} : { NextToken: nextToken }),
          }),
        );
      } catch (error) {
        throw toInfraError(error, 'DescribeSecurityGroupRules');
      }
      const found = (out.SecurityGroupRules ?? []).find((r) => matches(r, groupId, spec));
      if (found?.SecurityGroupRuleId !== undefined) {
        const ruleId = found.SecurityGroupRuleId;
        if (!isManaged(found)) return { ruleId, existed: true, managed: false };
        const deployment = tagOf(found, TAG_KEYS.deployment);
        // Another deployment's rule is used but never ours to revoke, retag or back-stop; one made before
        // rules carried the tag is ours only if our database knows its grant (the caller looks).
        if (deployment === undefined)
          return {
            ruleId,
            existed: true,
            managed: false,
            legacy: { grantId: tagOf(found, TAG_KEYS.grantId) },
          };
        return { ruleId, existed: true, managed: deployment === deps.deployment };
      }
      if (out.NextToken === undefined || out.NextToken === '' || out.NextToken === nextToken) break;
      nextToken = out.NextToken;
    }
    // EC2 said the rule exists but it is not listed: eventual consistency, or it was revoked in
    // between. Trying the whole authorize again settles it either way.
    throw new InfraError(
      'unavailable',
      true,
      `AuthorizeSecurityGroupIngress: EC2 reported a duplicate of ${spec.protocol} ${spec.fromPort}-${spec.toPort} from ${spec.cidr} in ${groupId}, but no such ingress rule is listed`,
      { providerCode: 'DuplicateRuleNotFound' },
    );
  }

  /**
   * Revokes rules of one group by id, all in one call; "already gone" is success. EC2 validates every
   * id before removing any: one id already gone (or malformed, or not ours) fails the whole call and
   * revokes nothing. Such a refusal of a call naming several ids is split in halves, each revoked the
   * same way, so the one id is found in about 2·log2(n) calls while the others are revoked in a few,
   * and every half is tried even when another failed. A transient failure (throttled, unavailable) is
   * the call's, not an id's: it is thrown whole, to be retried whole later — never split into more
   * calls against an API that asked for fewer.
   */
  async function revokeSome(client: EC2Client, groupId: string, ruleIds: readonly string[]): Promise<void> {
    let out: RevokeSecurityGroupIngressCommandOutput;
    try {
      out = await client.send(
        new RevokeSecurityGroupIngressCommand({ GroupId: groupId, SecurityGroupRuleIds: [...ruleIds] }),
      );
    } catch (error) {
      const gone = hasAwsErrorCode(error, ...ALREADY_GONE);
      if (gone && ruleIds.length === 1) return;
      const failure = toInfraError(error, 'RevokeSecurityGroupIngress');
      if (ruleIds.length === 1 || (!gone && failure.retryable)) throw failure;
      await revokeHalves(client, groupId, ruleIds);
      return;
    }
    // EC2 documents `Return` as true or an error; where it instead lists the request as unknown, the
    // rule it names does not exist, which is what a revoke wants.
    if ((out.UnknownIpPermissions ?? []).length > 0) return;
    if (out.Return === false) for (const ruleId of ruleIds) await confirmGone(client, ruleId);
  }

  /**
   * Both halves tried, so a single bad id never keeps the others open; the failures are reported
   * together, naming the rules they kept open (`ruleIds`), so the caller can close what was revoked.
   */
  async function revokeHalves(client: EC2Client, groupId: string, ruleIds: readonly string[]): Promise<void> {
    const middle = Math.ceil(ruleIds.length / 2);
    const failures: InfraError[] = [];
    const failedIds: string[] = [];
    for (const half of [ruleIds.slice(0, middle), ruleIds.slice(middle)]) {
      try {
        await revokeSome(client, groupId, half);
      } catch (error) {
        const failure = toInfraError(error, 'RevokeSecurityGroupIngress');
        failures.push(...innerFailures(failure));
        // A half refused whole (throttled meanwhile) kept every rule it named.
        failedIds.push(...(failure.ruleIds ?? half));
      }
    }
    const [first] = failures;
    if (first === undefined) return;
    // Retrying helps only if every failure is transient; revoking is idempotent, so a retry is safe.
    const retryable = failures.every((f) => f.retryable);
    const options = { providerCode: first.providerCode, subject: first.subject, ruleIds: failedIds };
    if (failures.length === 1) {
      throw new InfraError(first.kind, retryable, first.message, { ...options, cause: first.cause });
    }
    throw new InfraError(
      first.kind,
      retryable,
      `RevokeSecurityGroupIngress failed for ${failures.length} rules: ${failures.map((f) => f.message).join('; ')}`,
      { ...options, cause: new AggregateError(failures) },
    );
  }

  /** The failures a halving's report gathered (flattened, so nested halves are listed once each). */
  const innerFailures = (failure: InfraError): InfraError[] =>
    failure.cause instanceof AggregateError
      ? failure.cause.errors.filter((e): e is InfraError => e instanceof InfraError)
      : [failure];

  /** After an unexplained `Return: false`, asks EC2 whether the rule still exists. */
  async function confirmGone(client: EC2Client, ruleId: string): Promise<void> {
    let rules: SecurityGroupRule[];
    try {
      const out = await client.send(
        new DescribeSecurityGroupRulesCommand({ SecurityGroupRuleIds: [ruleId] }),
      );
      rules = out.SecurityGroupRules ?? [];
    } catch (error) {
      if (hasAwsErrorCode(error, 'InvalidSecurityGroupRuleId.NotFound')) return;
      throw toInfraError(error, 'DescribeSecurityGroupRules');
    }
    if (rules.some((r) => r.SecurityGroupRuleId === ruleId)) {
      throw new InfraError(
        'unavailable',
        true,
        `RevokeSecurityGroupIngress returned false and rule ${ruleId} still exists`,
        { providerCode: 'RevokeNotConfirmed' },
      );
    }
  }

  return {
    async authorize(target, rule, tags) {
      const client = deps.clientFor(target);
      const Description = ruleDescription(tags);
      const permission: IpPermission = {
        IpProtocol: rule.protocol,
        FromPort: rule.fromPort,
        ToPort: rule.toPort,
        ...(rule.family === 6
          ? { Ipv6Ranges: [{ CidrIpv6: rule.cidr, Description }] }
          : { IpRanges: [{ CidrIp: rule.cidr, Description }] }),
      };
      let out: AuthorizeSecurityGroupIngressCommandOutput;
      try {
        out = await client.send(
          new AuthorizeSecurityGroupIngressCommand({
            GroupId: target.groupId,
            IpPermissions: [permission],
            TagSpecifications: [
              { ResourceType: 'security-group-rule', Tags: ruleTags(tags, deps.deployment) },
            ],
          }),
        );
      } catch (error) {
        if (hasAwsErrorCode(error, 'InvalidPermission.Duplicate')) {
          return findExisting(client, target.groupId, rule);
        }
        throw toInfraError(error, 'AuthorizeSecurityGroupIngress');
      }
      const ruleId = out.SecurityGroupRules?.find((r) => r.SecurityGroupRuleId)?.SecurityGroupRuleId;
      if (ruleId === undefined) {
        // The rule was most likely created; a retry meets InvalidPermission.Duplicate and finds its id.
        throw new InfraError(
          'unavailable',
          true,
          `AuthorizeSecurityGroupIngress on ${target.groupId} returned no SecurityGroupRuleId`,
          { providerCode: 'MissingSecurityGroupRuleId' },
        );
      }
      return { ruleId, existed: false, managed: true };
    },

    async revoke(target, ruleIds) {
      if (ruleIds.length === 0) return;
      const client = deps.clientFor(target);
      // Many ids per call (a batch of closes on one group is a few calls, not one per rule).
      for (const ids of chunksOf([...new Set(ruleIds)], REVOKE_IDS_PER_CALL)) {
        await revokeSome(client, target.groupId, ids);
      }
    },

    async retag(target, ruleId, tags) {
      const client = deps.clientFor(target);
      try {
        // CreateTags overwrites the values of keys that already exist, which is the rewrite we want; a
        // rule made before rules carried `hallpass:deployment` gets it here.
        await client.send(
          new CreateTagsCommand({ Resources: [ruleId], Tags: ruleTags(tags, deps.deployment) }),
        );
      } catch (error) {
        throw toInfraError(error, 'CreateTags');
      }
    },

    async listManaged(target) {
      const client = deps.clientFor(target);
      const found: ManagedRule[] = [];
      let nextToken: string | undefined;
      for (let page = 0; page < MAX_DESCRIBE_PAGES; page++) {
        let out: DescribeSecurityGroupRulesCommandOutput;
        try {
          out = await client.send(
            new DescribeSecurityGroupRulesCommand({
              Filters: [
                { Name: 'group-id', Values: [target.groupId] },
                { Name: `tag:${MANAGED_BY_TAG.Key}`, Values: [MANAGED_BY_TAG.Value] },
              ],
              MaxResults: MAX_RESULTS,
              ...(nextToken === undefined ? {} : { NextToken: nextToken }),
            }),
          );
        } catch (error) {
          throw toInfraError(error, 'DescribeSecurityGroupRules');
        }
        for (const rule of out.SecurityGroupRules ?? []) {
          // Checked again here, not left to the filter alone: a rule without our tag is never ours to
          // revoke. Egress rules are never opened by hallpass, and revoking one as ingress cannot work.
          const id = rule.SecurityGroupRuleId;
          if (id === undefined || rule.IsEgress === true || !isManaged(rule)) continue;
          if (rule.GroupId !== undefined && rule.GroupId !== target.groupId) continue;
          found.push(toManagedRule({ ...rule, SecurityGroupRuleId: id }));
        }
        if (out.NextToken === undefined || out.NextToken === '') return found;
        if (out.NextToken === nextToken) {
          throw new InfraError(
            'unavailable',
            true,
            `DescribeSecurityGroupRules on ${target.groupId} returned the same NextToken twice`,
            { providerCode: 'PaginationStuck' },
          );
        }
        nextToken = out.NextToken;
      }
      // A partial listing would make held rules look vanished: better no answer than a wrong one.
      throw new InfraError(
        'unknown',
        false,
        `DescribeSecurityGroupRules on ${target.groupId} returned more than ${MAX_DESCRIBE_PAGES} pages`,
        { providerCode: 'TooManyPages' },
      );
    },
  };
}
