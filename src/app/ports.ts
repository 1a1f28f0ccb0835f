import type { SourceCidr } from '../domain/cidr';
import type { EndReason, Grant, GrantState } from '../domain/grant';
import type { Actor, Resource } from '../domain/policy';
import type { AccessRequest, Approval, MessageRef, RequestState } from '../domain/request';
import type { Result } from '../domain/result';
import type { Place } from '../domain/standing';
import type { AuditHead } from './audit-ports';

/** The only source of time for use cases and stores; tests inject a fake that moves on command. */
export interface Clock {
  now(): Date;
}

/** Timers the scheduler arms; the fake clock implements them too so moving time fires them. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Prefixed, unguessable ids: `req_…`, `grt_…`. */
export interface Ids {
  request(): string;
  grant(): string;
}

/** Structured logging (pino in production). Never pass secrets in `fields`. */
export interface Logger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

/** An infrastructure failure (AWS, Slack). Retry decisions read only `retryable`. */
export class InfraError extends Error {
  /** When the service said how long to wait (Slack's `Retry-After` on a 429), in milliseconds. */
  readonly retryAfterMs: number | undefined;
  constructor(
    readonly code: string,
    readonly retryable: boolean,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number | undefined },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'InfraError';
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** Runs `fn` atomically (a synchronous SQLite transaction). Never call Slack or AWS inside. */
export interface UnitOfWork {
  tx<T>(fn: () => T): T;
}

export type NewRequest = Pick<
  AccessRequest,
  'id' | 'resourceId' | 'requesterId' | 'durationMs' | 'source' | 'reason' | 'createdAt' | 'approvalDeadline'
> &
  Partial<Pick<AccessRequest, 'kind' | 'extendsGrantId' | 'breakGlass' | 'resourceAtRequest'>>;

/** Requests and their approvals. Every state change is a compare-and-set on `pending`. */
export interface RequestStore {
  insert(request: NewRequest): AccessRequest;
  get(id: string): AccessRequest | undefined;
  attachMessage(id: string, ref: MessageRef): void;
  /** Records one approver's vote on a pending request; a second vote by the same person is refused. */
  addApproval(
    id: string,
    approverId: string,
    at: Date,
  ): Result<readonly Approval[], 'NOT_PENDING' | 'ALREADY_APPROVED'>;
  approvals(id: string): Approval[];
  /**
   * Takes back a vote on a pending request that no longer counts (its approver is no longer one, see
   * `approveRequest`), so the card shows only votes that count and the approver may vote again once
   * they are one again. Nothing on a decided request.
   */
  withdrawApproval(id: string, approverId: string): void;
  /** Moves a request from `pending` to `to`, only if it is still pending. */
  decide(
    id: string,
    to: Exclude<RequestState, 'pending' | 'failed'>,
    by: string,
    at: Date,
    note?: string,
  ): Result<AccessRequest, 'NOT_PENDING'>;
  /** Marks an approved (or pending) request failed, with the failure in plain words. */
  markFailed(id: string, note: string, at: Date): AccessRequest;
  /** Pending requests, oldest first; `requesterId` narrows to one person's. */
  listPending(requesterId?: string): AccessRequest[];
  /** Pending requests whose approval deadline is at or before `now`. */
  dueForTimeout(now: Date): AccessRequest[];
  /** The earliest approval deadline among pending requests. */
  nextDeadline(): Date | undefined;
  /** Pending requests past half their approval time whose approvers were not reminded yet. */
  dueForReminder(now: Date): AccessRequest[];
  /** When the next reminder is due. */
  nextReminder(): Date | undefined;
  markReminded(id: string, at: Date): void;
  /** A pending extension request for this grant, if any. */
  pendingExtension(grantId: string): AccessRequest | undefined;
}

export type NewGrant = Pick<
  Grant,
  'id' | 'requestId' | 'resourceId' | 'requesterId' | 'startsAt' | 'expiresAt'
> &
  Partial<Pick<Grant, 'breakGlass'>>;

/** Grants. Each state change is a compare-and-set on the expected current states. */
export interface GrantStore {
  /** Inserts a grant in state `opening`. */
  insert(grant: NewGrant): Grant;
  get(id: string): Grant | undefined;
  byRequest(requestId: string): Grant | undefined;
  /** Moves the grant to `to` if it is in one of `from`; `patch` sets end fields. */
  move(
    id: string,
    from: readonly GrantState[],
    to: GrantState,
    patch?: { endedAt?: Date; endReason?: EndReason; endedBy?: string },
  ): Result<Grant, 'STATE_CHANGED'>;
  /** Grants in the given states, earliest expiry first; `requesterId` narrows to one person's. */
  list(states: readonly GrantState[], requesterId?: string): Grant[];
  /**
   * Grants due to be closed now: see `grantDueAt` in the domain — one definition, shared with
   * `nextExpiry`, so "what is due" and "when is the next due" cannot disagree.
   */
  dueForExpiry(now: Date): Grant[];
  /** The earliest moment a grant is due to be closed (a `closing` grant is due at once). */
  nextExpiry(): Date | undefined;
  /**
   * Records a failed close attempt on a `closing` grant: counts it and sets when to try again.
   * Returns the grant as it is now (`undefined` if it is no longer closing).
   */
  closeFailed(id: string, retryAt: Date): Grant | undefined;
  /** Moves an active grant's planned end (an approved extension) and clears its warning. */
  extend(id: string, expiresAt: Date): Result<Grant, 'STATE_CHANGED'>;
  /** Active, unwarned grants long enough to deserve a warning whose warning time (`expires_at − warnBeforeMs`) has come. */
  dueForWarning(now: Date, warnBeforeMs: number): Grant[];
  /** When the next warning is due. */
  nextWarning(warnBeforeMs: number): Date | undefined;
  markWarned(id: string, at: Date): void;
  /** Records the approver's review of a break-glass grant; refused if already reviewed. */
  markReviewed(id: string, by: string, at: Date): Result<Grant, 'ALREADY_REVIEWED'>;
  /** Break-glass grants nobody has reviewed yet, oldest first. */
  unreviewedBreakGlass(): Grant[];
}

/** One EC2 ingress rule's identity: EC2 keeps one rule per (group, protocol, ports, address). */
export type RuleKey = {
  readonly region: string;
  readonly groupId: string;
  readonly protocol: 'tcp' | 'udp';
  readonly fromPort: number;
  readonly toPort: number;
  readonly cidr: string;
};

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
  hold(hold: RuleHold): void;
  /** The unreleased holds of one grant. */
  holdsOf(grantId: string): RuleHold[];
  /** How many unreleased holds of *live* grants other than `exceptGrantId` point at `ruleId`. */
  otherLiveHolders(ruleId: string, exceptGrantId: string): number;
  /** Every unreleased hold of a live grant on this rule (to tag the rule after whichever ends last). */
  liveHoldsOn(ruleId: string): RuleHold[];
  /** A live hold on the same key by another grant (to share its rule instead of calling AWS). */
  findLive(key: RuleKey): RuleHold | undefined;
  /** Marks all holds of a grant released. */
  release(grantId: string, at: Date): void;
  /**
   * Every group (region, group, role) named by a hold still held or released since `releasedSince`:
   * where tagged rules of hallpass's may still exist whether or not the policy names the group now
   * (reconciliation).
   */
  knownTargets(releasedSince: Date): RuleTarget[];
  /**
   * Holds written before holds recorded their target: fills in the role from `roleOf` (the policy of
   * the upgrade) for each grant, once. Returns how many holds it filled in.
   */
  recordLegacyTargets(roleOf: (resourceId: string) => string | undefined): number;
}

