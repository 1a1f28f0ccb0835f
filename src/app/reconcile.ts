import type { Grant } from '../domain/grant';
import { findResource, type Policy } from '../domain/policy';
import { SYSTEM_ACTOR } from '../domain/request';
import type { ClosingUses } from './close-grant';
import { type CutsConnectionsDeps, cutsConnections, planCuts } from './cut-connections';
import { mapLimit } from './each-limit';
import type { OrphanRule, ReconcileReport, RuleDrift } from './notices';
import { describeError, type Notices } from './notify';
import { lockKeyOf, targetOf } from './open-grant';
import type {
  AuditLog,
  Clock,
  CutStore,
  GrantStore,
  Locks,
  Logger,
  ManagedRule,
  Metrics,
  NetworkAccess,
  Pacing,
  RuleHold,
  RuleStore,
  RuleTarget,
} from './ports';
import { compareRules } from './reconcile-compare';

type Deps = CutsConnectionsDeps & {
  /** `HALLPASS_DEPLOYMENT`: only this deployment's rules are reconciled (see `compareRules`). */
  readonly deployment: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly policy: () => Policy;
  readonly locks: Locks;
  readonly rules: Pick<RuleStore, 'holdsOfAll' | 'liveHoldsIn' | 'knownTargets'>;
  readonly grants: Pick<GrantStore, 'list' | 'getAll'>;
  readonly network: Pick<NetworkAccess, 'listManaged' | 'revoke'>;
  readonly audit: Pick<AuditLog, 'append' | 'list'>;
  readonly cuts: Pick<CutStore, 'plan'>;
  readonly notices: Pick<Notices, 'card' | 'deliver'>;
  /** `hallpass_reconcile_findings_total{kind}`. */
  readonly metrics?: Metrics | undefined;
  /** Rests between groups (see `Pacing`); absent: the groups are looked at back to back. */
  readonly reconcilePacing?: Pacing | undefined;
};

/** Groups whose holds were all released longer ago than this are no longer looked at (unless the policy names them). */
export const RECONCILE_RELEASED_FOR_MS = 7 * 24 * 60 * 60_000;

/** What one pass did. `failed` counts groups that could not be read and rules or grants that could not be closed. */
export type ReconcileResult = {
  readonly orphansRevoked: number;
  /** New drift findings (each is reported once). */
  readonly drift: number;
  readonly grantsEnded: number;
  readonly failed: number;
  /** Tagged rules of other deployments, left in place (counted; said once per group and deployment). */
  readonly othersLeft: number;
  /** Rules made before rules carried `hallpass:deployment` whose grant this database does not know, left in place. */
  readonly legacyLeft: number;
};

export type Reconcile = () => Promise<ReconcileResult>;

/** Audit event types written by reconciliation. */
export const RECONCILE_EVENTS = {
  orphanRevoked: 'reconcile.orphan_revoked',
  drift: 'reconcile.drift',
} as const;

type OrphanEntry = ReconcileReport['orphans'][number];
type DriftEntry = { readonly finding: RuleDrift; readonly revoked: boolean };

type GroupOutcome = {
  readonly othersLeft: ManagedRule[];
  readonly legacyLeft: ManagedRule[];
  readonly orphans: OrphanEntry[];
  /** New findings only: drift already in the audit log is not reported again. */
  readonly drift: DriftEntry[];
  /** Grants whose rule was modified by hand and has been revoked: they end now. */
  readonly toEnd: Set<string>;
  failed: number;
};

/**
 * Reconciles the database with AWS, at start-up and on every sweep. For each security group of the
 * policy — acting only on what a look under the group's lock finds, so a rule being opened right now
 * is never taken for an orphan (see `reconcileGroup`):
 *
 * - an **orphan** — a rule tagged `managed-by=hallpass` that no live grant accounts for (see
 *   `compareRules`) — is revoked by id, recorded as `reconcile.orphan_revoked` and reported;
 * - a **vanished** rule of an active grant is recorded as `reconcile.drift` and reported, once; the
 *   rule is not silently reopened, and the grant keeps running until its end;
 * - a **modified** rule (its source or ports changed by hand, typically widened) is revoked at once —
 *   it grants more than anyone approved — and every active grant holding it is then ended
 *   (`revoked` by hallpass) and announced, so the database never shows access that is gone.
 *
 * Rules without `managed-by=hallpass` are never listed, so never touched; nor are rules of another
 * deployment (`hallpass:deployment`), nor rules made before rules carried that tag whose grant this
 * database does not know — each of those is logged once per process and left in place. Failures (a group that
 * cannot be read, a revoke that fails) are logged and counted; the next pass tries again.
 * Reports go to the channels of the resources on the group (drift: the grant's resource's channel).
 */
