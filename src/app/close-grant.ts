import type { EndReason, Grant } from '../domain/grant';
import { findResource, type Policy } from '../domain/policy';
import { raiseGrantAlert } from './alerts';
import { type BackstopDeps, syncBackstops } from './backstop';
import {
  type CutDeps,
  type CutsConnectionsDeps,
  cutsConnections,
  planCuts,
  runCuts,
} from './cut-connections';
import { InfraError, reasonInWords } from './infra-error';
import { describeError, type Notices } from './notify';
import { lockKeyOf, openLockKey, targetOf } from './open-grant';
import type {
  AuditLog,
  Clock,
  CutStore,
  DueWakeup,
  Faults,
  FollowUps,
  GrantStore,
  Locks,
  Logger,
  Metrics,
  NetworkAccess,
  RequestStore,
  RuleHold,
  RuleStore,
  RuleTarget,
  UnitOfWork,
} from './ports';
import { type CutSessionDeps, cutSession } from './role-revocation';

/** What finding the group a grant still opening holds the lock of needs. */
type OpeningKeyDeps = { readonly requests: Pick<RequestStore, 'get'>; readonly policy: () => Policy };

export type CloseGrantDeps = BackstopDeps &
  CutDeps &
  CutSessionDeps &
  CutsConnectionsDeps &
  OpeningKeyDeps & {
    /** `HALLPASS_DEPLOYMENT`: a rule another deployment tagged is never adopted, whatever its grant tag. */
    readonly deployment: string;
    readonly clock: Clock;
    readonly logger: Logger;
    readonly uow: UnitOfWork;
    readonly faults: Faults;
    readonly locks: Locks;
    readonly wakeup: Pick<DueWakeup, 'changed'>;
    /** `hallpass_expiry_lateness_seconds`: how late each expired grant closed. */
    readonly metrics?: Metrics | undefined;
    readonly grants: Pick<GrantStore, 'get' | 'move'>;
    readonly rules: Pick<RuleStore, 'hold' | 'holdsOf' | 'otherLiveHolders' | 'release'>;
    readonly network: Pick<NetworkAccess, 'revoke' | 'listManaged'>;
    readonly audit: Pick<AuditLog, 'append'>;
    readonly cuts: Pick<CutStore, 'ofGrant' | 'plan'>;
    readonly followUps?: FollowUps | undefined;
  };

/** What recording a failed close, and raising it when it keeps failing, needs. */
export type CloseFailureDeps = {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly policy: () => Policy;
  readonly grants: Pick<GrantStore, 'closeFailed'>;
  readonly notices: Pick<Notices, 'card' | 'deliver'>;
};

/** What announcing a closed grant needs. */
export type AnnounceClosedDeps = {
  readonly notices: Pick<Notices, 'refreshCard' | 'tellBoth'>;
  readonly audit: Pick<AuditLog, 'list'>;
};

/** Closes a grant in AWS and in the database; returns it closed, or `undefined` if it was not open. Announces nothing. */
export type CloseGrant = (grantId: string, reason: EndReason, by: string) => Promise<Grant | undefined>;

/** What a use case that ends grants is given by name: the close, and its announcement. */
export type ClosingUses = {
  readonly closeGrant: CloseGrant;
  readonly announceClosed: (grant: Grant) => Promise<void>;
};

/** Where a hold's rule lives, as recorded when it was opened: the group, its region, the role assumed to reach it. */
export const targetOfHold = (h: RuleHold): RuleTarget => ({
  region: h.region,
  groupId: h.groupId,
  assumeRoleArn: h.assumeRoleArn,
});

