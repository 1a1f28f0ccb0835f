import type { Grant } from '../domain/grant';
import { findResource, type Policy } from '../domain/policy';
import { SYSTEM_ACTOR } from '../domain/request';
import { type BackstopDeps, syncBackstops } from './backstop';
import { type CloseGrantDeps, groupBy, groupByTarget, targetOfHold } from './close-grant';
import { eachLimit } from './each-limit';
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

/** What happened to each grant of a run: closed (as it is now), or failed with the error (still to be retried). */
export type ClosedOrFailed = {
  readonly closed: readonly Grant[];
  readonly failed: readonly { readonly grant: Grant; readonly error: unknown }[];
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
 * group whose connections are not cut (`cutConnections: nacl`). The rest — a close retried after a
 * failure, a grant still opening, a role session, a grant cutting connections, one with nothing held —
 * is passed to `one` (`closeGrant`), which knows each case.
 *
 * A rule is revoked when no live grant outside the batch holds it; one held by two grants of the same
 * batch is revoked once and listed as revoked by both (one at a time, the first would list it kept).
 */
export const closeExpiredGrants =
  (deps: CloseExpiredDeps, one: (grant: Grant) => Promise<Grant | undefined>) =>
  async (due: readonly Grant[]): Promise<ClosedOrFailed> => {
    const closed: Grant[] = [];
    const failed: { grant: Grant; error: unknown }[] = [];
    const { batches, alone } = await sortOut(deps, due);
    const jobs: (() => Promise<void>)[] = [
      ...[...batches.values()].map((batch) => async () => {
        try {
          closed.push(...(await closeBatch(deps, batch)));
        } catch (error) {
          for (const grant of batch.grants) failed.push({ grant, error });
        }
      }),
      ...alone.map((grant) => async () => {
        try {
          const done = await one(grant);
          if (done !== undefined) closed.push(done);
        } catch (error) {
          failed.push({ grant, error });
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
  const active = due.filter((g) => g.state === 'active');
  const holds = byGrant(active.length === 0 ? [] : await deps.rules.holdsOfAll(active.map((g) => g.id)));
  const requests = new Map(
    (active.length === 0 ? [] : await deps.requests.getAll(active.map((g) => g.requestId))).map((r) => [
      r.id,
      r,
    ]),
  );
  for (const grant of due) {
    const keys = new Set((holds.get(grant.id) ?? []).map(lockKeyOf));
    const resource =
      requests.get(grant.requestId)?.resourceAtRequest ?? findResource(deps.policy(), grant.resourceId);
    const [key] = keys;
    const alike =
      grant.state === 'active' &&
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

/** Closes one group's batch; returns the grants it closed. Throws when AWS or the database refused (the grants stay to be retried). */
async function closeBatch(deps: CloseExpiredDeps, batch: Batch): Promise<Grant[]> {
  const startedAt = deps.clock.now();
  const marked = await deps.uow.tx(async () => {
    const moved = await deps.grants.moveAll(
      batch.grants.map((g) => g.id),
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
    return moved;
  });
  // The others changed state meanwhile (a Done click, a revoke): whoever moved them closes them.
  if (marked.length === 0) return [];
  deps.faults.point('close.after-closing');
  const ids = marked.map((g) => g.id);

  const outcome = await deps.locks.run(batch.key, async () => {
    // Read again under the lock: the holds (and other grants' holds) are what they are now.
    const holds = (await deps.rules.holdsOfAll(ids)).filter((h) => lockKeyOf(h) === batch.key);
    const kept = await deps.rules.heldByOthers([...new Set(holds.map((h) => h.ruleId))], ids);
    const last = holds.filter((h) => h.managed && !kept.has(h.ruleId));
    // One revoke per role that reached the group (normally one), each naming many rule ids.
    for (const holdsOfRole of groupByTarget(last)) {
      const [first] = holdsOfRole;
      if (first === undefined) continue;
      deps.faults.point('close.before-revoke');
      // A rule two grants of the batch held is named once.
      await deps.network.revoke(targetOfHold(first), [...new Set(holdsOfRole.map((h) => h.ruleId))]);
    }
    if (last.length > 0) deps.faults.point('close.after-revoke');
    // Released inside the lock, so a grant opening on this group next sees the rules as gone.
    await deps.rules.releaseAll(ids, deps.clock.now());
    return { holds: byGrant(holds), revoked: new Set(last.map((h) => h.ruleId)) };
  });
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
          actor: SYSTEM_ACTOR,
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
  return closed;
}

/** Holds by the grant holding them. */
const byGrant = (holds: readonly RuleHold[]): Map<string, RuleHold[]> => groupBy(holds, (h) => h.grantId);
