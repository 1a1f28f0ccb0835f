import { LEASE_ACTOR, LEASE_LAPSED_NOTE } from '../domain/token';
import type { ClosingUses } from './close-grant';
import { describeError, type Notices } from './notify';
import type {
  ApiRequestLink,
  ApiRequestStore,
  AuditLog,
  GrantStore,
  Logger,
  RequestStore,
  UnitOfWork,
  Wakeup,
} from './ports';

export type LeaseLapseDeps = {
  readonly logger: Logger;
  readonly uow: UnitOfWork;
  readonly wakeup: Wakeup;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly requests: Pick<RequestStore, 'get' | 'decide'>;
  readonly grants: Pick<GrantStore, 'byRequest'>;
  readonly notices: Pick<Notices, 'refreshCard' | 'tellBoth'>;
  readonly apiRequests?: Pick<ApiRequestStore, 'markLapsed' | 'release'> | undefined;
};

/**
 * Ends what lapsed leases held: a request still pending is cancelled, a grant opening or active is
 * closed (ended by `hallpass:lease`, shown as a lapsed lease in Slack and as `lease-expired` by the API),
 * and the channel is told why. The lapse itself is a compare-and-set in the database, so one replica
 * alone acts on it, and a renewal that won the race keeps the grant. Returns the ids that failed.
 */
export async function endLapsedLeases(
  deps: LeaseLapseDeps,
  use: ClosingUses,
  due: readonly ApiRequestLink[],
  now: Date,
): Promise<string[]> {
  const failed: string[] = [];
  for (const link of due) {
    try {
      await endOne(deps, use, link, now);
    } catch (error) {
      deps.logger.error(
        { requestId: link.requestId, err: describeError(error) },
        'could not end a lapsed lease',
      );
      failed.push(link.requestId);
    }
  }
  return failed;
}

async function endOne(
  deps: LeaseLapseDeps,
  use: ClosingUses,
  link: ApiRequestLink,
  now: Date,
): Promise<void> {
  const before = await deps.requests.get(link.requestId);
  const liveGrant = before?.state === 'approved' ? await deps.grants.byRequest(link.requestId) : undefined;
  // Ended otherwise already (expiry, done, a denial): the lease is only cleared, nothing is announced.
  const holds =
    before?.state === 'pending' || liveGrant?.state === 'active' || liveGrant?.state === 'opening';
  if (!holds) {
    await deps.apiRequests?.release(link.requestId);
    return;
  }
  const lapsed = await deps.uow.tx(async () => {
    const marked = (await deps.apiRequests?.markLapsed(link.requestId, now)) === true;
    if (marked) {
      await deps.audit.append({
        at: now,
        actor: LEASE_ACTOR,
        type: 'lease.lapsed',
        requestId: link.requestId,
        details: {
          token: link.tokenName,
          ...(link.agentName === undefined ? {} : { agent: link.agentName }),
          leaseTtlMs: link.leaseTtlMs,
          leaseExpiresAt: link.leaseExpiresAt?.toISOString(),
        },
      });
    }
    return marked;
  });
  if (!lapsed) return;
  const request = await deps.requests.get(link.requestId);
  if (request === undefined) return;
  if (request.state === 'pending') {
    const cancelled = await deps.uow.tx(async () => {
      const d = await deps.requests.decide(request.id, 'cancelled', LEASE_ACTOR, now, LEASE_LAPSED_NOTE);
      if (d.ok)
        await deps.audit.append({
          at: now,
          actor: LEASE_ACTOR,
          type: 'request.cancelled',
          requestId: request.id,
          details: { reason: 'lease-expired', note: LEASE_LAPSED_NOTE },
        });
      return d.ok;
    });
    if (!cancelled) return;
    deps.wakeup.wake();
    await deps.notices.refreshCard(request.id);
    await deps.notices.tellBoth((card) => ({ type: 'request-cancelled', card }), request.id);
    return;
  }
  const grant = await deps.grants.byRequest(request.id);
  if (grant === undefined || (grant.state !== 'active' && grant.state !== 'opening')) return;
  const closed = await use.closeGrant(grant.id, 'revoked', LEASE_ACTOR);
  if (closed !== undefined) await use.announceClosed(closed);
}