/**
 * Ends a grant. `closing` is committed before any AWS call, so a crash mid-way is finished by the
 * next sweep. Every rule is revoked with what opened it — the region, group and role recorded on its
 * hold — never with the policy as it reads now, so a policy edit cannot send a revoke to the wrong
 * account. A rule is revoked only when no other live grant still holds it (two grants for the same
 * address and port share one EC2 rule), and never when it existed before hallpass. `ended_at` is the
 * moment AWS confirmed the close, apart from the planned `expires_at`. A failed revoke throws and
 * leaves the grant `closing`, to be retried. An `opening` grant can be closed too (its time ran out
 * while it was opening, or a failure left it there): whatever it holds by then is revoked.
 */
export const closeGrant =
  (deps: CloseGrantDeps): CloseGrant =>
  async (grantId, reason, by) => {
    const startedAt = deps.clock.now();
    const before = await deps.grants.get(grantId);
    const marked = await deps.uow.tx(async () => {
      const m = await deps.grants.move(grantId, ['opening', 'active', 'closing'], 'closing', {
        endReason: reason,
        endedBy: by,
      });
      // The transition is recorded once; a retried close of a grant already closing is not a new one.
      if (m.ok && before?.state !== 'closing') {
        await deps.audit.append({
          at: startedAt,
          actor: by,
          type: 'grant.closing',
          requestId: m.value.requestId,
          grantId,
          details: { reason },
        });
      }
      return m;
    });
    if (!marked.ok) return undefined;
    deps.faults.point('close.after-closing');

    const keys = new Set((await deps.rules.holdsOf(grantId)).map(lockKeyOf));
    // A grant still opening may be adding rules right now under its group's lock: wait for that lock
    // too, so whatever the open recorded before it saw `closing` is revoked here.
    const opening = before?.state === 'opening' ? await openingTarget(deps, marked.value) : undefined;
    if (opening !== undefined) keys.add(lockKeyOf(opening));
    const revoked: string[] = [];
    const kept: string[] = [];
    let cutting = false;
    for (const key of keys) {
      await deps.locks.run(key, async () => {
        if (opening !== undefined && key === lockKeyOf(opening) && (await openerGone(deps, grantId)))
          await adoptUnrecorded(deps, grantId, opening);
        // Read again under the lock: the holds (and other grants' holds) are what they are now.
        const group = (await deps.rules.holdsOf(grantId)).filter((h) => lockKeyOf(h) === key);
        const last: RuleHold[] = [];
        for (const h of group) {
          if (h.managed && (await deps.rules.otherLiveHolders(h.ruleId, grantId)) === 0) last.push(h);
        }
        // Connections through the rules about to be revoked are cut after (`cutConnections: nacl`):
        // planned first, so a crash from here on still cuts them.
        if (last.length > 0 && (await cutsConnections(deps, grantId))) {
          await planCuts(deps, last);
          cutting = true;
        }
        // One call per role that reached the group (normally one): each rule with what opened it.
        for (const holds of groupByTarget(last)) {
          const first = holds[0];
          if (first === undefined) continue;
          deps.faults.point('close.before-revoke');
          await deps.network.revoke(
            targetOfHold(first),
            holds.map((h) => h.ruleId),
          );
        }
        if (last.length > 0) deps.faults.point('close.after-revoke');
        revoked.push(...last.map((h) => h.ruleId));
        kept.push(...group.filter((h) => !last.includes(h)).map((h) => h.ruleId));
        // Released inside the lock, so a grant opening on this group next sees the rule as gone.
        await deps.rules.release(grantId, deps.clock.now());
      });
    }

    // STS cannot end a session early: a role session that outlives its grant goes into the role's
    // revoked-sessions policy (role-revocation.ts), pruned once it has expired by itself. A write IAM
    // refuses throws, leaving the grant `closing` to be retried.
    const denied = await cutSession(deps, grantId);
    deps.faults.point('close.before-closed');

    const endedAt = deps.clock.now();
    const endReason = marked.value.endReason ?? reason;
    const closed = await deps.uow.tx(async () => {
      await deps.rules.release(grantId, endedAt);
      const m = await deps.grants.move(grantId, ['closing'], endReason === 'failed' ? 'failed' : 'closed', {
        endedAt,
      });
      if (m.ok) {
        await deps.audit.append({
          at: endedAt,
          actor: by,
          type: 'grant.closed',
          requestId: m.value.requestId,
          grantId,
          details: {
            // As the grant row now says: a retried close may have changed who ended it, and why.
            reason: m.value.endReason ?? endReason,
            endedBy: m.value.endedBy ?? by,
            plannedEnd: m.value.expiresAt.toISOString(),
            revokedRuleIds: revoked,
            stillHeldByOtherGrants: kept,
            ...denied,
          },
        });
      }
      return m;
    });
    // The rules' backstops follow: removed where the rule is gone, moved to the end of the grants that
    // still hold a shared one. A failure is left to the next sync (a stale backstop only revokes a rule
    // that is gone already, or cuts a shared one early — never late).
    deps.faults.point('close.before-backstop');
    // The rules are revoked: now the connections they let in (a failure is left to the next sweep).
    // A retried close (its first attempt crashed after revoking) finds the cut it planned then.
    const cut = cutting || (await deps.cuts.ofGrant(grantId)).some((c) => c.state === 'planned');
    // Neither holds back the next close: queued after this one (reconciliation finishes what a crash drops).
    const followUp = async () => {
      await syncBackstops(deps)([...revoked, ...kept]);
      if (cut) await runCuts(deps)(grantId);
    };
    if (deps.followUps === undefined) await followUp();
    else deps.followUps.after(`grant ${grantId} closed`, followUp);
    if (!closed.ok) return undefined;
    if (endReason === 'expired')
      deps.metrics?.grantClosed(endedAt.getTime() - closed.value.expiresAt.getTime());
    deps.logger.info(
      {
        grantId,
        reason: endReason,
        lateMs: endedAt.getTime() - closed.value.expiresAt.getTime(),
        revoked,
        kept,
      },
      'grant closed',
    );
    // No due time moved earlier: Home is refreshed, and no replica re-reads its timers for this.
    deps.wakeup.changed();
    return closed.value;
  };

