import type { RuleTarget } from './network-access';

/** Where a security group is in use, as network ACLs see it (cutting open connections). */
export type GroupSurvey = {
  /** Network interfaces with the group attached. */
  readonly interfaces: number;
  /**
   * The longest `TcpEstablishedTimeout` among those interfaces, in seconds: how long EC2 keeps an idle
   * established TCP connection after its rule is gone (432,000 — five days — where none is set).
   */
  readonly tcpEstablishedSeconds: number;
  /** The network ACL of each subnet those interfaces are in (one per ACL). */
  readonly acls: readonly {
    readonly aclId: string;
    /** Rule numbers of the ACL's numbered inbound entries (32767, the default, left out). */
    readonly ingressRuleNumbers: readonly number[];
    /** Of those, the deny entries (the only kind hallpass adds). */
    readonly ingressDenyRuleNumbers: readonly number[];
  }[];
};

/** One inbound deny entry for a grant's address and ports. */
export type AclDeny = {
  readonly aclId: string;
  readonly ruleNumber: number;
  readonly protocol: 'tcp' | 'udp';
  readonly fromPort: number;
  readonly toPort: number;
  readonly cidr: string;
};

/** EC2 network ACLs: stateless, so a deny entry stops connections already established. Throws `InfraError`. */
export interface NetworkAcls {
  /** The interfaces with the target's group, their longest TCP established timeout, and their subnets' ACLs. */
  survey(target: RuleTarget): Promise<GroupSurvey>;
  /**
   * Adds the inbound deny entry. `exists` when the ACL already has an entry with that number
   * (`NetworkAclEntryAlreadyExists`); `full` when the ACL has no room (`NetworkAclEntryLimitExceeded`).
   */
  addDeny(target: RuleTarget, entry: AclDeny): Promise<'added' | 'exists' | 'full'>;
  /** Removes the inbound entry with that number; one already gone is success. */
  removeDeny(target: RuleTarget, aclId: string, ruleNumber: number): Promise<void>;
}

/** Where a connection cut stands (see `connection_cuts` in schema.ts). */
export type CutState = 'planned' | 'adding' | 'in_place' | 'removing' | 'removed' | 'refused';

/** One deny entry of a grant's cut, or its plan before the ACLs are known. */
export type ConnectionCut = {
  readonly id: number;
  readonly grantId: string;
  /** The group the grant's rule was on, reached as it was opened. */
  readonly target: RuleTarget;
  readonly protocol: 'tcp' | 'udp';
  readonly fromPort: number;
  readonly toPort: number;
  readonly cidr: string;
  readonly aclId?: string | undefined;
  readonly ruleNumber?: number | undefined;
  readonly state: CutState;
  readonly removeAt?: Date | undefined;
  readonly note?: string | undefined;
};

export interface CutStore {
  /** Records that this rule's connections are to be cut (idempotent per grant and rule). */
  plan(
    cut: Omit<ConnectionCut, 'id' | 'state' | 'aclId' | 'ruleNumber' | 'removeAt' | 'note'>,
    at: Date,
  ): Promise<void>;
  /** Cuts still to be carried out: planned ones whose grant has let go of its rules, adding and removing ones, and those in place past `remove_at`. */
  unfinished(now: Date): Promise<ConnectionCut[]>;
  ofGrant(grantId: string): Promise<ConnectionCut[]>;
  /** Rule numbers of entries hallpass has, or is putting, in this ACL. */
  numbersInUse(aclId: string): Promise<number[]>;
  /** Entries in place (or being added) on this group: a new grant for their address lifts them first. */
  liveOnGroup(region: string, groupId: string): Promise<ConnectionCut[]>;
  /**
   * Turns a planned cut into its entries, in one transaction: one `adding` row per ACL given a number,
   * one `refused` row per ACL without; none at all (no interface uses the group) marks it `removed`.
   */
  expand(
    plannedId: number,
    entries: readonly { readonly aclId: string; readonly ruleNumber: number }[],
    refused: readonly { readonly aclId: string; readonly note: string }[],
    removeAt: Date,
    at: Date,
  ): Promise<ConnectionCut[]>;
  /** Compare-and-set of a cut's state; false when it was not in `from`. */
  move(
    id: number,
    from: readonly CutState[],
    to: CutState,
    at: Date,
    fields?: { removeAt?: Date; note?: string },
  ): Promise<boolean>;
}
