/**
 * AWS's own deadline for every rule hallpass opens. Each managed rule a live grant holds
 * gets an EventBridge Scheduler schedule that revokes exactly that rule, by its id, at the end of the
 * last live grant holding it plus the grace — so a rule closes even if every hallpass process and its
 * database are gone. Shared rules and extensions move the schedule exactly as they move the rule's
 * `hallpass:expires-at` tag; a rule let go of by its last holder loses its schedule.
 *
 * What AWS should hold is derived from the holds and grants in the database, which are committed
 * before any call; `backstops` records what hallpass last made AWS hold. `syncBackstops` compares the
 * two for some rules and calls AWS only where they differ; each call is idempotent, so a crash at any
 * point is repaired by the next sync (reconciliation syncs every rule, and looks in AWS for schedules
 * nobody wants and for missing ones).
 *
 * Role grants have no schedule: their STS session ends by itself at the grant's end (at least 15
 * minutes after it starts, STS's minimum), which is AWS's backstop for them (see docs/aws.md, Role resources).
 */
import { backstopGraceOf, findResource, type Policy } from '../domain/policy';
import { describeError } from './notify';
import type {
  Backstop,
  BackstopStore,
  Backstops,
  BackstopWant,
  Clock,
  Locks,
  Logger,
  RuleTarget,
} from './ports';

export type BackstopDeps = {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly policy: () => Policy;
  readonly backstopRecords: BackstopStore;
  readonly locks: Locks;
  readonly backstop?: { readonly port: Backstops; readonly roleArn: string } | undefined;
};

/** One rule whose backstop could not be made to match (left for the next sync). */
export type BackstopFailure = { readonly ruleId: string; readonly error: string };

/** Brings the backstops of these rules (default: every rule wanted or recorded) in line; returns the failures. */
export type SyncBackstops = (ruleIds?: readonly string[]) => Promise<BackstopFailure[]>;

const lockOf = (ruleId: string): string => `backstop/${ruleId}`;

const sameTarget = (a: RuleTarget, b: RuleTarget): boolean =>
  a.region === b.region && a.groupId === b.groupId && (a.assumeRoleArn ?? '') === (b.assumeRoleArn ?? '');

/** When a wanted backstop fires and which role runs it, from the policy as it reads now. */
function planOf(deps: BackstopDeps, want: BackstopWant, roleArn: string): Backstop {
  const policy = deps.policy();
  const resource = findResource(policy, want.resourceId);
  const grace = backstopGraceOf(policy, resource);
  const fireAt = new Date(Math.ceil((want.lastEnd.getTime() + grace) / 1000) * 1000);
  const role = (resource?.kind === 'security-group' ? resource.backstopRoleArn : undefined) ?? roleArn;
  return { ruleId: want.ruleId, target: want.target, fireAt, roleArn: role, grantId: want.grantId };
}

export const syncBackstops =
  (deps: BackstopDeps): SyncBackstops =>
  async (ruleIds) => {
    const config = deps.backstop;
    if (config === undefined) return [];
    const names =
      ruleIds ??
      [
        ...new Set([
          ...(await deps.backstopRecords.wanted()).map((w) => w.ruleId),
          ...(await deps.backstopRecords.all()).map((r) => r.ruleId),
        ]),
      ].sort();
    const failures: BackstopFailure[] = [];
    for (const ruleId of names) {
      try {
        // Read under the rule's lock: two grants ending or extending at once sync one after the other,
        // and the later sees what the earlier did.
        await deps.locks.run(lockOf(ruleId), async () => {
          const want = (await deps.backstopRecords.wanted([ruleId]))[0];
          const have = await deps.backstopRecords.get(ruleId);
          if (want === undefined) {
            if (have === undefined) return;
            await config.port.remove(have.target, ruleId);
            await deps.backstopRecords.set(ruleId, undefined, deps.clock.now());
            return;
          }
          const plan = planOf(deps, want, config.roleArn);
          if (
            have !== undefined &&
            have.fireAt.getTime() === plan.fireAt.getTime() &&
            sameTarget(have.target, plan.target)
          )
            return;
          await config.port.put(plan);
          await deps.backstopRecords.set(
            ruleId,
            { ruleId, target: plan.target, fireAt: plan.fireAt },
            deps.clock.now(),
          );
        });
      } catch (error) {
        failures.push({ ruleId, error: describeError(error) });
      }
    }
    if (failures.length > 0) {
      deps.logger.error({ failures }, 'could not bring AWS backstops in line; the next sync retries');
    }
    return failures;
  };