/** An append-only audit trail: every transition, with actor, time and details. */
export type AuditEvent = {
  readonly at: Date;
  readonly actor: string;
  readonly type: string;
  readonly requestId?: string | undefined;
  readonly grantId?: string | undefined;
  readonly details?: Record<string, unknown> | undefined;
};

export interface AuditLog {
  append(event: AuditEvent): void;
  /** Events in the order they were appended, optionally for one request. */
  list(filter?: { requestId?: string }): AuditEvent[];
  /** The log's head as it stands: the last event's `seq` and seal (0 and 64 zeros when empty). */
  head(): AuditHead;
  /** The last event of this type, if any (when the head was last published, …). */
  lastOfType(type: string): AuditEvent | undefined;
}

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

/**
 * The schedule AWS holds for one managed rule (issue 10): at `fireAt`, EventBridge Scheduler revokes
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
  get(ruleId: string): BackstopRecord | undefined;
  /** Records what AWS now holds for the rule (`undefined`: nothing). */
  set(ruleId: string, record: BackstopRecord | undefined, at: Date): void;
  all(): BackstopRecord[];
  /**
   * For each managed rule held by a live grant (all of them, or those named): its target and its last
   * holder's end. A rule not in the answer should have no backstop.
   */
  wanted(ruleIds?: readonly string[]): BackstopWant[];
}