export const reconcile = (deps: Deps, use: ClosingUses): Reconcile => {
  /** Rules left alone as perhaps another deployment's, already logged by this process. */
  const legacyLogged = new Set<string>();
  /** (group, deployment) pairs whose rules this process has already said it leaves alone. */
  const othersLogged = new Set<string>();
  return async () => {
    const policy = deps.policy();
    let othersLeft = 0;
    let legacyLeft = 0;
    let orphansRevoked = 0;
    let driftCount = 0;
    let failed = 0;
    const reports = new Map<string, { orphans: OrphanEntry[]; drift: DriftEntry[] }>();
    const reportFor = (channel: string) => {
      const existing = reports.get(channel);
      if (existing !== undefined) return existing;
      const fresh = { orphans: [] as OrphanEntry[], drift: [] as DriftEntry[] };
      reports.set(channel, fresh);
      return fresh;
    };
    const toEnd = new Set<string>();
    /** Every finding of this pass once, for the policy's `alertsChannel`. */
    const all = { orphans: [] as OrphanEntry[], drift: [] as DriftEntry[] };

    const groups = await groupsToReconcile(deps, policy);
    // Paced: a pass over many large groups would otherwise hold this replica's CPU for seconds, and
    // its due closes with it (10,000 rules on 20 groups: closes up to 1 s late at every pass). Unpaced
    // (start-up's pass), several groups at once: their listings overlap.
    const pacing = deps.reconcilePacing;
    const looks = await mapLimit(groups, pacing?.lanes() ?? 1, ({ target }) =>
      (pacing?.paced(() => reconcileGroup(deps, target)) ?? reconcileGroup(deps, target)).then(
        (outcome): { outcome: GroupOutcome } | { error: unknown } => ({ outcome }),
        (error: unknown) => ({ error }),
      ),
    );
    for (const [i, { target, channels }] of groups.entries()) {
      // mapLimit answers every item, in order.
      const look = looks[i] as (typeof looks)[number];
      if ('error' in look) {
        failed += 1;
        deps.logger.error(
          { region: target.region, groupId: target.groupId, err: describeError(look.error) },
          'reconciliation could not read a security group; will retry',
        );
        continue;
      }
      const { outcome } = look;
      failed += outcome.failed;
      othersLeft += outcome.othersLeft.length;
      // Counted every pass; said once per group and deployment (there is nothing to do about them).
      for (const name of new Set(outcome.othersLeft.map((r) => r.tags.deployment ?? ''))) {
        const key = `${target.region}\n${target.groupId}\n${name}`;
        if (othersLogged.has(key)) continue;
        othersLogged.add(key);
        deps.logger.info(
          { groupId: target.groupId, region: target.region, deployment: name, ours: deps.deployment },
          "leaving another deployment's hallpass rules in this group alone",
        );
      }
      legacyLeft += outcome.legacyLeft.length;
      for (const rule of outcome.legacyLeft) {
        if (legacyLogged.has(rule.ruleId)) continue;
        legacyLogged.add(rule.ruleId);
        deps.logger.warn(
          {
            ruleId: rule.ruleId,
            groupId: target.groupId,
            region: target.region,
            taggedGrantId: rule.tags.grantId,
            taggedExpiresAt: rule.tags.expiresAt?.toISOString(),
          },
          "left in place a hallpass rule made before rules carried hallpass:deployment, whose grant this database does not know (it may be another deployment's); revoke it by hand if it is stale",
        );
      }
      orphansRevoked += outcome.orphans.length;
      driftCount += outcome.drift.length;
      for (const id of outcome.toEnd) toEnd.add(id);
      all.orphans.push(...outcome.orphans);
      all.drift.push(...outcome.drift);
      for (const _ of outcome.orphans) deps.metrics?.reconcileFinding('orphan');
      for (const d of outcome.drift) deps.metrics?.reconcileFinding(d.finding.kind);
      for (const channel of channels) reportFor(channel).orphans.push(...outcome.orphans);
      for (const entry of outcome.drift) {
        const own = await channelOfGrant(deps, entry.finding.grant);
        for (const channel of own === undefined ? channels : [own]) reportFor(channel).drift.push(entry);
      }
    }

    // Outside the group locks: closing takes them itself.
    const ended = new Set<string>();
    for (const grantId of toEnd) {
      try {
        const closed = await use.closeGrant(grantId, 'revoked', SYSTEM_ACTOR);
        if (closed !== undefined) {
          ended.add(grantId);
          await use.announceClosed(closed);
        }
      } catch (error) {
        failed += 1;
        deps.logger.error(
          { grantId, err: describeError(error) },
          'could not end a grant whose rule was modified by hand; the expiry sweep retries',
        );
      }
    }

    // The alerts channel hears every finding of the pass, once (as a resource channel too, it hears them all).
    if (policy.alertsChannel !== undefined) reports.set(policy.alertsChannel, all);
    for (const [channel, found] of reports) {
      if (found.orphans.length === 0 && found.drift.length === 0) continue;
      const report: ReconcileReport = {
        type: 'reconcile-report',
        orphans: found.orphans,
        drift: found.drift.map((d) => ({
          ...d.finding,
          revoked: d.revoked,
          grantEnded: ended.has(d.finding.grant.id),
        })),
      };
      await deps.notices.deliver({ kind: 'channel', channel, notice: report });
    }
    return { orphansRevoked, drift: driftCount, grantsEnded: ended.size, failed, othersLeft, legacyLeft };
  };
};

