import { DEFAULT_MAX_PREFIX } from './cidr';
import { refusalOf, type Standing, type StandingRefusal } from './standing';

/**
 * The policy file, parsed and validated (see src/config/policy.ts). Durations are milliseconds.
 * A principal is a Slack user id (`U…`/`W…`) or a user-group handle written `@handle`.
 */
export type Principal = string;

/** A port or an inclusive range (`8000-8080` → { from: 8000, to: 8080 }). */
export type PortRange = { readonly from: number; readonly to: number };

type ResourceBase = {
  /** `[a-z0-9-]+`, what users type after `/access`. */
  readonly id: string;
  readonly description?: string | undefined;
  readonly region: string;
  /** Channel id for approval messages and start / end notices. */
  readonly channel: string;
  /**
   * Who may ask; `undefined` means anyone in the workspace: its full members (and those of
   * `trustedWorkspaces`), plus guests or external users only if `allowGuests` / `allowExternal`.
   */
  readonly requesters?: readonly Principal[] | undefined;
  /**
   * Guests (multi- and single-channel) count for this resource: as "anyone" when `requesters` is
   * absent, and through the lists that name them or their groups. Absent: false.
   */
  readonly allowGuests?: boolean | undefined;
  /**
   * Users of other workspaces or organisations (Slack Connect, or an action signed in another team)
   * count for this resource, like `allowGuests`. Absent: false.
   */
  readonly allowExternal?: boolean | undefined;
  readonly approvers: readonly Principal[];
  /** Distinct approvers needed. */
  readonly approvals: number;
  readonly autoApprove: boolean;
  readonly allowSelfApproval: boolean;
  readonly minDuration: number;
  readonly maxDuration: number;
  readonly defaultDuration?: number | undefined;
  /** How long a request may stay pending before it times out. */
  readonly approvalTimeout: number;
  /** May a requester open this at once with `--break-glass` (reviewed afterwards)? */
  readonly breakGlass: boolean;
  /** The longest break-glass grant (default 1h). */
  readonly breakGlassMaxDuration: number;
  /** What automations (API tokens) and AI agents may have here without a vote; absent: always a vote. */
  readonly automation?: AutomationPolicy | undefined;
};

/** A resource's `automation` key. Durations are milliseconds. */
export type AutomationPolicy = {
  /** A token's `--auto-approve-within` counts here up to this long; absent: token requests always need a vote. */
  readonly autoApproveWithin?: number | undefined;
  readonly agents?:
    | {
        /** Agents auto-approve only when this says so, explicitly; absent: always a vote. */
        readonly autoApproveWithin?: number | undefined;
        /** An agent's longest window here (default `DEFAULT_AGENT_MAX_DURATION`). */
        readonly maxDuration?: number | undefined;
      }
    | undefined;
};

/** An agent's longest window where the policy does not say: 15 minutes. */
export const DEFAULT_AGENT_MAX_DURATION = 15 * 60_000;

export type SecurityGroupResource = ResourceBase & {
  readonly kind: 'security-group';
  readonly securityGroupId: string;
  readonly protocol: 'tcp' | 'udp';
  readonly ports: readonly PortRange[];
  /** Narrowest prefix length required per family (32 / 128 by default): shorter, wider prefixes are refused. */
  readonly maxPrefix: { readonly 4: number; readonly 6: number };
  /** Optional role hallpass assumes to manage this group (another account). */
  readonly assumeRoleArn?: string | undefined;
  /**
   * How long after a grant's end AWS's own backstop revokes its rules if hallpass has not.
   * Absent: the policy's `backstopGrace`.
   */
  readonly backstopGrace?: number | undefined;
  /**
   * The role EventBridge Scheduler runs the backstop with, in this group's account. Absent:
   * `HALLPASS_BACKSTOP_ROLE_ARN` (hallpass's own account).
   */
  readonly backstopRoleArn?: string | undefined;
  /**
   * `nacl`: at the end, hallpass also adds a network-ACL deny entry for the grant's address and ports
   * in the ACLs of the subnets where the group is in use, so connections established during the grant
   * stop at once (security groups are stateful: revoking a rule does not end them). Absent: not cut.
   */
  readonly cutConnections?: 'nacl' | undefined;
};

export type AwsRoleResource = ResourceBase & {
  readonly kind: 'aws-role';
  readonly roleArn: string;
};

export type Resource = SecurityGroupResource | AwsRoleResource;

/**
 * Who sees a live grant's source address and a request's reason where hallpass lists grants for the
 * whole workspace (App Home, `/access list`): `involved` — its requester, the resource's approvers and
 * the admins — or `everyone`. Who has access to what, and until when, is always shown to everyone.
 */