/** Where a security group is in use, as network ACLs see it (issue 10, cutting open connections). */
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
  ): void;
  /** Cuts still to be carried out: planned ones whose grant has let go of its rules, adding and removing ones, and those in place past `remove_at`. */
  unfinished(now: Date): ConnectionCut[];
  ofGrant(grantId: string): ConnectionCut[];
  /** Rule numbers of entries hallpass has, or is putting, in this ACL. */
  numbersInUse(aclId: string): number[];
  /** Entries in place (or being added) on this group: a new grant for their address lifts them first. */
  liveOnGroup(region: string, groupId: string): ConnectionCut[];
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
  ): ConnectionCut[];
  /** Compare-and-set of a cut's state; false when it was not in `from`. */
  move(
    id: number,
    from: readonly CutState[],
    to: CutState,
    at: Date,
    fields?: { removeAt?: Date; note?: string },
  ): boolean;
}

/**
 * Work that follows a close but must never hold one back: moving a rule's backstop in EventBridge
 * Scheduler and cutting its connections (issue 10). A close queues it and returns as soon as AWS has
 * revoked the rule, so a slow or throttled Scheduler never delays the next grant's close in a burst.
 * Run one at a time, in order; a failure is logged — reconciliation finishes anything left (the
 * database holds what each step needs). Nothing here is needed for correctness after a crash.
 */
export type FollowUps = {
  /** Queues `work` after whatever is queued. */
  after(what: string, work: () => Promise<unknown>): void;
  /** Resolves once the queue is empty (tests, shutdown). */
  idle(): Promise<void>;
};

/** Slack said a user group changed (`subteam_members_changed`, `subteam_updated`). */
export type GroupChange = {
  /** The user group's id (`S…`). */
  readonly subteamId: string;
  /** Members Slack says left it (applied at once, before Slack is asked for the whole list again). */
  readonly removedUsers: readonly string[];
  /** The group was disabled: nobody is in it any more. */
  readonly disabled: boolean;
};

/** Identity from Slack: the user groups a user is in (handles, without `@`) and their standing. Cached by the adapter. */
export interface Directory {
  /**
   * The person as Slack says now: their groups and their standing (member, guest, external…, see
   * domain/standing.ts). `origin` is where the action was signed (the payload's workspace and
   * organisation); leave it out when re-checking someone who is not acting (a voter at the quorum).
   * A user Slack cannot vouch for comes back with standing `unknown`, never as a member.
   */
  actor(userId: string, origin?: readonly Place[]): Promise<Actor>;
  /** A user group changed in Slack: the next `actor` sees the change (no waiting for the cache to expire). */
  groupsChanged(change: GroupChange): void;
  /** The user's email from their Slack profile, if Slack shares it (`users:read.email`); used as the STS SourceIdentity. */
  emailOf(userId: string): Promise<string | undefined>;
}

/** What the approval message shows; rendered by the Slack adapter for every state. */
export type ApprovalCard = {
  readonly request: AccessRequest;
  readonly resource: Resource;
  readonly approvals: readonly Approval[];
  /** The grant this request opened (an `access` request once approved). */
  readonly grant?: Grant | undefined;
  /** For an `extension` request: the grant it lengthens, as it stands now. */
  readonly extends?: Grant | undefined;
};

