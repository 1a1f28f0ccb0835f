import type { Grant } from '../domain/grant';
import { findResource, type Policy } from '../domain/policy';
import { SYSTEM_ACTOR } from '../domain/request';
import { type BackstopDeps, syncBackstops } from './backstop';
import { type CloseGrantDeps, groupBy, groupByTarget, targetOfHold } from './close-grant';
import { eachLimit } from './each-limit';
import { InfraError } from './infra-error';
import { lockKeyOf } from './open-grant';
import type { AuditEvent, AuditLog, GrantStore, RequestStore, RuleHold, RuleStore } from './ports';

/** Groups (and single grants that cannot join a batch) closed at once: they do not wait on each other's AWS calls. */
export const PARALLEL_CLOSES = 8;

export type CloseExpiredDeps = BackstopDeps &
  Pick<
    CloseGrantDeps,
    'clock' | 'logger' | 'uow' | 'faults' | 'locks' | 'wakeup' | 'network' | 'followUps' | 'metrics'
  > & {
    readonly policy: () => Policy;
    readonly grants: Pick<GrantStore, 'moveAll'>;
    readonly requests: Pick<RequestStore, 'getAll'>;
    readonly rules: Pick<RuleStore, 'holdsOfAll' | 'heldByOthers' | 'releaseAll'>;
    readonly audit: Pick<AuditLog, 'appendAll'>;
  };

/**
 * Grants whose close failed together: a batch whose call EC2 refused (or the rules of it EC2 kept), or
 * one grant closed alone. They are retried together, at one time (see `recordCloseFailures`).
 */
export type FailedCloses = { readonly grants: readonly Grant[]; readonly error: unknown };

/** What happened to each grant of a run: closed (as it is now), or failed with the error (still to be retried). */
export type ClosedOrFailed = {
  readonly closed: readonly Grant[];
  readonly failed: readonly FailedCloses[];
};

/**
 * Closes grants whose time is up, a security group at a time: the grants of one group share one
 * transaction into `closing`, one pass under the group's lock with one revoke call per hundred rules
 * (`NetworkAccess.revoke`), and one transaction into `closed` — so a thousand grants sharing one
 * `expires_at` cost a few statements and a few EC2 calls, not thousands. Each grant gets the same
 * `grant.closing` and `grant.closed` events, the same fault points and the same `ended_at` (the
 * moment EC2 confirmed its group's revoke) as `closeGrant` gives one grant.
 *
 * Only what such a batch does alike is batched: `active` security-group grants holding rules on one
 * group whose connections are not cut (`cutConnections: nacl`), and such grants already `closing` whose
 * close failed before (a throttled batch is retried as the batch it was, in one call at one retry time,
 * never grant by grant: a thousand single calls against an API that asked for fewer is a hot loop that
 * leaves grants open). The rest — a grant still opening, a role session, a grant cutting connections, a
 * failed open being rolled back, one with nothing held — is passed to `one` (`closeGrant`), which knows
 * each case.
 *
 * A rule is revoked when no live grant outside the batch holds it; one held by two grants of the same
 * batch is revoked once and listed as revoked by both (one at a time, the first would list it kept).
 * When EC2 kept some rules of a batch (refused for a reason of their own), the grants holding them stay
 * `closing` to be retried and the others close.
 */
export const closeExpiredGrants =
  (deps: CloseExpiredDeps, one: (grant: Grant) => Promise<Grant | undefined>) =>
  async (due: readonly Grant[]): Promise<ClosedOrFailed> => {
    const closed: Grant[] = [];
    const failed: FailedCloses[] = [];
    const { batches, alone } = await sortOut(deps, due);
    const jobs: (() => Promise<void>)[] = [
      ...[...batches.values()].map((batch) => async () => {
        try {
          const outcome = await closeBatch(deps, batch);
          closed.push(...outcome.closed);
          if (outcome.failed !== undefined) failed.push(outcome.failed);
        } catch (error) {
          failed.push({ grants: batch.grants, error });
        }
      }),
      ...alone.map((grant) => async () => {
        try {
          const done = await one(grant);
          if (done !== undefined) closed.push(done);
        } catch (error) {
          failed.push({ grants: [grant], error });
        }
      }),
    ];
    await eachLimit(jobs, PARALLEL_CLOSES, (job) => job());
    if (batches.size > 0) deps.wakeup.changed();
    return { closed, failed };
  };

