import type { RuleTarget } from './network-access';

/**
 * The schedule AWS holds for one managed rule: at `fireAt`, EventBridge Scheduler revokes
 * exactly `ruleId` in its group, running as `roleArn`, and then deletes the schedule.
 */
export type Backstop = {
  readonly ruleId: string;
  /** Where the rule lives: the schedule is made in that region and account (the role assumed, if any). */
  readonly target: RuleTarget;
  readonly fireAt: Date;
  /** The execution role Scheduler assumes to revoke the rule. */
  readonly roleArn: string;
  /** Which grant's end it stands for, for a person reading the schedule in the console. */
  readonly grantId: string;
};

/** A schedule of hallpass's as AWS lists it. */
export type ListedBackstop = { readonly ruleId: string };

/** EventBridge Scheduler, holding a backstop per managed rule. Throws `InfraError` on failure. */
export interface Backstops {
  /** Creates the rule's schedule, or moves it if it exists (idempotent). */
  put(backstop: Backstop): Promise<void>;
  /** Deletes the rule's schedule; one already gone is success. */
  remove(target: RuleTarget, ruleId: string): Promise<void>;
  /** Every schedule of hallpass's in the target's region and account (reconciliation). */
  list(target: RuleTarget): Promise<ListedBackstop[]>;
}

/** What hallpass last made AWS hold for a rule (see `backstops` in schema.ts). */
export type BackstopRecord = {
  readonly ruleId: string;
  readonly target: RuleTarget;
  readonly fireAt: Date;
};

/** Where a rule's backstop should fire: after the last live grant holding it ends. */
export type BackstopWant = {
  readonly ruleId: string;
  readonly target: RuleTarget;
  /** The live holder that ends last (its end and resource decide the time). */
  readonly grantId: string;
  readonly resourceId: string;
  readonly lastEnd: Date;
};

export interface BackstopStore {
  get(ruleId: string): Promise<BackstopRecord | undefined>;
  /** Records what AWS now holds for the rule (`undefined`: nothing). */
  set(ruleId: string, record: BackstopRecord | undefined, at: Date): Promise<void>;
  all(): Promise<BackstopRecord[]>;
  /**
   * For each managed rule held by a live grant (all of them, or those named): its target and its last
   * holder's end. A rule not in the answer should have no backstop.
   */
  wanted(ruleIds?: readonly string[]): Promise<BackstopWant[]>;
  /**
   * Of `ruleIds`, those this database knows as rules of its own: held as a managed rule by any of its
   * grants (live or ended), or with a backstop recorded. Rule ids are unique in AWS, so a schedule for
   * any other rule id is not this deployment's (another deployment's in the same schedule group) and is
   * never deleted by it.
   */
  ours(ruleIds: readonly string[]): Promise<Set<string>>;
}