/** Something worth telling the requester or the channel thread. */
export type Notice =
  | { readonly type: 'request-submitted'; readonly card: ApprovalCard }
  | { readonly type: 'approval-recorded'; readonly card: ApprovalCard; readonly approverId: string }
  | { readonly type: 'request-denied'; readonly card: ApprovalCard }
  | { readonly type: 'request-timed-out'; readonly card: ApprovalCard }
  | { readonly type: 'request-failed'; readonly card: ApprovalCard }
  | { readonly type: 'request-cancelled'; readonly card: ApprovalCard }
  | { readonly type: 'grant-started'; readonly card: ApprovalCard; readonly grant: Grant }
  | { readonly type: 'grant-ended'; readonly card: ApprovalCard; readonly grant: Grant }
  /** To the requester, `warnBefore` ahead of the end, with Extend and Done buttons. */
  | { readonly type: 'grant-expiring'; readonly card: ApprovalCard; readonly grant: Grant }
  /** An approved extension moved the end: `previousEnd` → `grant.expiresAt`. */
  | {
      readonly type: 'grant-extended';
      readonly card: ApprovalCard;
      readonly grant: Grant;
      readonly previousEnd: Date;
    }
  /** Once, at half the approval timeout, in the approval thread: mentions the approvers. */
  | { readonly type: 'approval-reminder'; readonly card: ApprovalCard; readonly approvers: readonly string[] }
  /** A break-glass grant was opened without approval: the approvers are alerted and must review it. */
  | {
      readonly type: 'break-glass-opened';
      readonly card: ApprovalCard;
      readonly grant: Grant;
      readonly approvers: readonly string[];
    }
  | { readonly type: 'grant-reviewed'; readonly card: ApprovalCard; readonly grant: Grant }
  /**
   * The policy no longer describes what a live grant holds (its resource was removed, or its group,
   * region, role or ports changed): the grant keeps exactly what was approved and closes on time with
   * what opened it. `changes` says what differs, in words.
   */
  | {
      readonly type: 'grant-policy-changed';
      readonly card: ApprovalCard;
      readonly grant: Grant;
      readonly changes: readonly string[];
    }
  /**
   * Open connections of an ended grant (`cutConnections: nacl`): `cut` — deny entries are in place
   * until `until`; `refused` — an ACL had no free rule number or no room, so connections there were not
   * cut (`why`); `lifted` — the entries are gone again.
   */
  | {
      readonly type: 'connections-cut';
      readonly card: ApprovalCard;
      readonly grant: Grant;
      readonly phase: 'cut' | 'refused' | 'lifted';
      /** `acl-… #rule` of each entry concerned. */
      readonly entries: readonly string[];
      readonly until?: Date | undefined;
      readonly why?: string | undefined;
    }
  /**
   * A close keeps failing: said loudly in the thread (mentioning the admins), to the requester and to
   * the admins; hallpass keeps retrying until AWS confirms.
   */
  | {
      readonly type: 'grant-close-failing';
      readonly card: ApprovalCard;
      readonly grant: Grant;
      readonly attempts: number;
      readonly error: string;
      /** The policy's admins (user ids and `@groups`), mentioned in the thread. */
      readonly admins?: readonly string[] | undefined;
    };

/** Slack, as the use cases see it. Failures throw; use cases log them and go on (a notice never blocks a close). */
export interface Notifier {
  /** Posts the Approve / Deny message in the resource's channel. */
  postApprovalCard(card: ApprovalCard): Promise<MessageRef>;
  /** Rewrites the approval message in place to show the current state. */
  updateApprovalCard(ref: MessageRef, card: ApprovalCard): Promise<void>;
  /** Replies in the approval message's thread. */
  notifyThread(ref: MessageRef, notice: Notice): Promise<void>;
  /** Sends a direct message to a user. */
  notifyUser(userId: string, notice: Notice): Promise<void>;
  /**
   * Sends role credentials to the requester alone, as a direct message. The only place
   * credentials ever leave hallpass; they are not stored or logged.
   */
  sendCredentials(
    userId: string,
    card: ApprovalCard,
    grant: Grant,
    credentials: SessionCredentials,
  ): Promise<void>;
  /** Posts a notice in a channel on its own, outside any approval thread (the reconciliation report). */
  notifyChannel(channel: string, notice: ChannelNotice): Promise<void>;
}

