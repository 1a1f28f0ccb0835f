import type { SourceCidr } from '../../domain/cidr';

/** One EC2 ingress rule's identity: EC2 keeps one rule per (group, protocol, ports, address). */
export type RuleKey = {
  readonly region: string;
  readonly groupId: string;
  readonly protocol: 'tcp' | 'udp';
  readonly fromPort: number;
  readonly toPort: number;
  readonly cidr: string;
};

/** Tags and description inputs for a rule; the adapter writes them as AWS tags. */
export type RuleTags = { readonly grantId: string; readonly requesterId: string; readonly expiresAt: Date };

export type RuleTarget = {
  readonly region: string;
  readonly groupId: string;
  /** Role to assume for a group in another account (optional). */
  readonly assumeRoleArn?: string | undefined;
};

/** EC2 security-group ingress rules. Throws `InfraError` on failure. */
export interface NetworkAccess {
  /**
   * Opens one ingress rule, tagged and described after the grant. If EC2 already has the same
   * rule (`InvalidPermission.Duplicate`), finds it and returns its id with `existed: true`, and
   * whether it carries `managed-by=hallpass`.
   */
  authorize(
    target: RuleTarget,
    rule: Omit<RuleKey, 'region' | 'groupId'> & { readonly family: SourceCidr['family'] },
    tags: RuleTags,
  ): Promise<{ ruleId: string; existed: boolean; managed: boolean }>;
  /** Revokes rules by id. A rule already gone is success. */
  revoke(target: RuleTarget, ruleIds: readonly string[]): Promise<void>;
  /** Rewrites the grant tags of a shared rule (its `hallpass:expires-at` follows the latest holder). */
  retag(target: RuleTarget, ruleId: string, tags: RuleTags): Promise<void>;
  /**
   * Every ingress rule of the target's group tagged `managed-by=hallpass`, all pages (reconciliation).
   * Rules without that tag are never returned, so reconciliation never touches them.
   */
  listManaged(target: RuleTarget): Promise<ManagedRule[]>;
}

/** An ingress rule tagged `managed-by=hallpass`, as EC2 lists it now. */
export type ManagedRule = {
  readonly ruleId: string;
  /** `tcp` or `udp`; anything else as EC2 spells it (`-1`: all traffic, after a hand edit). */
  readonly protocol: string;
  /** `-1` when EC2 gives none (all traffic). */
  readonly fromPort: number;
  readonly toPort: number;
  /** The source range, canonical; `undefined` when the source is no longer an address range (hand edit). */
  readonly cidr: string | undefined;
  /** The grant tags as found; each may be missing (or, for the date, unreadable: then `undefined`). */
  readonly tags: {
    readonly grantId?: string | undefined;
    readonly requesterId?: string | undefined;
    readonly expiresAt?: Date | undefined;
  };
};
