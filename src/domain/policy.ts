import { DEFAULT_MAX_PREFIX } from './cidr';

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
  /** Who may ask; `undefined` means anyone in the workspace. */
  readonly requesters?: readonly Principal[] | undefined;
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
};

export type SecurityGroupResource = ResourceBase & {
  readonly kind: 'security-group';
  readonly securityGroupId: string;
  readonly protocol: 'tcp' | 'udp';
  readonly ports: readonly PortRange[];
  /** Narrowest prefix length required per family (32 / 128 by default): shorter, wider prefixes are refused. */
  readonly maxPrefix: { readonly 4: number; readonly 6: number };
  /** Optional role hallpass assumes to manage this group (another account). */
  readonly assumeRoleArn?: string | undefined;
};

export type AwsRoleResource = ResourceBase & {
  readonly kind: 'aws-role';
  readonly roleArn: string;
};

export type Resource = SecurityGroupResource | AwsRoleResource;

export type Policy = {
  readonly admins: readonly Principal[];
  readonly approvalTimeout: number;
  /** How long before its end a grant's requester is warned (0: never). Grants shorter than twice this are not warned. */
  readonly warnBefore: number;
  readonly resources: readonly Resource[];
};

/** Who is acting: a Slack user and the handles of the user groups they belong to (without `@`, lowercase). */
export type Actor = { readonly userId: string; readonly groups: ReadonlySet<string> };

export const DEFAULTS = {
  approvalTimeout: 30 * 60_000,
  minDuration: 60_000,
  approvals: 1,
  maxPrefix: DEFAULT_MAX_PREFIX,
  warnBefore: 5 * 60_000,
  breakGlassMaxDuration: 60 * 60_000,
} as const;

/** True when the actor is named directly or through one of their user groups. */
export function matchesAny(principals: readonly Principal[], actor: Actor): boolean {
  return principals.some((p) =>
    p.startsWith('@') ? actor.groups.has(p.slice(1).toLowerCase()) : p === actor.userId,
  );
}

/** Every `@handle` a policy mentions, so the directory can resolve exactly those groups. */
export function groupHandles(policy: Policy): string[] {
  const all = [
    ...policy.admins,
    ...policy.resources.flatMap((r) => [...(r.requesters ?? []), ...r.approvers]),
  ];
  return [...new Set(all.filter((p) => p.startsWith('@')).map((p) => p.slice(1).toLowerCase()))].sort();
}

export const findResource = (policy: Policy, id: string): Resource | undefined =>
  policy.resources.find((r) => r.id === id);

export const mayRequest = (resource: Resource, actor: Actor): boolean =>
  resource.requesters === undefined || matchesAny(resource.requesters, actor);

export const isApprover = (resource: Resource, actor: Actor): boolean =>
  matchesAny(resource.approvers, actor);

export const isAdmin = (policy: Policy, actor: Actor): boolean => matchesAny(policy.admins, actor);

/** The resources this actor may ask for, in policy order (the modal's picker and `/access resources`). */
export const requestableBy = (policy: Policy, actor: Actor): Resource[] =>
  policy.resources.filter((r) => mayRequest(r, actor));

/** `tcp 5432, 8000-8080` — how ports read in messages. */
export const describePorts = (r: SecurityGroupResource): string =>
  `${r.protocol} ${r.ports.map((p) => (p.from === p.to ? `${p.from}` : `${p.from}-${p.to}`)).join(', ')}`;