/** Grants of one group closed together, with the holds each had when sorted out. */
type Batch = { readonly key: string; readonly grants: Grant[] };

/** Which due grants can be closed a group at a time (by lock key), and which one by one. */
async function sortOut(
  deps: CloseExpiredDeps,
  due: readonly Grant[],
): Promise<{ batches: Map<string, Batch>; alone: Grant[] }> {
  const batches = new Map<string, Batch>();
  const alone: Grant[] = [];
  const candidates = due.filter(batchable);
  const holds = byGrant(
    candidates.length === 0 ? [] : await deps.rules.holdsOfAll(candidates.map((g) => g.id)),
  );
  const requests = new Map(
    (candidates.length === 0 ? [] : await deps.requests.getAll(candidates.map((g) => g.requestId))).map(
      (r) => [r.id, r],
    ),
  );
  for (const grant of due) {
    const keys = new Set((holds.get(grant.id) ?? []).map(lockKeyOf));
    const resource =
      requests.get(grant.requestId)?.resourceAtRequest ?? findResource(deps.policy(), grant.resourceId);
    const [key] = keys;
    const alike =
      batchable(grant) &&
      keys.size === 1 &&
      resource?.kind === 'security-group' &&
      resource.cutConnections !== 'nacl';
    if (!alike || key === undefined) {
      alone.push(grant);
      continue;
    }
    const batch = batches.get(key) ?? { key, grants: [] };
    batch.grants.push(grant);
    batches.set(key, batch);
  }
  return { batches, alone };
}

/**
 * An `active` grant, or one `closing` after a failed attempt (not a failed open's rollback, which ends
 * `failed` and is `closeGrant`'s): whether it may join a batch depends then on its holds and resource.
 */
const batchable = (g: Grant): boolean =>
  g.state === 'active' || (g.state === 'closing' && g.endReason !== 'failed');

/**
 * Closes one group's batch; returns the grants it closed, and those whose rules EC2 kept (they stay
 * `closing`, to be retried). Throws when AWS refused the call whole or the database failed (the
 * grants stay to be retried, together).
 */
