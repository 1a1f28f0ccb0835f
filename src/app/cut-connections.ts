/**
 * An end that cuts open connections (`cutConnections: nacl`). Security groups are stateful:
 * revoking a rule stops new connections, but one established during the grant goes on while EC2 tracks
 * it (five idle days by default). Network ACLs are stateless, so at the end hallpass also puts an
 * inbound deny entry for the grant's address and ports into the ACL of every subnet where the group is
 * in use, from the rule numbers the policy reserves (`naclRuleNumbers`), and takes it out again after
 * the hold — long enough for EC2 to forget the connections it cut.
 *
 * The same guarantees as rules: a cut is planned in the database before the rule is revoked, each entry
 * is recorded with its ACL and number before it is created in AWS, and what a crash interrupted is
 * finished (or retried) by the next sweep; entries in place are taken out at their time by the sweep.
 * An ACL with no free number in the reserved range, or at its entry limit, is refused — said in the
 * thread and to the requester — never squeezed in elsewhere. A new grant for an address a cut denies
 * lifts that cut first, or the deny would block the access just approved.
 */
import { cidrsOverlap } from '../domain/audit-search';
import { parseSourceAddress } from '../domain/cidr';
import { DEFAULTS, findResource, type Policy } from '../domain/policy';
import { SYSTEM_ACTOR } from '../domain/request';
import { describeError, type Notices } from './notify';
import type {
  AuditLog,
  Clock,
  ConnectionCut,
  CutStore,
  Faults,
  GrantStore,
  GroupSurvey,
  Locks,
  Logger,
  NetworkAcls,
  RequestStore,
  RuleHold,
  RuleKey,
  UnitOfWork,
} from './ports';

/** What taking one entry out, and recording it, needs. */
type LiftDeps = {
  readonly clock: Clock;
  readonly uow: UnitOfWork;
  readonly cuts: Pick<CutStore, 'move'>;
  readonly acls: Pick<NetworkAcls, 'removeDeny'>;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly grants: Pick<GrantStore, 'get'>;
};

/** What telling a grant's thread and requester about its cut needs. */
type AnnounceDeps = {
  readonly grants: Pick<GrantStore, 'get'>;
  readonly notices: Pick<Notices, 'tellBoth'>;
};

/** What lifting the cuts that would deny a rule about to open needs. */
export type LiftCutsDeps = LiftDeps & AnnounceDeps & { readonly cuts: Pick<CutStore, 'liveOnGroup'> };

/** What carrying out the unfinished cuts needs. */
export type CutDeps = LiftDeps &
  AnnounceDeps & {
    readonly logger: Logger;
    readonly policy: () => Policy;
    readonly faults: Faults;
    readonly locks: Locks;
    readonly cuts: Pick<CutStore, 'unfinished' | 'numbersInUse' | 'expand'>;
    readonly acls: Pick<NetworkAcls, 'survey' | 'addDeny'>;
  };

/** What deciding whether a grant cuts connections needs. */
export type CutsConnectionsDeps = {
  readonly requests: Pick<RequestStore, 'get'>;
  readonly grants: Pick<GrantStore, 'get'>;
  readonly policy: () => Policy;
};

/** Whether this hold's rule cuts its connections when revoked: its resource as requested says so. */
export async function cutsConnections(deps: CutsConnectionsDeps, grantId: string): Promise<boolean> {
  const grant = await deps.grants.get(grantId);
  if (grant === undefined) return false;
  const resource =
    (await deps.requests.get(grant.requestId))?.resourceAtRequest ??
    findResource(deps.policy(), grant.resourceId);
  return resource?.kind === 'security-group' && resource.cutConnections === 'nacl';
}

/** Records, before the rules are revoked, that their connections are to be cut. */
export async function planCuts(
  deps: { readonly cuts: Pick<CutStore, 'plan'>; readonly clock: Clock },
  holds: readonly RuleHold[],
): Promise<void> {
  const now = deps.clock.now();
  for (const h of holds) {
    await deps.cuts.plan(
      {
        grantId: h.grantId,
        target: { region: h.region, groupId: h.groupId, assumeRoleArn: h.assumeRoleArn },
        protocol: h.protocol,
        fromPort: h.fromPort,
        toPort: h.toPort,
        cidr: h.cidr,
      },
      now,
    );
  }
}

