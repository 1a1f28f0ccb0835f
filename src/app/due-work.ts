import type { Grant } from '../domain/grant';
import type { Policy } from '../domain/policy';
import { type AccessRequest, SYSTEM_ACTOR } from '../domain/request';
import { type CloseExpiredDeps, closeExpiredGrants } from './close-expired-grants';
import { type CloseFailureDeps, type ClosingUses, recordCloseFailures } from './close-grant';
import { endLapsedLeases, type LeaseLapseDeps } from './lease-lapses';
import type { Notices } from './notify';
import { noteOutcome, type OutcomeDeps } from './outcomes';
import {
  type ApiRequestStore,
  type AuditLog,
  type FollowUps,
  type GrantStore,
  NOTHING_DUE,
  type RequestStore,
  type RoleSessionStore,
  type UnitOfWork,
} from './ports';
import { type PruneDeps, pruneRevokedSessions } from './role-revocation';

/** What timing out one pending request needs. */
export type TimeOutDeps = OutcomeDeps & {
  readonly uow: UnitOfWork;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly requests: Pick<RequestStore, 'decide'>;
  readonly notices: Pick<Notices, 'refreshCard' | 'tellBoth'>;
};

type Deps = CloseFailureDeps &
  CloseExpiredDeps &
  PruneDeps &
  LeaseLapseDeps &
  TimeOutDeps & {
    readonly policy: () => Policy;
    readonly grants: Pick<GrantStore, 'closes' | 'warnings' | 'markWarned'>;
    readonly roleSessions: Pick<RoleSessionStore, 'cleanups'>;
    readonly requests: Pick<RequestStore, 'timeouts' | 'reminders' | 'markReminded'>;
    readonly notices: Pick<Notices, 'card' | 'deliver'>;
    readonly announcements?: FollowUps | undefined;
    /** API requests' leases (absent: no HTTP API, nothing ever lapses). */
    readonly apiRequests?: Pick<ApiRequestStore, 'lapses' | 'markLapsed' | 'release'> | undefined;
  };

export type DueWorkResult = {
  readonly closed: number;
  readonly timedOut: number;
  /**
   * Work that failed and must be retried by the scheduler's backoff. A failed close is not listed: it
   * keeps its own retry time in the database (`retry_at`), so it never delays another grant's close.
   */
  readonly failed: readonly string[];
};

/**
 * Every kind of work that comes due, and when: the one owner of both. Each kind is one `DueQuery` of
 * its store, whose `due` (what to do now) and `next` (when to wake) read one predicate, and `nextDue`
 * and `run` below take their kinds from the same list, so a kind cannot be run without being woken
 * for, or woken for without being run. Only the scheduler runs it (a click on a lapsed request times
 * out that one request, see `timeOutRequest`, and nothing else).
 */
export type DueWork = {
  /** The next due time of each kind of work (the scheduler arms its one timer for the earliest). */
  nextDue(): Promise<(Date | undefined)[]>;
  /**
   * The run-once job, also run at start-up to catch up on what came due while hallpass was down.
   * AWS first: every grant due to close is closed, a few at a time, and revoked role sessions that
   * expired by themselves are pruned from their role's deny policy; the closes are announced apart
   * (`announcements`), so the next run can start at once. Then what only touches the
   * database: pending requests past their deadline time out, requesters are warned before their end,
   * approvers are reminded. Every Slack message is only queued in the outbox (see `deliver`), so
   * nothing here waits on Slack. Safe to run twice: each step is a compare-and-set on state.
   */
  run(now: Date): Promise<DueWorkResult>;
};