/** Failed attempts at closing one grant before the channel, the requester and the admins are told. */
export const ESCALATE_AFTER = 3;
/** A failed close is retried after 1 s, 2 s, 4 s … up to a minute, with jitter, for as long as it takes. */
const CLOSE_RETRY_BASE_MS = 1_000;
const CLOSE_RETRY_MAX_MS = 60_000;

/** Between half and all of a ceiling that doubles per attempt, capped: a flapping AWS is not hammered. */
export function closeRetryDelay(attempts: number, random: () => number = Math.random): number {
  const ceiling = Math.min(CLOSE_RETRY_MAX_MS, CLOSE_RETRY_BASE_MS * 2 ** Math.min(attempts - 1, 20));
  return ceiling / 2 + (random() * ceiling) / 2;
}

/**
 * The wait before retrying a close that failed with `error`: {@link closeRetryDelay}, one step longer
 * when AWS throttled (the SDK already retried it a few times, backing off), and never shorter than what
 * the service asked for (`retryAfterMs`).
 */
export function closeRetryDelayFor(
  error: unknown,
  attempts: number,
  random: () => number = Math.random,
): number {
  const infra = error instanceof InfraError ? error : undefined;
  const delay = closeRetryDelay(infra?.kind === 'throttled' ? attempts + 1 : attempts, random);
  return Math.max(delay, infra?.retryAfterMs ?? 0);
}

/** Grant ids named in the one log line of a batch that failed to close; the rest are counted. */
const BATCH_IDS_LOGGED = 20;

/**
 * Records the failed close of grants that failed together (a batch EC2 refused): one retry time for
 * all, from the most attempts any of them has had, so they come due together and are retried as one
 * batch in one call — not each at its own jittered time, one call each, which against a throttled API
 * is a hot loop. Each grant's attempt is counted, and its thread and requester are told as
 * {@link recordCloseFailure} does; but the batch is one failure, so it is logged once, and raised once
 * at the top of the channel, in the alerts channel and to the admins by DM, naming how many grants it
 * holds — not a thousand alerts for one refused call.
 */