/** How long entries stay: the policy's `naclHold`, else the interfaces' longest TCP timeout and a minute. */
function holdOf(policy: Policy, survey: GroupSurvey): number {
  return policy.naclHold ?? survey.tcpEstablishedSeconds * 1000 + 60_000;
}

/** The lowest number of the reserved range that neither the ACL nor hallpass uses, if any. */
function freeNumber(
  range: { readonly from: number; readonly to: number },
  taken: ReadonlySet<number>,
): number | undefined {
  for (let n = range.from; n <= range.to; n++) if (!taken.has(n)) return n;
  return undefined;
}

const entryName = (c: Pick<ConnectionCut, 'aclId' | 'ruleNumber'>): string =>
  `${c.aclId ?? '?'} #${c.ruleNumber ?? '?'}`;

/** What one pass did. */
export type CutResult = {
  readonly cut: number;
  readonly refused: number;
  readonly lifted: number;
  readonly failed: number;
};

/**
 * Carries out every unfinished cut (all of them, or one grant's): plans expanded into entries, entries
 * added, entries past their time removed. Failures are counted and left for the next pass.
 */
export const runCuts =
  (deps: CutDeps) =>
  async (grantId?: string): Promise<CutResult> => {
    const now = deps.clock.now();
    const todo = (await deps.cuts.unfinished(now)).filter(
      (c) => grantId === undefined || c.grantId === grantId,
    );
    let cut = 0;
    let refused = 0;
    let lifted = 0;
    let failed = 0;
    const announcedCut = new Map<string, { entries: string[]; until?: Date }>();
    const announcedLift = new Map<string, string[]>();
    const refusedWhy = new Map<string, string[]>();
    // Each entry on its own: one AWS refuses does not hold back the others.
    const queue = [...todo];
    for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
      try {
        if (c.state === 'planned') {
          const made = await expand(deps, c);
          for (const m of made.filter((x) => x.state === 'refused')) {
            refused += 1;
            refusedWhy.set(c.grantId, [...(refusedWhy.get(c.grantId) ?? []), m.note ?? 'refused']);
            await record(deps, 'grant.connections_not_cut', m, { aclId: m.aclId, cidr: m.cidr, why: m.note });
          }
          queue.push(...made.filter((x) => x.state === 'adding'));
        } else if (c.state === 'adding') {
          if (await add(deps, c)) {
            cut += 1;
            const seen = announcedCut.get(c.grantId) ?? { entries: [] };
            announcedCut.set(c.grantId, { entries: [...seen.entries, entryName(c)], until: c.removeAt });
          } else refused += 1;
        } else if (c.state === 'in_place' || c.state === 'removing') {
          await lift(deps, c);
          lifted += 1;
          announcedLift.set(c.grantId, [...(announcedLift.get(c.grantId) ?? []), entryName(c)]);
        }
      } catch (error) {
        failed += 1;
        deps.logger.error(
          { cutId: c.id, grantId: c.grantId, state: c.state, err: describeError(error) },
          'cutting open connections failed; the next sweep retries',
        );
      }
    }
    for (const [id, found] of announcedCut) {
      await announce(deps, id, { phase: 'cut', entries: found.entries, until: found.until });
    }
    for (const [id, why] of refusedWhy)
      await announce(deps, id, { phase: 'refused', entries: [], why: why.join('; ') });
    for (const [id, entries] of announcedLift) await announce(deps, id, { phase: 'lifted', entries });
    return { cut, refused, lifted, failed };
  };

/**
 * One planned cut → an entry per ACL where the group is in use, each with a free reserved number.
 * Numbers are chosen and recorded under one lock: two cuts at once never pick the same one.
 */
async function expand(deps: CutDeps, planned: ConnectionCut): Promise<ConnectionCut[]> {
  const survey = await deps.acls.survey(planned.target);
  return deps.locks.run('nacl-numbers', async () => allocate(deps, planned, survey));
}