async function closeBatch(
  deps: CloseExpiredDeps,
  batch: Batch,
): Promise<{ closed: Grant[]; failed?: FailedCloses }> {
  const startedAt = deps.clock.now();
  // Retried closes are `closing` already: their `grant.closing` was recorded by their first attempt.
  const retried = batch.grants.filter((g) => g.state === 'closing');
  const marked = await deps.uow.tx(async () => {
    const moved = await deps.grants.moveAll(
      batch.grants.filter((g) => g.state === 'active').map((g) => g.id),
      ['active'],
      'closing',
      { endReason: 'expired', endedBy: SYSTEM_ACTOR },
    );
    await deps.audit.appendAll(
      moved.map(
        (g): AuditEvent => ({
          at: startedAt,
          actor: SYSTEM_ACTOR,
          type: 'grant.closing',
          requestId: g.requestId,
          grantId: g.id,
          details: { reason: 'expired' },
        }),
      ),
    );
    return [...moved, ...retried];
  });
  // The others changed state meanwhile (a Done click, a revoke): whoever moved them closes them.
  if (marked.length === 0) return { closed: [] };
  deps.faults.point('close.after-closing');
  const markedIds = marked.map((g) => g.id);

  const outcome = await deps.locks.run(batch.key, async () => {
    // Read again under the lock: the holds (and other grants' holds) are what they are now.
    const holds = (await deps.rules.holdsOfAll(markedIds)).filter((h) => lockKeyOf(h) === batch.key);
    const kept = await deps.rules.heldByOthers([...new Set(holds.map((h) => h.ruleId))], markedIds);
    const last = holds.filter((h) => h.managed && !kept.has(h.ruleId));
    /** Rules EC2 refused to revoke for a reason of their own, with the error (the others are revoked). */
    const refused = new Map<string, unknown>();
    // One revoke per role that reached the group (normally one), each naming many rule ids.
    for (const holdsOfRole of groupByTarget(last)) {
      const [first] = holdsOfRole;
      if (first === undefined) continue;
      deps.faults.point('close.before-revoke');
      // A rule two grants of the batch held is named once.
      const ruleIds = [...new Set(holdsOfRole.map((h) => h.ruleId))];
      try {
        await deps.network.revoke(targetOfHold(first), ruleIds);
      } catch (error) {
        // Refused whole (throttled, unreachable): the batch fails whole, and is retried whole.
        const some = error instanceof InfraError ? error.ruleIds : undefined;
        if (some === undefined) throw error;
        for (const ruleId of some) refused.set(ruleId, error);
      }
    }
    if (last.length > 0) deps.faults.point('close.after-revoke');
    // A grant holding a rule EC2 kept is not closed: it stays `closing`, its holds with it.
    const keptOpen = new Set(holds.filter((h) => refused.has(h.ruleId)).map((h) => h.grantId));
    const ids = markedIds.filter((id) => !keptOpen.has(id));
    // Released inside the lock, so a grant opening on this group next sees the rules as gone.
    if (ids.length > 0) await deps.rules.releaseAll(ids, deps.clock.now());
    const [error] = refused.values();
    return { holds: byGrant(holds), revoked: new Set(last.map((h) => h.ruleId)), ids, keptOpen, error };
  });
  const { ids } = outcome;
  const failed =
    outcome.keptOpen.size === 0
      ? undefined
      : { grants: marked.filter((g) => outcome.keptOpen.has(g.id)), error: outcome.error };
  if (ids.length === 0) return { closed: [], ...(failed === undefined ? {} : { failed }) };
  deps.faults.point('close.before-closed');

  const endedAt = deps.clock.now();
  const closed = await deps.uow.tx(async () => {
    const moved = await deps.grants.moveAll(ids, ['closing'], 'closed', { endedAt });
    await deps.audit.appendAll(
      moved.map((g): AuditEvent => {
        const held = outcome.holds.get(g.id) ?? [];
        if ((g.endReason ?? 'expired') === 'expired')
          deps.metrics?.grantClosed(endedAt.getTime() - g.expiresAt.getTime());
        return {
          at: endedAt,
          // A retried close is finished in the name of whoever started it (as `closeGrant` retries it).
          actor: retried.some((r) => r.id === g.id) ? (g.endedBy ?? SYSTEM_ACTOR) : SYSTEM_ACTOR,
          type: 'grant.closed',
          requestId: g.requestId,
          grantId: g.id,
          details: {
            // As the grant row now says: a Done click meanwhile may have changed who ended it, and why.
            reason: g.endReason ?? 'expired',
            endedBy: g.endedBy ?? SYSTEM_ACTOR,
            plannedEnd: g.expiresAt.toISOString(),
            revokedRuleIds: held.filter((h) => outcome.revoked.has(h.ruleId)).map((h) => h.ruleId),
            stillHeldByOtherGrants: held.filter((h) => !outcome.revoked.has(h.ruleId)).map((h) => h.ruleId),
          },
        };
      }),
    );
    return moved;
  });

  deps.faults.point('close.before-backstop');
  // The rules' backstops follow, never holding back the next close (see `closeGrant`).
  const ruleIds = [...new Set([...outcome.holds.values()].flat().map((h) => h.ruleId))];
  const followUp = () => syncBackstops(deps)(ruleIds);
  if (deps.followUps === undefined) await followUp();
  else deps.followUps.after(`${closed.length} grants on ${batch.key} closed`, followUp);

  for (const g of closed) {
    const held = outcome.holds.get(g.id) ?? [];
    deps.logger.info(
      {
        grantId: g.id,
        reason: g.endReason ?? 'expired',
        lateMs: endedAt.getTime() - g.expiresAt.getTime(),
        revoked: held.filter((h) => outcome.revoked.has(h.ruleId)).map((h) => h.ruleId),
        kept: held.filter((h) => !outcome.revoked.has(h.ruleId)).map((h) => h.ruleId),
        batch: closed.length,
      },
      'grant closed',
    );
  }
  return { closed, ...(failed === undefined ? {} : { failed }) };
}

/** Holds by the grant holding them. */
const byGrant = (holds: readonly RuleHold[]): Map<string, RuleHold[]> => groupBy(holds, (h) => h.grantId);
