import type { Grant } from '../domain/grant';
import type { Resource } from '../domain/policy';
import type { AccessRequest, Approval } from '../domain/request';
import type { ManagedRule } from './ports/network-access';
import type { RuleHold } from './ports/rule-store';
import type { ApiRequestLink } from './ports/token-store';

/** What the approval message shows; rendered by the Slack adapter for every state. */
export type ApprovalCard = {
  readonly request: AccessRequest;
  readonly resource: Resource;
  readonly approvals: readonly Approval[];
  /** The grant this request opened (an `access` request once approved). */
  readonly grant?: Grant | undefined;
  /** For an `extension` request: the grant it lengthens, as it stands now. */
  readonly extends?: Grant | undefined;
  /** For a request made through the HTTP API: the automation (and agent) behind it. */
  readonly automation?: ApiRequestLink | undefined;
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
  | {
      readonly type: 'grant-ended';
      readonly card: ApprovalCard;
      readonly grant: Grant;
      /** It never became active (its time ran out, or it was ended, while it was still opening). */
      readonly neverOpened?: boolean | undefined;
    }
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
   * Access followed a person's identity in Slack (see `followIdentity`): `userId` was deactivated, or
   * left the user group `group` (a handle without `@`), and so lost `effect` on this request — its
   * grant ended, the pending request was cancelled, or their vote on it stopped counting.
   */
  | {
      readonly type: 'identity-changed';
      readonly card: ApprovalCard;
      readonly userId: string;
      readonly cause: IdentityCause;
      readonly effect: 'grant-ended' | 'request-cancelled' | 'vote-withdrawn';
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
      /** How many more grants failed to close with this one (a batch: one call for a group). */
      readonly others?: number | undefined;
    };

/** What Slack said changed about a person: their account was deactivated, or they left a user group. */
export type IdentityCause =
  | { readonly kind: 'deactivated' }
  /** Any other change of the account (`user_change`): e.g. it became a guest the resource does not admit. */
  | { readonly kind: 'account-changed' }
  /** `group`: the group's handle (without `@`), or its id when Slack did not name it. */
  | { readonly kind: 'left-group'; readonly group: string };

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
 * The audit log's head, posted in the policy's `auditChannel`: a copy of "event `count` has
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
 * An alert about one grant, posted at the top level of its resource's channel and in the policy's
 * `alertsChannel` (besides the thread notices), once per episode: `close-failing` — its close has
 * failed `attempts` times and hallpass keeps retrying; `stranded` — the policy no longer describes
 * what it holds (`detail` says how); it still closes on time with what opened it. Dates are ISO
 * strings (the notice is stored as JSON).
 */
export type GrantAlert = {
  readonly type: 'grant-alert';
  readonly what: 'close-failing' | 'stranded';
  readonly grantId: string;
  readonly requestId: string;
  readonly resourceId: string;
  readonly requesterId: string;
  readonly expiresAt: string;
  readonly detail: string;
  readonly attempts?: number | undefined;
  /** The policy's admins (user ids and `@groups`), mentioned. */
  readonly admins?: readonly string[] | undefined;
  /** How many more grants failed to close with this one (a batch: one call for a group). */
  readonly others?: number | undefined;
};

/**
 * A notice posted in a channel on its own (not in an approval thread). Kept apart from `Notice`,
 * whose every member carries an approval card.
 */
export type ChannelNotice = ReconcileReport | AuditHeadNotice | GrantAlert;