/**
 * Every security group to look at, once per (region, group, role): those of the policy, with the
 * channels of their resources, and those the database knows from holds — still held, or released in
 * the last week — whether or not the policy names them any more, reached with the role recorded on
 * the hold. Reports about a group the policy no longer names go to the channels of the grants that
 * held rules there.
 */
async function groupsToReconcile(
  deps: Deps,
  policy: Policy,
): Promise<{ target: RuleTarget; channels: string[] }[]> {
  const groups = new Map<string, { target: RuleTarget; channels: string[] }>();
  // A newline cannot occur in a region, a group id or an ARN, so the key is unambiguous.
  const keyOf = (t: RuleTarget) => `${t.region}\n${t.groupId}\n${t.assumeRoleArn ?? ''}`;
  for (const resource of policy.resources) {
    if (resource.kind !== 'security-group') continue;
    const target = targetOf(resource);
    const group = groups.get(keyOf(target)) ?? { target, channels: [] };
    if (!group.channels.includes(resource.channel)) group.channels.push(resource.channel);
    groups.set(keyOf(target), group);
  }
  const since = new Date(deps.clock.now().getTime() - RECONCILE_RELEASED_FOR_MS);
  const known = (await deps.rules.knownTargets(since)).filter((t) => !groups.has(keyOf(t)));
  if (known.length > 0) {
    const live = await deps.grants.list(['opening', 'active', 'closing']);
    const holds = await deps.rules.holdsOfAll(live.map((g) => g.id));
    for (const target of known) {
      const channels = new Set<string>();
      const onGroup = new Set(
        holds.filter((h) => h.region === target.region && h.groupId === target.groupId).map((h) => h.grantId),
      );
      for (const grant of live) {
        const channel = onGroup.has(grant.id) ? await channelOfGrant(deps, grant) : undefined;
        if (channel !== undefined) channels.add(channel);
      }
      groups.set(keyOf(target), { target, channels: [...channels] });
    }
  }
  return [...groups.values()];
}

/** Where a grant is announced: its resource's channel now, or where its approval message was posted. */
async function channelOfGrant(deps: Deps, grant: Grant): Promise<string | undefined> {
  const own = findResource(deps.policy(), grant.resourceId)?.channel;
  if (own !== undefined) return own;
  const card = await deps.notices.card(grant.requestId);
  return card?.request.message?.channel ?? card?.resource.channel;
}