/** What a reconciliation of the backstops did. */
export type BackstopReconcileResult = {
  /** Schedules in AWS no live grant wants, of rules this database knows as its own, deleted. */
  readonly orphansRemoved: number;
  /** Schedules of rules this database does not know (another deployment's), left alone. */
  readonly othersLeft: number;
  /** Schedules hallpass had recorded that AWS no longer holds, put back. */
  readonly missingRestored: number;
  readonly failed: number;
};

/**
 * Looks in AWS — every region and account where a backstop is wanted or recorded — for schedules of
 * this deployment's that no live grant wants (deleted) and recorded ones that are missing (put back),
 * then syncs every rule. A schedule is this deployment's only if its database knows the rule it
 * revokes (`BackstopStore.ours`); any other `hallpass-sgr-…` schedule in the group is left alone.
 */
export const reconcileBackstops = (
  deps: BackstopDeps,
  sync: SyncBackstops,
): (() => Promise<BackstopReconcileResult>) => {
  /** Places where this process has already said it leaves other deployments' schedules alone. */
  const reported = new Set<string>();
  return async () => {
    const config = deps.backstop;
    if (config === undefined) return { orphansRemoved: 0, missingRestored: 0, failed: 0, othersLeft: 0 };
    const wanted = await deps.backstopRecords.wanted();
    const recorded = await deps.backstopRecords.all();
    const wantedIds = new Set(wanted.map((w) => w.ruleId));
    const places = new Map<string, RuleTarget>();
    for (const t of [...wanted.map((w) => w.target), ...recorded.map((r) => r.target)]) {
      places.set(placeKey(t), t);
    }
    let othersLeft = 0;
    let orphansRemoved = 0;
    let missingRestored = 0;
    let failed = 0;
    for (const place of places.values()) {
      let listed: Set<string>;
      try {
        listed = new Set((await config.port.list(place)).map((l) => l.ruleId));
      } catch (error) {
        failed += 1;
        deps.logger.error(
          { region: place.region, assumeRoleArn: place.assumeRoleArn, err: describeError(error) },
          'could not list the backstop schedules; will retry',
        );
        continue;
      }
      // Only schedules of rules this database knows as its own: another deployment sharing the schedule
      // group (a staging hallpass on production's account) keeps every one of its schedules.
      const unwanted = [...listed].filter((ruleId) => !wantedIds.has(ruleId));
      const ours = unwanted.length === 0 ? new Set<string>() : await deps.backstopRecords.ours(unwanted);
      const others = unwanted.filter((ruleId) => !ours.has(ruleId));
      othersLeft += others.length;
      if (others.length > 0 && !reported.has(placeKey(place))) {
        reported.add(placeKey(place));
        deps.logger.info(
          { region: place.region, assumeRoleArn: place.assumeRoleArn, schedules: others.length },
          'leaving alone backstop schedules of rules this database does not know (another deployment shares the schedule group; give each its own HALLPASS_BACKSTOP_GROUP)',
        );
      }
      for (const ruleId of unwanted) {
        if (!ours.has(ruleId)) continue;
        await deps.locks.run(lockOf(ruleId), async () => {
          // Looked at again under the lock: a grant may have opened on this rule meanwhile.
          if ((await deps.backstopRecords.wanted([ruleId])).length > 0) return;
          try {
            await config.port.remove(place, ruleId);
            await deps.backstopRecords.set(ruleId, undefined, deps.clock.now());
            orphansRemoved += 1;
            deps.logger.warn({ ruleId }, 'removed a backstop schedule no live grant wants');
          } catch (error) {
            failed += 1;
            deps.logger.error({ ruleId, err: describeError(error) }, 'could not remove an orphaned backstop');
          }
        });
      }
      for (const r of recorded) {
        if (!sameRegionAndAccount(r.target, place) || listed.has(r.ruleId) || !wantedIds.has(r.ruleId))
          continue;
        // Recorded but gone from AWS (deleted by hand, or lost): forget it, so the sync puts it back.
        await deps.backstopRecords.set(r.ruleId, undefined, deps.clock.now());
        missingRestored += 1;
        deps.logger.warn({ ruleId: r.ruleId }, 'a backstop schedule was missing in AWS; putting it back');
      }
    }
    failed += (await sync()).length;
    return { orphansRemoved, missingRestored, failed, othersLeft };
  };
};

const placeKey = (t: RuleTarget): string => `${t.region}\n${t.assumeRoleArn ?? ''}`;

const sameRegionAndAccount = (a: RuleTarget, b: RuleTarget): boolean =>
  a.region === b.region && (a.assumeRoleArn ?? '') === (b.assumeRoleArn ?? '');