/** Wakes a background loop: the scheduler after a change to due times, the outbox dispatcher after a delivery was queued. */
export interface Wakeup {
  wake(): void;
}

/** Short-lived AWS credentials. Secret: never stored, never logged, sent to the requester alone. */
export type SessionCredentials = {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** When STS ends the session by itself. */
  readonly expiration: Date;
};

/** The identity of an STS role session, as CloudTrail and IAM conditions see it. */
export type RoleSession = {
  /** `RoleSessionName`, derived from the grant id. */
  readonly sessionName: string;
  /** `AROA…:<sessionName>` — the session's `aws:userid`. */
  readonly assumedRoleId: string;
  /** The session's own end (STS cannot end it earlier). */
  readonly expiresAt: Date;
};

/**
 * Room in a role's inline-policy budget for the policy that lists its revoked sessions, as
 * {@link RoleSessions.revocationRoom} measures it. IAM counts the characters of all of a role's inline
 * policies together, whitespace excluded.
 */
export type RevocationRoom = {
  /** IAM's limit on a role's inline policies together (10,240 characters). */
  readonly limit: number;
  /** Characters the role's other inline policies take (every one but hallpass's list), counted conservatively. */
  readonly usedByOthers: number;
  /** Characters hallpass's list would take holding exactly the given sessions. */
  readonly needed: number;
};

/**
 * STS role sessions, and the one inline deny policy per role that cuts sessions short
 * (`hallpass-revoked-sessions`, listing the revoked sessions' `aws:userid`). Throws `InfraError` on failure.
 */
export interface RoleSessions {
  /** The role's `MaxSessionDuration` in seconds (iam:GetRole), the ceiling of what can be granted. */
  maxSessionSeconds(roleArn: string): Promise<number>;
  /**
   * The `aws:userid` the session of this grant will have once issued: the role's id (iam:GetRole,
   * `AROA…`) and the `RoleSessionName` derived from the grant id, `AROA…:<session name>`.
   */
  sessionUserId(input: { readonly roleArn: string; readonly grantId: string }): Promise<string>;
  /**
   * `AssumeRole` for one grant: `RoleSessionName` from the grant id, `SourceIdentity` = the requester
   * (their email, else their Slack user id), session tags naming requester and grant.
   */
  start(input: {
    readonly roleArn: string;
    readonly region: string;
    readonly grantId: string;
    readonly requesterId: string;
    readonly sourceIdentity: string;
    readonly durationSeconds: number;
  }): Promise<{ readonly session: RoleSession; readonly credentials: SessionCredentials }>;
  /**
   * How much room the role's inline-policy budget leaves for the revoked-sessions policy, and how much
   * that policy would need listing `assumedRoleIds` (iam:ListRolePolicies + iam:GetRolePolicy).
   */
  revocationRoom(input: {
    readonly roleArn: string;
    readonly assumedRoleIds: readonly string[];
  }): Promise<RevocationRoom>;
  /**
   * Makes the role's revoked-sessions policy deny exactly these sessions (matched on `aws:userid`),
   * replacing what it listed before; an empty list deletes the policy. Idempotent. Resolves only once
   * IAM accepted the change.
   */
  writeRevokedSessions(input: {
    readonly roleArn: string;
    readonly assumedRoleIds: readonly string[];
  }): Promise<void>;
  /**
   * Removes one inline policy by name: the per-grant `hallpass-deny-<grant id>` policies written before
   * the single list existed, once their session has expired anyway. A policy already gone is success.
   */
  removeDeny(input: { readonly roleArn: string; readonly policyName: string }): Promise<void>;
}