/**
 * One group. AWS is listed and compared with the database first without the group's lock: listing
 * can take a while, and opens and closes on the group (due closes above all) must not wait behind
 * it. Only when that look finds something to act on is the group listed and compared again under its
 * lock — where no open or close can run in between — and the second look alone is acted on. A
 * difference seen only by the first look (a rule being opened right now, a close half done) is gone
 * by the second; a difference that arises after the first look is found by the next pass.
 */
async function reconcileGroup(deps: Deps, target: RuleTarget): Promise<GroupOutcome> {
  const glance = await inspectGroup(deps, target);
  const suspects = glance.comparison.orphans.filter((o) => !closedDuringLook(o, glance));
  if (suspects.length === 0 && glance.comparison.drift.length === 0) {
    return { ...outcomeOf(glance.comparison), orphans: [], drift: [] };
  }
  return deps.locks.run(lockKeyOf(target), async () => act(deps, target, await inspectGroup(deps, target)));
}

/**
 * An orphan of the look without the lock whose grant was closed after the listing began: the close
 * revoked its rule after AWS listed it, so the rule is no finding, and not worth the group's lock (a
 * busy group has such a close in nearly every look, and a look under the lock makes that group's due
 * closes wait for a listing). Were the rule really left behind, the next pass finds it, its grant then
 * closed before that pass's listing began.
 */
function closedDuringLook(orphan: OrphanRule, look: Inspection): boolean {
  const grantId = orphan.rule.tags.grantId;
  const endedAt = grantId === undefined ? undefined : look.grants.get(grantId)?.endedAt;
  return endedAt !== undefined && endedAt.getTime() > look.listedAt.getTime();
}

type Inspection = {
  readonly comparison: ReturnType<typeof compareRules>;
  readonly grants: ReadonlyMap<string, Grant>;
  /** When the AWS listing began. */
  readonly listedAt: Date;
};

/** Lists the group in AWS, then reads its live holds and the grants they and the rules name, and compares. */
async function inspectGroup(deps: Deps, target: RuleTarget): Promise<Inspection> {
  const listedAt = deps.clock.now();
  const rules = await deps.network.listManaged(target);
  // Read after the listing. Only this group's holds, and only the grants they and the listed rules
  // name: a few statements whatever the number of grants elsewhere.
  const now = deps.clock.now();
  const holds = await deps.rules.liveHoldsIn(target);
  const named = new Set(holds.map((h) => h.grantId));
  for (const rule of rules) {
    const id = rule.tags.grantId;
    // Another deployment's rule is never ours, whatever its grant id: no need to look it up.
    const other = rule.tags.deployment !== undefined && rule.tags.deployment !== deps.deployment;
    if (id !== undefined && !other) named.add(id);
  }
  const grants = new Map((await deps.grants.getAll([...named])).map((g) => [g.id, g]));
  return {
    comparison: compareRules({ rules, holds, grants, deployment: deps.deployment }, now),
    grants,
    listedAt,
  };
}

const outcomeOf = (c: Inspection['comparison']): Omit<GroupOutcome, 'orphans' | 'drift'> => ({
  othersLeft: c.othersLeft,
  legacyLeft: c.legacyLeft,
  toEnd: new Set(),
  failed: 0,
});