export async function recordCloseFailures(
  deps: CloseFailureDeps,
  grants: readonly Grant[],
  error: unknown,
): Promise<void> {
  if (grants.length === 0) return;
  const attempts = Math.max(...grants.map((g) => g.closeAttempts)) + 1;
  const retryAt = new Date(deps.clock.now().getTime() + closeRetryDelayFor(error, attempts));
  const first = grants[0];
  if (grants.length === 1 && first !== undefined) {
    await recordCloseFailure(deps, first, error, retryAt);
    return;
  }
  const escalating: { grant: Grant; attempts: number }[] = [];
  for (const grant of grants) {
    const counted = await countCloseFailure(deps, grant, retryAt);
    if (shouldEscalate(counted.attempts)) escalating.push(counted);
  }
  deps.logger.error(
    {
      grants: grants.length,
      grantIds: grants.slice(0, BATCH_IDS_LOGGED).map((g) => g.id),
      attempts,
      retryAt: retryAt.toISOString(),
      err: describeError(error),
    },
    'closing due grants together failed; will retry them together',
  );
  if (escalating.length === 0) return;
  const words = closeFailureWords(error);
  for (const { grant, attempts: counted } of escalating)
    await escalate(deps, grant, counted, words, { alone: false });
  const raised = escalating.find((e) => e.attempts === ESCALATE_AFTER) ?? escalating[0];
  if (raised !== undefined)
    await escalateForAll(deps, raised.grant, raised.attempts, words, escalating.length);
}

/** Loud after a few failed attempts, then again every tenth: never silent for long, never a flood. */
export const shouldEscalate = (attempts: number): boolean =>
  attempts === ESCALATE_AFTER || (attempts > ESCALATE_AFTER && attempts % 10 === 0);

/**
 * A close that failed stays `closing`, counts the attempt and is retried at its own time. After a few
 * attempts it is raised in the thread (mentioning the admins), to the requester and to the admins named
 * by user id, and again every tenth attempt; the first time also at the top level of the resource's
 * channel and in the policy's `alertsChannel`.
 */
export async function recordCloseFailure(
  deps: CloseFailureDeps,
  grant: Grant,
  error: unknown,
  /** When to try again (shared by grants that failed together); by default from this grant's attempts. */
  at?: Date,
): Promise<void> {
  const now = deps.clock.now();
  const attempts = grant.closeAttempts + 1;
  const retryAt = at ?? new Date(now.getTime() + closeRetryDelayFor(error, attempts));
  const counted = await countCloseFailure(deps, grant, retryAt);
  deps.logger.error(
    { grantId: grant.id, attempts, retryAt: retryAt.toISOString(), err: describeError(error) },
    'closing a due grant failed; will retry',
  );
  // In words: the thread and the people read it; the log line above keeps the provider's code.
  if (shouldEscalate(counted.attempts))
    await escalate(deps, counted.grant, counted.attempts, closeFailureWords(error));
}

/**
 * Counts a failed close on the grant, due again at `retryAt`: the grant as stored now, and its attempts
 * (as they would be, when the store could not be written: that failure is logged).
 */
async function countCloseFailure(
  deps: CloseFailureDeps,
  grant: Grant,
  retryAt: Date,
): Promise<{ readonly grant: Grant; readonly attempts: number }> {
  let current: Grant | undefined;
  try {
    current = await deps.grants.closeFailed(grant.id, retryAt);
  } catch (stored) {
    deps.logger.error({ grantId: grant.id, err: describeError(stored) }, 'could not record a failed close');
  }
  return { grant: current ?? grant, attempts: current?.closeAttempts ?? grant.closeAttempts + 1 };
}