export function createDueWork(deps: Deps, use: ClosingUses): DueWork {
  /** The kinds of due work, in the order a run does them. */
  const kinds = () => ({
    closes: deps.grants.closes,
    cleanups: deps.roleSessions.cleanups,
    timeouts: deps.requests.timeouts,
    warnings: deps.grants.warnings(deps.policy().warnBefore),
    reminders: deps.requests.reminders,
    lapses: deps.apiRequests?.lapses ?? NOTHING_DUE,
  });
  const closeDue = closeExpiredGrants(deps, (grant) =>
    // A close retried after a failure keeps the reason and the person it was started with.
    use.closeGrant(
      grant.id,
      grant.state === 'closing' ? (grant.endReason ?? 'expired') : 'expired',
      grant.endedBy ?? SYSTEM_ACTOR,
    ),
  );
  return {
    nextDue: () => Promise.all(Object.values(kinds()).map((kind) => kind.next())),
    async run(now) {
      const due = kinds();
      const { closed, failed: closesFailed } = await closeDue(await due.closes.due(now));
      // Each failed batch keeps one retry time for all its grants: retried as the batch it was.
      for (const { grants, error } of closesFailed) await recordCloseFailures(deps, grants, error);
      // Revoked sessions that have now expired by themselves leave their deny policies.
      const pruneFailed = await pruneRevokedSessions(deps, due.cleanups, now);
      // Leases nobody renewed: their grants close (and pending requests are cancelled) now.
      const lapseFailed = await endLapsedLeases(deps, use, await due.lapses.due(now), now);
      const failed = [...pruneFailed, ...lapseFailed];

      // Queued (in production) rather than awaited: announcing costs about as much as closing, and a
      // grant that comes due meanwhile must not wait for it. The closes are committed already.
      if (closed.length > 0) {
        const announce = async () => {
          for (const grant of closed) await use.announceClosed(grant);
        };
        if (deps.announcements === undefined) await announce();
        else deps.announcements.after(`announcing ${closed.length} closed grant(s)`, announce);
      }
      let timedOut = 0;
      for (const request of await due.timeouts.due(now)) {
        if (await timeOutRequest(deps, request, now)) timedOut += 1;
      }
      await warnEndingGrants(deps, await due.warnings.due(now), now);
      await remindApprovers(deps, await due.reminders.due(now), now);
      return { closed: closed.length, timedOut, failed };
    },
  };
}

/** The note a timed-out request carries (in its row and in its `request.timed_out` event). */
export const TIMED_OUT_NOTE = 'nobody approved in time';

/**
 * Times out one pending request past its deadline (a compare-and-set: false if it was decided
 * meanwhile), records it and queues the notices. Also used when a click lands after the deadline but
 * before the scheduler got to it, so the clicker sees the request as it really is.
 */
export async function timeOutRequest(deps: TimeOutDeps, request: AccessRequest, now: Date): Promise<boolean> {
  const decided = await deps.uow.tx(async () => {
    const d = await deps.requests.decide(request.id, 'timed_out', SYSTEM_ACTOR, now, TIMED_OUT_NOTE);
    if (d.ok) {
      await deps.audit.append({
        at: now,
        actor: SYSTEM_ACTOR,
        type: 'request.timed_out',
        requestId: request.id,
        details: { deadline: request.approvalDeadline.toISOString(), note: TIMED_OUT_NOTE },
      });
    }
    return d;
  });
  if (!decided.ok) return false;
  noteOutcome(deps, 'timed_out', {
    requestId: request.id,
    resourceId: request.resourceId,
    requesterId: request.requesterId,
    deadline: request.approvalDeadline.toISOString(),
  });
  await deps.notices.refreshCard(request.id);
  await deps.notices.tellBoth((card) => ({ type: 'request-timed-out', card }), request.id);
  return true;
}

/**
 * The requester hears `warnBefore` ahead of the end (with Extend and Done buttons), once per end:
 * an extension clears the mark so the new end is warned too.
 */
async function warnEndingGrants(deps: Deps, due: readonly Grant[], now: Date): Promise<void> {
  for (const grant of due) {
    if (grant.expiresAt <= now) continue;
    await deps.grants.markWarned(grant.id, now);
    const card = await deps.notices.card(grant.requestId);
    if (card === undefined) continue;
    await deps.notices.deliver({
      kind: 'dm',
      requestId: grant.requestId,
      userId: grant.requesterId,
      notice: { type: 'grant-expiring', card, grant },
    });
  }
}

/** Once, at half its approval timeout, a request nobody has decided is re-announced to its approvers. */
async function remindApprovers(deps: Deps, due: readonly AccessRequest[], now: Date): Promise<void> {
  for (const request of due) {
    await deps.requests.markReminded(request.id, now);
    const card = await deps.notices.card(request.id);
    if (card === undefined) continue;
    await deps.notices.deliver({
      kind: 'thread',
      requestId: request.id,
      notice: { type: 'approval-reminder', card, approvers: card.resource.approvers },
    });
  }
}