/** A role session as hallpass keeps it: identity and timing only — credentials are never stored. */
export type StoredRoleSession = RoleSession & {
  readonly grantId: string;
  readonly roleArn: string;
  /**
   * The inline policy that denies this session: `hallpass-revoked-sessions` (the role's one list), or
   * a per-grant `hallpass-deny-<grant id>` written before the list existed.
   */
  readonly denyPolicyName?: string | undefined;
  /** When IAM confirmed the deny; absent while the session is not (yet) cut off. */
  readonly deniedAt?: Date | undefined;
  /** When the session left its deny policy again (pruned from the list, or its own policy deleted), after its expiry. */
  readonly denyRemovedAt?: Date | undefined;
};

/** Role sessions of `aws-role` grants, and whether (and by which policy) each is cut short. */
export interface RoleSessionStore {
  record(grantId: string, roleArn: string, session: RoleSession): void;
  get(grantId: string): StoredRoleSession | undefined;
  /**
   * Sessions of this role STS still honours (`expires_at` after `now`), denied or not, oldest expiry
   * first: what the role's deny list may have to hold.
   */
  liveOfRole(roleArn: string, now: Date): StoredRoleSession[];
  /** Written only after IAM confirmed the deny. */
  markDenied(grantId: string, policyName: string, at: Date): void;
  markDenyRemoved(grantId: string, at: Date): void;
  /** Denied sessions not yet taken out of their deny policy whose own expiry is at or before `now`: prunable. */
  dueForCleanup(now: Date): StoredRoleSession[];
  /** The next moment an entry can be pruned: the earliest expiry among denied sessions not yet pruned. */
  nextCleanup(): Date | undefined;
}

/**
 * Named points between the steps of opening and closing, where the fault-injection tests kill the
 * process (SIGKILL) to prove that every crash is recovered. A no-op in production.
 */
export interface Faults {
  point(name: FaultPoint): void;
}

export type FaultPoint =
  | 'approve.after-commit'
  | 'open.before-authorize'
  | 'open.after-authorize'
  | 'open.after-first-rule'
  | 'open.before-backstop'
  | 'open.after-backstop'
  | 'open.before-active'
  | 'extend.before-backstop'
  | 'close.after-closing'
  | 'close.before-revoke'
  | 'close.after-revoke'
  | 'close.before-closed'
  | 'close.before-backstop'
  | 'cut.before-add'
  | 'cut.after-add';

export const FAULT_POINTS: readonly FaultPoint[] = [
  'approve.after-commit',
  'open.before-authorize',
  'open.after-authorize',
  'open.after-first-rule',
  'open.before-backstop',
  'open.after-backstop',
  'open.before-active',
  'extend.before-backstop',
  'close.after-closing',
  'close.before-revoke',
  'close.after-revoke',
  'close.before-closed',
  'close.before-backstop',
  'cut.before-add',
  'cut.after-add',
];

export const noFaults: Faults = { point: () => {} };

/** One Slack message to send (never credentials: those go out directly, once, and are never stored). */
export type Delivery =
  | { readonly kind: 'card-post'; readonly requestId: string }
  | { readonly kind: 'card-update'; readonly requestId: string }
  | { readonly kind: 'thread'; readonly requestId: string; readonly notice: Notice }
  | { readonly kind: 'dm'; readonly requestId: string; readonly userId: string; readonly notice: Notice }
  | { readonly kind: 'channel'; readonly channel: string; readonly notice: ChannelNotice };

/** A delivery as the outbox keeps it. */
export type OutboxItem = {
  readonly id: number;
  readonly kind: Delivery['kind'];
  /** Deliveries of one lane go out in order, each after the ones before it (`req:<id>`, `chan:<channel>`). */
  readonly lane: string;
  readonly requestId?: string | undefined;
  readonly userId?: string | undefined;
  readonly channel?: string | undefined;
  /** The notice as JSON, without its card (the card is read fresh when sent). */
  readonly notice?: string | undefined;
  /** Attempts made so far (0 for one never tried). */
  readonly attempts: number;
  readonly createdAt: Date;
};

/**
 * Every Slack message waits here until it is delivered, so nothing that closes access waits on Slack
 * and a Slack outage delays notices instead of losing them.
 */
