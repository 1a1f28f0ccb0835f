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
   * Opens one ingress rule, tagged (with this deployment's name) and described after the grant. If EC2
   * already has the same rule (`InvalidPermission.Duplicate`), finds it and returns its id with
   * `existed: true`, and whether it is this deployment's (`managed`: tagged `managed-by=hallpass` and
   * `hallpass:deployment` with this deployment's name). A rule of hallpass's made before rules carried
   * the deployment tag is not `managed` but `legacy`, with the grant its tag names: it is this
   * deployment's only if this deployment's database knows that grant (the caller's to decide).
   */
  authorize(
    target: RuleTarget,
    rule: Omit<RuleKey, 'region' | 'groupId'> & { readonly family: SourceCidr['family'] },
    tags: RuleTags,
  ): Promise<AuthorizeResult>;
  /**
   * Revokes rules by id, as few calls as the provider allows (all of one group's due rules in one). A
   * rule already gone is success. Throws `InfraError`: one whose `ruleIds` names the rules kept open
   * when only some failed (the others are revoked), one without when the call failed whole (throttled,
   * unreachable), which is retried whole.
   */
  revoke(target: RuleTarget, ruleIds: readonly string[]): Promise<void>;
  /**
   * Rewrites the grant tags of a shared rule (its `hallpass:expires-at` follows the latest holder), and
   * tags it with this deployment (a rule made before rules carried the tag gets it here).
   */
  retag(target: RuleTarget, ruleId: string, tags: RuleTags): Promise<void>;
  /**
   * Every ingress rule of the target's group tagged `managed-by=hallpass`, all pages (reconciliation),
   * whichever deployment's (each carries its `hallpass:deployment` tag, read back in `tags.deployment`).
   * Rules without that tag are never returned, so reconciliation never touches them.
   */
  listManaged(target: RuleTarget): Promise<ManagedRule[]>;
}

/** What `authorize` found or made. */
export type AuthorizeResult = {
  readonly ruleId: string;
  /** The rule was there already (`InvalidPermission.Duplicate`). */
  readonly existed: boolean;
  /** A rule it made, or one it found tagged `managed-by=hallpass` with this deployment's name. */
  readonly managed: boolean;
  /**
   * Found, tagged `managed-by=hallpass` but with no `hallpass:deployment` (made before rules carried
   * it): the grant its `hallpass:grant-id` tag names, if any.
   */
  readonly legacy?: { readonly grantId?: string | undefined } | undefined;
};

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
    /**
     * `hallpass:deployment`: the deployment that made it. Absent on rules made before rules carried it;
     * such a rule is this deployment's only when its database knows the grant.
     */
    readonly deployment?: string | undefined;
    readonly grantId?: string | undefined;
    readonly requesterId?: string | undefined;
    readonly expiresAt?: Date | undefined;
  };
};