async function allocate(
  deps: CutDeps,
  planned: ConnectionCut,
  survey: GroupSurvey,
): Promise<ConnectionCut[]> {
  const policy = deps.policy();
  const now = deps.clock.now();
  const removeAt = new Date(now.getTime() + holdOf(policy, survey));
  const range = policy.naclRuleNumbers;
  const limit = policy.naclEntryLimit ?? DEFAULTS.naclEntryLimit;
  const entries: { aclId: string; ruleNumber: number }[] = [];
  const refused: { aclId: string; note: string }[] = [];
  for (const acl of survey.acls) {
    // What AWS lists, and what hallpass holds or is adding there (not listed yet).
    const taken = new Set([...acl.ingressRuleNumbers, ...(await deps.cuts.numbersInUse(acl.aclId))]);
    const n = range === undefined ? undefined : freeNumber(range, taken);
    if (range === undefined) {
      refused.push({
        aclId: acl.aclId,
        note: 'the policy reserves no network ACL rule numbers (naclRuleNumbers)',
      });
    } else if (taken.size >= limit) {
      refused.push({
        aclId: acl.aclId,
        note: `network ACL ${acl.aclId} already has ${taken.size} inbound entries, its limit of ${limit} (naclEntryLimit)`,
      });
    } else if (n === undefined) {
      refused.push({
        aclId: acl.aclId,
        note: `network ACL ${acl.aclId} has no free rule number in ${range.from}-${range.to} (naclRuleNumbers)`,
      });
    } else {
      entries.push({ aclId: acl.aclId, ruleNumber: n });
    }
  }
  return deps.uow.tx(() => deps.cuts.expand(planned.id, entries, refused, removeAt, now));
}

/** Adds one recorded entry; true once it is in place. An ACL found full is recorded as refused. */
async function add(deps: CutDeps, c: ConnectionCut): Promise<boolean> {
  if (c.aclId === undefined || c.ruleNumber === undefined) return false;
  deps.faults.point('cut.before-add');
  const outcome = await deps.acls.addDeny(c.target, {
    aclId: c.aclId,
    ruleNumber: c.ruleNumber,
    protocol: c.protocol,
    fromPort: c.fromPort,
    toPort: c.toPort,
    cidr: c.cidr,
  });
  deps.faults.point('cut.after-add');
  const now = deps.clock.now();
  if (outcome === 'full') {
    const note = `network ACL ${c.aclId} is at its AWS limit of entries (NetworkAclEntryLimitExceeded)`;
    await deps.uow.tx(async () => {
      await deps.cuts.move(c.id, ['adding'], 'refused', now, { note });
      await record(deps, 'grant.connections_not_cut', c, { aclId: c.aclId, cidr: c.cidr, why: note });
    });
    await announce(deps, c.grantId, { phase: 'refused', entries: [], why: note });
    return false;
  }
  // `exists`: the number is taken — by this entry, created before a crash (the number was recorded
  // first and is reserved for hallpass), so it is in place.
  await deps.uow.tx(async () => {
    if (await deps.cuts.move(c.id, ['adding'], 'in_place', now)) {
      await record(deps, 'grant.connections_cut', c, {
        aclId: c.aclId,
        ruleNumber: c.ruleNumber,
        cidr: c.cidr,
        ports: `${c.fromPort}-${c.toPort}`,
        protocol: c.protocol,
        removeAt: c.removeAt?.toISOString(),
      });
    }
  });
  return true;
}

/** Takes one entry out: recorded as removing first, removed once AWS confirms. */
async function lift(deps: LiftDeps, c: ConnectionCut): Promise<void> {
  if (c.aclId === undefined || c.ruleNumber === undefined) return;
  await deps.cuts.move(c.id, ['in_place', 'removing'], 'removing', deps.clock.now());
  await deps.acls.removeDeny(c.target, c.aclId, c.ruleNumber);
  const now = deps.clock.now();
  await deps.uow.tx(async () => {
    if (await deps.cuts.move(c.id, ['removing'], 'removed', now)) {
      await record(deps, 'grant.connections_cut_lifted', c, {
        aclId: c.aclId,
        ruleNumber: c.ruleNumber,
        cidr: c.cidr,
      });
    }
  });
}

/** Whether two CIDRs share an address (one covers the other; same family only). */
function overlaps(a: string, b: string): boolean {
  const x = parseSourceAddress(a);
  const y = parseSourceAddress(b);
  return x.ok && y.ok ? cidrsOverlap(x.value, y.value) : a === b;
}