export interface OutboxStore {
  /** Appends a delivery to the end of its lane, due at once. */
  enqueue(item: Omit<OutboxItem, 'id' | 'attempts' | 'createdAt'>, now: Date): void;
  /** Deliveries that may go now: due, and first among the waiting ones of their lane. Oldest first. */
  ready(now: Date, limit: number): OutboxItem[];
  done(id: number, at: Date): void;
  retryLater(id: number, attempts: number, nextAt: Date, error: string): void;
  /** Gives up on a delivery (kept, marked abandoned, for the record). */
  abandon(id: number, at: Date, error: string): void;
  /** When the first waiting delivery of some lane is due. */
  nextAttempt(): Date | undefined;
  /** How many deliveries are waiting (health and tests). */
  waiting(): number;
}

// --- Reconciliation with AWS (issue 5) ---------------------------------------------------------

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

/** Why a tagged rule is an orphan: no live grant in the database accounts for it. */
export type OrphanReason =
  /** The grant its tag names is not in the database (lost, or restored from an older backup). */
  | 'unknown-grant'
  /** The grant is closed or failed. */
  | 'grant-ended'
  /** The grant is live but holds no such rule, and the rule's `hallpass:expires-at` has passed. */
  | 'tag-expired'
  /** The grant is live and the tag not yet expired, but the database records no hold on this rule. */
  | 'untracked';

/** A tagged rule to revoke, and why. */
export type OrphanRule = { readonly rule: ManagedRule; readonly reason: OrphanReason };

/** An active grant whose rule in AWS is not what the database says it is. */
export type RuleDrift =
  /** The rule is gone from AWS (deleted by hand, or its `managed-by` tag removed). */
  | { readonly kind: 'vanished'; readonly grant: Grant; readonly hold: RuleHold }
  /** The rule's source or ports were changed by hand (e.g. widened): `rule` is how it is now. */
  | { readonly kind: 'modified'; readonly grant: Grant; readonly hold: RuleHold; readonly rule: ManagedRule };

/** What one reconciliation pass found and did, for one channel. */
export type ReconcileReport = {
  readonly type: 'reconcile-report';
  /** Orphans that were revoked (a failed revoke is logged and retried, and reported once it succeeds). */
  readonly orphans: readonly (OrphanRule & { readonly region: string; readonly groupId: string })[];
  /** Each finding once: `revoked` / `grantEnded` say what hallpass did about a modified rule. */
  readonly drift: readonly (RuleDrift & { readonly revoked: boolean; readonly grantEnded: boolean })[];
};

/**
 * The audit log's head, posted in the policy's `auditChannel` (issue 9): a copy of "event `count` has
 * the seal `hash`" the database cannot rewrite, so `npm run audit -- verify --head <count>:<hash>` can
 * later prove nothing up to it was removed or changed. Dates are ISO strings (the notice is stored as JSON).
 */
export type AuditHeadNotice = {
  readonly type: 'audit-head';
  readonly count: number;
  readonly hash: string;
  /** Id of the key that sealed the head event; absent: unkeyed (plain SHA-256). */
  readonly keyId?: string | undefined;
  /** When it was read (ISO-8601 UTC). */
  readonly at: string;
  /** Why now: the schedule, or an export (who took it, and what). */
  readonly trigger:
    | { readonly kind: 'schedule' }
    | {
        readonly kind: 'export';
        readonly by: string;
        readonly rows: number;
        readonly since?: string | undefined;
        readonly until?: string | undefined;
      };
  /** What the walk of the chain found just before: intact, or where it breaks. */
  readonly chain:
    | { readonly ok: true; readonly unkeyed: number }
    | { readonly ok: false; readonly firstBrokenSeq: number; readonly message: string };
  /** Requests whose tables disagree with the chain (0 when they all agree); absent when not checked. */
  readonly mismatches?: number | undefined;
};

/**
 * A notice posted in a channel on its own (not in an approval thread). Kept apart from `Notice`,
 * whose every member carries an approval card.
 */
export type ChannelNotice = ReconcileReport | AuditHeadNotice;
