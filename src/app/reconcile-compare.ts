import { parseSourceAddress } from '../domain/cidr';
import { type Grant, isLive } from '../domain/grant';
import type { OrphanRule, RuleDrift } from './notices';
import type { ManagedRule, RuleHold } from './ports';

/** Both sides of one security group, read under its lock. */
export type GroupState = {
  /** AWS: the group's ingress rules tagged `managed-by=hallpass`. */
  readonly rules: readonly ManagedRule[];
  /** Database: the unreleased holds on this group (holds of grants that are not live are ignored). */
  readonly holds: readonly RuleHold[];
  /** Database: every grant named by a hold or by a rule's `hallpass:grant-id` tag; one missing here is unknown. */
  readonly grants: ReadonlyMap<string, Grant>;
  /** `HALLPASS_DEPLOYMENT`: this deployment's name. */
  readonly deployment: string;
};

/** What reconciliation should act on in one group, and what it leaves alone because it is not provably its. */
export type Comparison = {
  readonly orphans: OrphanRule[];
  readonly drift: RuleDrift[];
  /** Rules tagged with another deployment's name: never this deployment's to revoke or report. */
  readonly othersLeft: ManagedRule[];
  /**
   * Rules made before rules carried `hallpass:deployment` whose grant this database does not know (no
   * hold, no grant of that id): perhaps another deployment's, so left in place.
   */
  readonly legacyLeft: ManagedRule[];
};

/**
 * Whose a tagged rule is: `own` (tagged with this deployment), `other` (another deployment's), or —
 * for a rule made before rules carried the tag — `own` when this database knows its grant (a live hold
 * on it, or a grant of the id its tag names), `unknown` otherwise.
 */
export function ownerOf(
  rule: ManagedRule,
  deployment: string,
  known: { readonly held: boolean; readonly grantKnown: boolean },
): 'own' | 'other' | 'unknown' {
  const tagged = rule.tags.deployment;
  if (tagged !== undefined) return tagged === deployment ? 'own' : 'other';
  return known.held || known.grantKnown ? 'own' : 'unknown';
}

/**
 * Compares one security group's tagged rules in AWS with the database. Pure.
 *
 * Only this deployment's rules are compared (see `ownerOf`): a rule tagged with another deployment's
 * name is never an orphan here, and one made before rules carried the tag is this deployment's only
 * when the database knows its grant. Both kinds are returned apart, to be logged, never acted on.
 *
 * A tagged rule is kept while a live grant (opening, active, closing) holds it — rules are shared,
 * and the tag names only the holder that ends last — or while the grant its tag names is still
 * `opening` (its hold is being recorded right now). Any other tagged rule is an orphan: nothing in
 * the database will ever close it.
 *
 * Drift is looked for on active grants that are not yet due (a due grant is the expiry sweep's) and
 * only on managed holds: a rule made by hand is not ours to watch. A held rule missing from the
 * listing has vanished; one whose protocol, ports or source differ from the hold was modified.
 */
export function compareRules(state: GroupState, now: Date): Comparison {
  const liveHolds = state.holds.filter((h) => {
    const grant = state.grants.get(h.grantId);
    return grant !== undefined && isLive(grant.state);
  });
  const held = new Set(liveHolds.map((h) => h.ruleId));

  const orphans: OrphanRule[] = [];
  const othersLeft: ManagedRule[] = [];
  const legacyLeft: ManagedRule[] = [];
  for (const rule of state.rules) {
    const grantId = rule.tags.grantId;
    const grant = grantId === undefined ? undefined : state.grants.get(grantId);
    const owner = ownerOf(rule, state.deployment, {
      held: held.has(rule.ruleId),
      grantKnown: grant !== undefined,
    });
    if (owner === 'other') othersLeft.push(rule);
    if (owner === 'unknown') legacyLeft.push(rule);
    if (owner !== 'own' || held.has(rule.ruleId)) continue;
    if (grant?.state === 'opening') continue;
    orphans.push({ rule, reason: orphanReason(rule, grant, now) });
  }

  const byId = new Map(state.rules.map((r) => [r.ruleId, r]));
  const drift: RuleDrift[] = [];
  for (const hold of liveHolds) {
    const grant = state.grants.get(hold.grantId);
    if (grant === undefined || grant.state !== 'active' || grant.expiresAt <= now || !hold.managed) continue;
    const rule = byId.get(hold.ruleId);
    if (rule === undefined) drift.push({ kind: 'vanished', grant, hold });
    else if (!sameRule(rule, hold)) drift.push({ kind: 'modified', grant, hold, rule });
  }
  return { orphans, drift, othersLeft, legacyLeft };
}

function orphanReason(rule: ManagedRule, grant: Grant | undefined, now: Date): OrphanRule['reason'] {
  if (grant === undefined) return 'unknown-grant';
  if (!isLive(grant.state)) return 'grant-ended';
  const expiresAt = rule.tags.expiresAt;
  return expiresAt === undefined || expiresAt <= now ? 'tag-expired' : 'untracked';
}

/** Whether the rule in AWS is still exactly what the hold was granted. */
export function sameRule(rule: ManagedRule, hold: RuleHold): boolean {
  return (
    rule.protocol.toLowerCase() === hold.protocol &&
    rule.fromPort === hold.fromPort &&
    rule.toPort === hold.toPort &&
    rule.cidr !== undefined &&
    canonicalCidr(rule.cidr) === canonicalCidr(hold.cidr)
  );
}

/** One spelling per range (`2001:DB8:0::/64` and `2001:db8::/64` are the same rule). */
function canonicalCidr(cidr: string): string {
  const parsed = parseSourceAddress(cidr);
  return parsed.ok ? parsed.value.cidr : cidr.trim().toLowerCase();
}