/** Why a close failed, for the thread: what kind of failure (as the adapter filed it), then its message. */
export function closeFailureWords(error: unknown): string {
  const infra = error instanceof InfraError ? error : undefined;
  const kind =
    infra?.kind === 'not-found'
      ? 'not found in AWS (by the account, region and group that opened it)'
      : infra?.kind === 'denied'
        ? infra.subject === 'credentials'
          ? 'hallpass has no AWS credentials'
          : 'not allowed (hallpass is missing an AWS permission)'
        : infra?.kind === 'throttled'
          ? 'AWS is throttling hallpass'
          : infra?.kind === 'unavailable'
            ? 'AWS could not be reached or failed'
            : undefined;
  const words = reasonInWords(error);
  return kind === undefined ? words : `${kind}: ${words}`;
}

/**
 * Raises a failing close: in the grant's thread and to its requester; and — for a grant alone, or once
 * for a whole batch (`escalateForAll`) — to the admins named by user id, and at the top level of the
 * channel and in the alerts channel (at the first escalation only, once per episode).
 */
async function escalate(
  deps: CloseFailureDeps,
  grant: Grant,
  attempts: number,
  error: string,
  opts: { readonly alone: boolean } = { alone: true },
): Promise<void> {
  const card = await deps.notices.card(grant.requestId);
  if (card === undefined) return;
  const admins = deps.policy().admins;
  const notice = { type: 'grant-close-failing', card, grant, attempts, error, admins } as const;
  await deps.notices.deliver({ kind: 'thread', requestId: grant.requestId, notice });
  await deps.notices.deliver({ kind: 'dm', requestId: grant.requestId, userId: grant.requesterId, notice });
  if (opts.alone) await escalateForAll(deps, grant, attempts, error, 1);
}

/**
 * The part of an escalation made once per failure, however many grants it holds: the admins' DMs
 * (about `grant`, saying how many more failed with it) and, at the first escalation, the alert at the
 * top of the channel and in the alerts channel.
 */
async function escalateForAll(
  deps: CloseFailureDeps,
  grant: Grant,
  attempts: number,
  error: string,
  grants: number,
): Promise<void> {
  const card = await deps.notices.card(grant.requestId);
  if (card === undefined) return;
  const admins = deps.policy().admins;
  const others = grants - 1;
  // At the top level too (and in the alerts channel), once per episode: at the first escalation only.
  if (attempts === ESCALATE_AFTER)
    await raiseGrantAlert(deps, card.resource.channel, grant, {
      what: 'close-failing',
      detail: error,
      attempts,
      admins,
      ...(others > 0 ? { others } : {}),
    });
  const notice = { type: 'grant-close-failing', card, grant, attempts, error, admins, others } as const;
  for (const userId of new Set(admins.filter((a) => !a.startsWith('@') && a !== grant.requesterId)))
    await deps.notices.deliver({ kind: 'dm', requestId: grant.requestId, userId, notice });
}

/** The group a security-group grant opens on (its resource as requested, else as the policy says). */
async function openingTarget(deps: OpeningKeyDeps, grant: Grant): Promise<RuleTarget | undefined> {
  const resource =
    (await deps.requests.get(grant.requestId))?.resourceAtRequest ??
    findResource(deps.policy(), grant.resourceId);
  return resource?.kind === 'security-group' ? targetOf(resource) : undefined;
}

/**
 * Whether nobody is opening the grant any more (its open lock is free: the opener died, or finished).
 * A live opener — this very call, when a grant's time ran out while it opened, or one waiting for the
 * group's lock this close holds — records each rule under that lock right after authorizing it, so it
 * has left nothing unrecorded, and listing the whole group for it would only hold the lock the longer
 * (a group of 900 rules is most of a second of XML; the 50,000-request soak closed 2,461 grants that
 * ran out while opening, one listing each, and slowed round by round).
 */
async function openerGone(deps: Pick<CloseGrantDeps, 'locks'>, grantId: string): Promise<boolean> {
  return (await deps.locks.tryRun(openLockKey(grantId), async () => undefined)).ran;
}