export type Visibility = {
  readonly addresses: 'involved' | 'everyone';
  readonly reasons: 'involved' | 'everyone';
};

/** By default addresses and reasons are for those involved only. */
export const DEFAULT_VISIBILITY: Visibility = { addresses: 'involved', reasons: 'involved' };

export type Policy = {
  /** Absent: `DEFAULT_VISIBILITY`. */
  readonly visibility?: Visibility | undefined;
  readonly admins: readonly Principal[];
  /**
   * Other Slack workspaces (`T…`) or Enterprise Grid organisations (`E…`) whose full members count
   * as members too. The installed workspace (or organisation) always does. Absent: none.
   */
  readonly trustedWorkspaces?: readonly string[] | undefined;
  readonly approvalTimeout: number;
  /** How long before its end a grant's requester is warned (0: never). Grants shorter than twice this are not warned. */
  readonly warnBefore: number;
  readonly resources: readonly Resource[];
  /** Channel (C…/G…) where hallpass publishes the audit log's head; absent: not published (said at start-up). */
  readonly auditChannel?: string | undefined;
  /**
   * Channel (C…/G…) that hears every alert at the top level — a close that keeps failing, a grant the
   * policy no longer describes, reconciliation findings, a break in the audit chain — besides the
   * resource's channel; absent: the resource channels only.
   */
  readonly alertsChannel?: string | undefined;
  /** How often the head is published there, in ms; absent: daily. */
  readonly auditHeadInterval?: number | undefined;
  /** How long after a grant's end AWS's backstop revokes its rules; absent: `DEFAULTS.backstopGrace`. */
  readonly backstopGrace?: number | undefined;
  /** The network-ACL rule numbers reserved for hallpass's deny entries (needed by `cutConnections: nacl`). */
  readonly naclRuleNumbers?: { readonly from: number; readonly to: number } | undefined;
  /**
   * How long a deny entry stays. Absent: the longest TCP established timeout of the group's interfaces
   * plus a minute, so a connection cut is forgotten by EC2 before its entry goes.
   */
  readonly naclHold?: number | undefined;
  /** The network ACL entries per direction the account allows (AWS's default quota: 20). */
  readonly naclEntryLimit?: number | undefined;
  /**
   * Resources without a cut whose interfaces keep idle established TCP connections longer than this
   * are warned about (start-up, `/access resources`). Absent: 15 minutes.
   */
  readonly warnEstablishedAbove?: number | undefined;
};

/**
 * Who is acting: a Slack user, the handles of the user groups they belong to (without `@`,
 * lowercase), and their standing — member, guest, external… — as Slack says now (see standing.ts).
 */
export type Actor = {
  readonly userId: string;
  readonly groups: ReadonlySet<string>;
  readonly standing: Standing;
};

export const DEFAULTS = {
  approvalTimeout: 30 * 60_000,
  minDuration: 60_000,
  approvals: 1,
  maxPrefix: DEFAULT_MAX_PREFIX,
  warnBefore: 5 * 60_000,
  breakGlassMaxDuration: 60 * 60_000,
  backstopGrace: 2 * 60_000,
  naclEntryLimit: 20,
  warnEstablishedAbove: 15 * 60_000,
} as const;

/** The grace after a grant's end before AWS's backstop revokes a rule of this resource. */
export const backstopGraceOf = (policy: Policy, resource: Resource | undefined): number =>
  (resource?.kind === 'security-group' ? resource.backstopGrace : undefined) ??
  policy.backstopGrace ??
  DEFAULTS.backstopGrace;

/** True when the actor is named directly or through one of their user groups. */
export function matchesAny(principals: readonly Principal[], actor: Actor): boolean {
  return principals.some((p) =>
    p.startsWith('@') ? actor.groups.has(p.slice(1).toLowerCase()) : p === actor.userId,
  );
}

export const findResource = (policy: Policy, id: string): Resource | undefined =>
  policy.resources.find((r) => r.id === id);

/**
 * Why the actor does not count at all for `resource` — a guest or external user it does not admit,
 * a deactivated or unverifiable account — or `undefined` when they do. Without a resource (admin
 * rights), only members count.
 */
export const standingRefusal = (resource: Resource | undefined, actor: Actor): StandingRefusal | undefined =>
  refusalOf(actor.standing, resource);

export const mayRequest = (resource: Resource, actor: Actor): boolean =>
  standingRefusal(resource, actor) === undefined &&
  (resource.requesters === undefined || matchesAny(resource.requesters, actor));

export const isApprover = (resource: Resource, actor: Actor): boolean =>
  standingRefusal(resource, actor) === undefined && matchesAny(resource.approvers, actor);