/**
 * Before a grant opens a rule: cuts in place on the same group for an address and ports it overlaps
 * are lifted first, so the access just approved is not denied by an earlier grant's cut.
 */
export async function liftCutsFor(deps: LiftCutsDeps, key: RuleKey): Promise<void> {
  const blocking = (await deps.cuts.liveOnGroup(key.region, key.groupId)).filter(
    (c) =>
      c.protocol === key.protocol &&
      c.fromPort <= key.toPort &&
      key.fromPort <= c.toPort &&
      overlaps(c.cidr, key.cidr),
  );
  for (const c of blocking) {
    await lift(deps, c);
    await announce(deps, c.grantId, { phase: 'lifted', entries: [entryName(c)] });
  }
}

async function announce(
  deps: AnnounceDeps,
  grantId: string,
  what: { phase: 'cut' | 'refused' | 'lifted'; entries: string[]; until?: Date | undefined; why?: string },
): Promise<void> {
  const grant = await deps.grants.get(grantId);
  if (grant === undefined) return;
  await deps.notices.tellBoth((card) => ({ type: 'connections-cut', card, grant, ...what }), grant.requestId);
}

/** One step of a cut on the record, with its grant and request. */
async function record(
  deps: Pick<LiftDeps, 'audit' | 'grants' | 'clock'>,
  type: 'grant.connections_cut' | 'grant.connections_not_cut' | 'grant.connections_cut_lifted',
  c: ConnectionCut,
  details: Record<string, unknown>,
): Promise<void> {
  await deps.audit.append({
    at: deps.clock.now(),
    actor: SYSTEM_ACTOR,
    type,
    requestId: (await deps.grants.get(c.grantId))?.requestId,
    grantId: c.grantId,
    details,
  });
}

/**
 * Reconciliation of the reserved rule numbers: an inbound deny entry in `naclRuleNumbers` of an ACL where a
 * cutting resource's group is in use, which this database has no record of, is reported (logged once per
 * process) and left in place. It may be stale — this database lost, or restored from an older backup —
 * but it may as well be another deployment's cut, holding connections it cut closed: network ACL entries
 * carry no tags, so nothing proves whose it is, and lifting another deployment's cut would let the
 * connections it stopped back in. A deny left in place only denies; remove it by hand once you know it is
 * stale. Allow entries and numbers outside the range are never looked at.
 */
export const reportStrayDenies = (deps: {
  readonly policy: () => Policy;
  readonly logger: Logger;
  readonly cuts: Pick<CutStore, 'numbersInUse'>;
  readonly acls: Pick<NetworkAcls, 'survey'>;
}) => {
  /** `acl/number` pairs this process has already reported. */
  const reported = new Set<string>();
  return async (): Promise<{ found: number; failed: number }> => {
    const policy = deps.policy();
    const range = policy.naclRuleNumbers;
    let found = 0;
    let failed = 0;
    if (range === undefined) return { found, failed };
    const seen = new Set<string>();
    for (const r of policy.resources) {
      if (r.kind !== 'security-group' || r.cutConnections !== 'nacl') continue;
      const target = { region: r.region, groupId: r.securityGroupId, assumeRoleArn: r.assumeRoleArn };
      try {
        const survey = await deps.acls.survey(target);
        for (const acl of survey.acls) {
          if (seen.has(acl.aclId)) continue;
          seen.add(acl.aclId);
          // Read after the survey: an entry hallpass creates is recorded before it exists in AWS.
          const ours = new Set(await deps.cuts.numbersInUse(acl.aclId));
          for (const n of acl.ingressDenyRuleNumbers) {
            if (n < range.from || n > range.to || ours.has(n)) continue;
            found += 1;
            if (reported.has(`${acl.aclId}/${n}`)) continue;
            reported.add(`${acl.aclId}/${n}`);
            deps.logger.warn(
              { aclId: acl.aclId, ruleNumber: n, resourceId: r.id },
              "left in place an inbound deny entry in the reserved network ACL rule numbers that this database has no record of (another deployment's cut, or a stale one of a lost database): remove it by hand if it is stale",
            );
          }
        }
      } catch (error) {
        failed += 1;
        deps.logger.error(
          { resourceId: r.id, err: describeError(error) },
          'could not check the reserved network ACL rule numbers; will retry',
        );
      }
    }
    return { found, failed };
  };
};