/**
 * For recovery: a grant whose opener died and whose time ran out while hallpass was down, just moved
 * from `opening` to `closing`: the rules that opener authorized but never recorded become its holds
 * (under the group's lock), so its close revokes them with the rest before hallpass serves, instead of
 * the next reconciliation pass finding them as orphans.
 */
export const adoptLeftByDeadOpener =
  (deps: CloseGrantDeps) =>
  async (grant: Grant): Promise<void> => {
    const target = await openingTarget(deps, grant);
    if (target === undefined) return;
    await deps.locks.run(lockKeyOf(target), () => adoptUnrecorded(deps, grant.id, target));
  };

/**
 * Rules authorized for a grant still opening whose opener died before recording them (a replica killed
 * between the authorize and the hold, whose grant then came due before another replica took the open
 * over): only their tags tie them to the grant. Called under the group's lock, so no live open is
 * between the two steps; each is recorded as the grant's hold, so this close revokes (and cuts) it now
 * instead of the next reconciliation, up to a minute later. A listing AWS refuses leaves them to it.
 */
async function adoptUnrecorded(deps: CloseGrantDeps, grantId: string, target: RuleTarget): Promise<void> {
  let listed: Awaited<ReturnType<NetworkAccess['listManaged']>>;
  try {
    listed = await deps.network.listManaged(target);
  } catch (error) {
    deps.logger.warn(
      { grantId, groupId: target.groupId, err: describeError(error) },
      'could not look for rules a dead opener left unrecorded; reconciliation will',
    );
    return;
  }
  const held = new Set((await deps.rules.holdsOf(grantId)).map((h) => h.ruleId));
  for (const rule of listed) {
    const { protocol, cidr } = rule;
    if (rule.tags.grantId !== grantId || held.has(rule.ruleId) || cidr === undefined) continue;
    // Made by another deployment (a database copied from it shares its grant ids): never ours.
    if (rule.tags.deployment !== undefined && rule.tags.deployment !== deps.deployment) continue;
    if (protocol !== 'tcp' && protocol !== 'udp') continue;
    await deps.rules.hold({
      region: target.region,
      groupId: target.groupId,
      protocol,
      fromPort: rule.fromPort,
      toPort: rule.toPort,
      cidr,
      grantId,
      ruleId: rule.ruleId,
      managed: true,
      assumeRoleArn: target.assumeRoleArn,
    });
  }
}

/** `items` grouped by `keyOf`, each group in the order the items came. */
export function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    const group = out.get(k);
    if (group === undefined) out.set(k, [item]);
    else group.push(item);
  }
  return out;
}

/** Holds grouped by the role that reached their group (in practice one role per group and grant). */
export const groupByTarget = (holds: readonly RuleHold[]): RuleHold[][] => [
  ...groupBy(holds, (h) => h.assumeRoleArn ?? '').values(),
];

/**
 * Tells the channel thread and the requester that a grant ended — or, for a request that failed to
 * open and whose rollback had failed, that what it had opened is now closed — and rewrites its approval
 * card. Kept apart from `closeGrant` so a batch of closes reaches AWS first; it only queues the
 * messages, so Slack never delays a revoke.
 */
export const announceClosed =
  (deps: AnnounceClosedDeps) =>
  async (grant: Grant): Promise<void> => {
    if (grant.state !== 'closed' && grant.state !== 'failed') return;
    // A grant that was never announced open is not told as access that closed (the log says which).
    const neverOpened =
      grant.endReason !== 'failed' &&
      !(await deps.audit.list({ requestId: grant.requestId })).some(
        (e) => e.type === 'grant.opened' && e.grantId === grant.id,
      );
    await deps.notices.refreshCard(grant.requestId);
    await deps.notices.tellBoth(
      (card) => ({ type: 'grant-ended', card, grant, ...(neverOpened ? { neverOpened } : {}) }),
      grant.requestId,
    );
  };
