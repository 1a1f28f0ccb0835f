import type { RuleKey, RuleTarget } from './network-access';

/**
 * A grant's hold on a rule. Rules are reference-counted: revoked only when no live grant holds them.
 * A hold records everything needed to reach its rule again (region, group, and the role assumed for a
 * group in another account), so closing never depends on the policy as it reads later.
 */
export type RuleHold = RuleKey & {
  readonly grantId: string;
  readonly ruleId: string;
  /** False when the rule existed before hallpass and is not tagged managed-by=hallpass: never revoked by us. */
  readonly managed: boolean;
  /** The role assumed to reach the group when the rule was opened; absent: hallpass's own credentials. */
  readonly assumeRoleArn?: string | undefined;
};

export interface RuleStore {
  /** Records that a grant holds a rule. */
  hold(hold: RuleHold): Promise<void>;
  /** The unreleased holds of one grant. */
  holdsOf(grantId: string): Promise<RuleHold[]>;
  /** The unreleased holds of each of these grants (a batch of closes), in no particular order. */
  holdsOfAll(grantIds: readonly string[]): Promise<RuleHold[]>;
  /**
   * Of `ruleIds`, those an unreleased hold of a *live* grant outside `exceptGrantIds` still points at:
   * the rules a batch of closes must keep.
   */
  heldByOthers(ruleIds: readonly string[], exceptGrantIds: readonly string[]): Promise<Set<string>>;
  /** How many unreleased holds of *live* grants other than `exceptGrantId` point at `ruleId`. */
  otherLiveHolders(ruleId: string, exceptGrantId: string): Promise<number>;
  /**
   * Every unreleased hold of a live grant in this group (any rule): what reconciliation compares with
   * the group's rules in AWS, read under the group's lock.
   */
  liveHoldsIn(group: Pick<RuleKey, 'region' | 'groupId'>): Promise<RuleHold[]>;
  /** Every unreleased hold of a live grant on this rule (to tag the rule after whichever ends last). */
  liveHoldsOn(ruleId: string): Promise<RuleHold[]>;
  /** A live hold on the same key by another grant (to share its rule instead of calling AWS). */
  findLive(key: RuleKey): Promise<RuleHold | undefined>;
  /** Marks all holds of a grant released. */
  release(grantId: string, at: Date): Promise<void>;
  /** Marks all holds of each of these grants released (a batch of closes). */
  releaseAll(grantIds: readonly string[], at: Date): Promise<void>;
  /**
   * Every group (region, group, role) named by a hold still held or released since `releasedSince`:
   * where tagged rules of hallpass's may still exist whether or not the policy names the group now
   * (reconciliation).
   */
  knownTargets(releasedSince: Date): Promise<RuleTarget[]>;
  /**
   * Holds written before holds recorded their target: fills in the role from `roleOf` (the policy of
   * the upgrade) for each grant, once. Returns how many holds it filled in.
   */
  recordLegacyTargets(roleOf: (resourceId: string) => string | undefined): Promise<number>;
}