/** Acts on what a look under the group's lock found: revokes orphans and modified rules, records drift. */
async function act(
  deps: Deps,
  target: RuleTarget,
  { comparison, grants }: Inspection,
): Promise<GroupOutcome> {
  const { orphans, drift } = comparison;
  const outcome: GroupOutcome = { ...outcomeOf(comparison), orphans: [], drift: [] };

  for (const orphan of orphans) {
    const { rule, reason } = orphan;
    // A rule of a grant whose resource cuts connections (opened just before a crash, never recorded):
    // its connections are cut like the grant's others, planned before the revoke.
    const owner = rule.tags.grantId === undefined ? undefined : grants.get(rule.tags.grantId);
    if (
      owner !== undefined &&
      rule.cidr !== undefined &&
      (rule.protocol === 'tcp' || rule.protocol === 'udp') &&
      (await cutsConnections(deps, owner.id))
    ) {
      await planCuts(deps, [
        {
          grantId: owner.id,
          ruleId: rule.ruleId,
          region: target.region,
          groupId: target.groupId,
          assumeRoleArn: target.assumeRoleArn,
          protocol: rule.protocol,
          fromPort: rule.fromPort,
          toPort: rule.toPort,
          cidr: rule.cidr,
          managed: true,
        },
      ]);
    }
    try {
      await deps.network.revoke(target, [rule.ruleId]);
    } catch (error) {
      outcome.failed += 1;
      deps.logger.error(
        { ruleId: rule.ruleId, groupId: target.groupId, reason, err: describeError(error) },
        'could not revoke an orphaned rule; will retry',
      );
      continue;
    }
    const grant = rule.tags.grantId === undefined ? undefined : grants.get(rule.tags.grantId);
    await deps.audit.append({
      at: deps.clock.now(),
      actor: SYSTEM_ACTOR,
      type: RECONCILE_EVENTS.orphanRevoked,
      requestId: grant?.requestId,
      grantId: rule.tags.grantId,
      details: { reason, region: target.region, groupId: target.groupId, ...ruleDetails(rule) },
    });
    deps.logger.warn(
      { ruleId: rule.ruleId, groupId: target.groupId, reason, taggedGrantId: rule.tags.grantId },
      'revoked an orphaned hallpass rule',
    );
    outcome.orphans.push({ ...orphan, region: target.region, groupId: target.groupId });
  }

  const revokedHere = new Map<string, boolean>();
  for (const finding of drift) {
    const { grant, hold } = finding;
    let revoked = false;
    if (finding.kind === 'modified') {
      // Wider (or just other) than what was approved: close it now, whatever else happens.
      const known = revokedHere.get(hold.ruleId);
      revoked = known ?? (await revokeModified(deps, target, hold, outcome));
      revokedHere.set(hold.ruleId, revoked);
      if (revoked) outcome.toEnd.add(grant.id);
    }
    if (await alreadyReported(deps, finding)) continue;
    await deps.audit.append({
      at: deps.clock.now(),
      actor: SYSTEM_ACTOR,
      type: RECONCILE_EVENTS.drift,
      requestId: grant.requestId,
      grantId: grant.id,
      details: {
        kind: finding.kind,
        ruleId: hold.ruleId,
        region: hold.region,
        groupId: hold.groupId,
        granted: { protocol: hold.protocol, fromPort: hold.fromPort, toPort: hold.toPort, cidr: hold.cidr },
        ...(finding.kind === 'modified' ? { found: ruleDetails(finding.rule), revoked } : {}),
      },
    });
    deps.logger.warn(
      { grantId: grant.id, ruleId: hold.ruleId, kind: finding.kind, revoked },
      finding.kind === 'vanished'
        ? 'a rule of an active grant vanished from AWS'
        : 'a rule of an active grant was modified by hand',
    );
    outcome.drift.push({ finding, revoked });
  }
  return outcome;
}

async function revokeModified(
  deps: Deps,
  target: RuleTarget,
  hold: RuleHold,
  outcome: GroupOutcome,
): Promise<boolean> {
  try {
    await deps.network.revoke(target, [hold.ruleId]);
    return true;
  } catch (error) {
    outcome.failed += 1;
    deps.logger.error(
      { ruleId: hold.ruleId, groupId: hold.groupId, err: describeError(error) },
      'could not revoke a rule modified by hand; will retry',
    );
    return false;
  }
}

/** Drift is reported once per grant, rule and kind: the audit log remembers it across restarts. */
async function alreadyReported(
  deps: { readonly audit: Pick<AuditLog, 'list'> },
  finding: RuleDrift,
): Promise<boolean> {
  return (await deps.audit.list({ requestId: finding.grant.requestId })).some(
    (e) =>
      e.type === RECONCILE_EVENTS.drift &&
      e.grantId === finding.grant.id &&
      e.details?.['ruleId'] === finding.hold.ruleId &&
      e.details?.['kind'] === finding.kind,
  );
}

const ruleDetails = (rule: ManagedRule): Record<string, unknown> => ({
  ruleId: rule.ruleId,
  protocol: rule.protocol,
  fromPort: rule.fromPort,
  toPort: rule.toPort,
  cidr: rule.cidr ?? null,
  taggedGrantId: rule.tags.grantId ?? null,
  taggedRequester: rule.tags.requesterId ?? null,
  taggedExpiresAt: rule.tags.expiresAt?.toISOString() ?? null,
});
