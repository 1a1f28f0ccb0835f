import type { Policy } from '../domain/policy';
import type { AuditRecordSource } from './audit-ports';
import type {
  AddressLinkStore,
  ApiRequestStore,
  AuditLog,
  BackstopStore,
  Backstops,
  Clock,
  CutStore,
  Directory,
  DueWakeup,
  Faults,
  FollowUps,
  GrantStore,
  Ids,
  Locks,
  Logger,
  Metrics,
  NetworkAccess,
  NetworkAcls,
  Notifier,
  OutboxStore,
  Pacing,
  RateLimits,
  RequestStore,
  RoleSessionStore,
  RoleSessions,
  RuleStore,
  TokenStore,
  UnitOfWork,
  Wakeup,
} from './ports';

/**
 * Everything a use case may need: the full bag compose.ts builds. Each use case declares its own
 * `Deps`, port by port and narrowed to the methods it calls (and its helpers' `Deps`, intersected), so
 * its dependencies are explicit and its tests build only those; this bag satisfies every one of them.
 * Slack notices are not in it: `createUseCases` builds them once over the outbox (`createNotices`).
 */
export type AppDeps = {
  /**
   * `HALLPASS_DEPLOYMENT`: this deployment's name. Its rules carry it; reconciliation touches only
   * rules (and backstops) provably this deployment's.
   */
  readonly deployment: string;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly logger: Logger;
  /** Read at the moment of each decision: authorization comes from the policy at the time of the click. */
  readonly policy: () => Policy;
  readonly requests: RequestStore;
  readonly grants: GrantStore;
  readonly rules: RuleStore;
  readonly audit: AuditLog;
  /** The audit record: the chain walked and verified, every request derived from it and checked against the tables. */
  readonly auditRecord: AuditRecordSource;
  readonly uow: UnitOfWork;
  readonly network: NetworkAccess;
  readonly roles: RoleSessions;
  readonly roleSessions: RoleSessionStore;
  /** Every Slack message, until it is delivered (see `createNotices`). */
  readonly outbox: OutboxStore;
  readonly notifier: Notifier;
  readonly directory: Directory;
  /** Wakes the scheduler: due times changed (a new grant, an approval); `changed` after a close. */
  readonly wakeup: DueWakeup;
  /** Wakes the outbox dispatcher: a Slack delivery was queued. */
  readonly deliveries: Wakeup;
  /** Named locks shared by every replica: per security group, per opening grant, per background job. */
  readonly locks: Locks;
  /** Per-key sliding windows shared by every replica (the `/access` flood guard). */
  readonly rateLimits: RateLimits;
  /** What hallpass last made EventBridge Scheduler hold, and what it should hold. */
  readonly backstopRecords: BackstopStore;
  /**
   * AWS's own deadline for every rule: EventBridge Scheduler and the role it runs the revokes with
   * (`HALLPASS_BACKSTOP_ROLE_ARN`). Absent: no backstop (said at start-up and in /healthz).
   */
  readonly backstop?: { readonly port: Backstops; readonly roleArn: string } | undefined;
  /** Open connections cut at a grant's end with network-ACL deny entries (`cutConnections: nacl`). */
  readonly cuts: CutStore;
  readonly acls: NetworkAcls;
  /** One-time address links (`/access … ` without `from`), shared by every replica. */
  readonly addressLinks: AddressLinkStore;
  /** `HALLPASS_PUBLIC_URL` (no trailing `/`): where one-time links point; absent: none are offered. */
  readonly publicUrl?: string | undefined;
  /**
   * Where a close queues what follows it (its backstop's move, its connection cut), so those never
   * hold back another close. Absent (unit tests): run at once, awaited.
   */
  readonly followUps?: FollowUps | undefined;
  /**
   * Where the expiry run queues the announcements of the grants it closed (the card, the thread, the
   * requester), so a close that comes due meanwhile is not held behind them. A queue of its own: a
   * throttled Scheduler in `followUps` never delays a notice. Absent (unit tests): run at once, awaited.
   */
  readonly announcements?: FollowUps | undefined;
  /** Crash points for the fault-injection tests; `noFaults` in production. */
  readonly faults: Faults;
  /** Counters for `/metrics` (`HALLPASS_METRICS`); absent: nothing is recorded. */
  readonly metrics?: Metrics | undefined;
  /** Reconciliation's rests between security groups; absent (use-case tests): none. */
  readonly reconcilePacing?: Pacing | undefined;
  /** Automation tokens (`/access token …`, the HTTP API). Absent (use-case tests): no automation. */
  readonly tokens?: TokenStore | undefined;
  /** The token, agent and lease behind each API request; absent: no automation. */
  readonly apiRequests?: ApiRequestStore | undefined;
};