export const isAdmin = (policy: Policy, actor: Actor): boolean =>
  standingRefusal(undefined, actor) === undefined && matchesAny(policy.admins, actor);

/** The resources this actor may ask for, in policy order (the modal's picker and `/access resources`). */
export const requestableBy = (policy: Policy, actor: Actor): Resource[] =>
  policy.resources.filter((r) => mayRequest(r, actor));

/** `tcp 5432, 8000-8080` — how ports read in messages. */
export const describePorts = (r: SecurityGroupResource): string =>
  `${r.protocol} ${r.ports.map((p) => (p.from === p.to ? `${p.from}` : `${p.from}-${p.to}`)).join(', ')}`;

/** The requester, an approver of the resource (as the policy says now), or an admin. */
export function isInvolved(
  policy: Policy,
  resource: Resource | undefined,
  requesterId: string,
  actor: Actor,
): boolean {
  return (
    actor.userId === requesterId ||
    (resource !== undefined && isApprover(resource, actor)) ||
    isAdmin(policy, actor)
  );
}

/** What of a grant or request this actor may see in workspace-wide lists: its address, its reason. */
export function detailsShown(
  policy: Policy,
  resource: Resource | undefined,
  requesterId: string,
  actor: Actor,
): { readonly address: boolean; readonly reason: boolean } {
  const visibility = policy.visibility ?? DEFAULT_VISIBILITY;
  const involved = isInvolved(policy, resource, requesterId, actor);
  return {
    address: involved || visibility.addresses === 'everyone',
    reason: involved || visibility.reasons === 'everyone',
  };
}

/** The account id in an IAM role ARN (`arn:aws:iam::123456789012:role/…`), if it is one. */
const accountOf = (arn: string): string | undefined => /^arn:[^:]+:iam::(\d{12}):/.exec(arn)?.[1];

/**
 * Why the backstop could not work for some security-group resource: EventBridge Scheduler runs a
 * schedule with a role of the schedule's own account, and a rule's schedule lives in the rule's account.
 * A group reached through `assumeRoleArn` in another account needs a `backstopRoleArn` of that account.
 */
export function backstopProblems(policy: Policy, defaultRoleArn: string): string[] {
  const problems: string[] = [];
  const ownAccount = accountOf(defaultRoleArn);
  for (const r of policy.resources) {
    if (r.kind !== 'security-group') continue;
    const groupAccount = r.assumeRoleArn === undefined ? ownAccount : accountOf(r.assumeRoleArn);
    const role = r.backstopRoleArn ?? defaultRoleArn;
    const roleAccount = accountOf(role);
    if (groupAccount === undefined || roleAccount === groupAccount) continue;
    problems.push(
      r.backstopRoleArn === undefined
        ? `resource ${r.id}: its security group is in account ${groupAccount} (assumeRoleArn), but HALLPASS_BACKSTOP_ROLE_ARN is a role of account ${roleAccount}; give the resource a backstopRoleArn: a role of account ${groupAccount} that EventBridge Scheduler may assume`
        : `resource ${r.id}: backstopRoleArn is a role of account ${roleAccount}, but its security group is in account ${groupAccount}; the backstop role must be in the group's account`,
    );
  }
  return problems;
}

/** Who is behind an automation's request, as far as policy cares: a token's own limit, and whether an agent asks. */
export type AutomationAsk = {
  /** The token's `--auto-approve-within` (ms); absent: its requests always need a vote. */
  readonly tokenAutoApproveWithin?: number | undefined;
  readonly agent: boolean;
};

/**
 * Whether an automation's request of `durationMs` is approved without a vote. A token: where the
 * resource auto-approves everyone, or where both the token and the resource's `automation.autoApproveWithin`
 * allow this long. An agent: only where `automation.agents.autoApproveWithin` says so explicitly (never
 * by the resource's plain `autoApprove`), and within the token's own limit.
 */
export function automationAutoApproves(resource: Resource, ask: AutomationAsk, durationMs: number): boolean {
  const within = (limit: number | undefined) =>
    limit !== undefined &&
    ask.tokenAutoApproveWithin !== undefined &&
    durationMs <= limit &&
    durationMs <= ask.tokenAutoApproveWithin;
  if (ask.agent) return within(resource.automation?.agents?.autoApproveWithin);
  return resource.autoApprove || within(resource.automation?.autoApproveWithin);
}

/** An agent's longest window on this resource. */
export const agentMaxDuration = (resource: Resource): number =>
  Math.min(resource.maxDuration, resource.automation?.agents?.maxDuration ?? DEFAULT_AGENT_MAX_DURATION);
