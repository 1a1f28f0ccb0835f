import { followAddressLink, offerAddressLink } from './address-link';
import { apiUseCases } from './api-requests';
import { tokenAdmin } from './api-tokens';
import { approveRequest } from './approve-request';
import { reconcileBackstops, syncBackstops } from './backstop';
import { cancelRequest } from './cancel-request';
import { adoptLeftByDeadOpener, announceClosed, closeGrant } from './close-grant';
import { checkConnectionTracking, type LingeringConnections } from './connection-tracking';
import { reportStrayDenies, runCuts } from './cut-connections';
import { deliverOutbox } from './deliver-outbox';
import { denyRequest } from './deny-request';
import type { AppDeps } from './deps';
import { createDueWork } from './due-work';
import { exportAudit } from './export-audit';
import { requestExtension } from './extend-grant';
import { followIdentity } from './follow-identity';
import { createNotices } from './notify';
import { openGrant } from './open-grant';
import { announcePolicyChanges } from './policy-changes';
import { nextHeadPublication, publishScheduledHead } from './publish-head';
import { dashboard, overview, resourcesFor } from './queries';
import { COMMANDS_PER_MINUTE } from './rate-limit';
import { type ReconcileResult, reconcile } from './reconcile';
import { recoverInterrupted } from './recover-interrupted';
import { reviewGrant } from './review-grant';
import { revokeGrant } from './revoke-grant';
import { searchAudit } from './search-audit';
import { submitRequest } from './submit-request';

/** How long an event id is remembered: Slack redelivers an event within minutes of the first try. */
const EVENT_MEMORY_MS = 60 * 60_000;

/** How often reconciliation reads the connection tracking of the groups' interfaces. */
const TRACKING_EVERY_MS = 60 * 60_000;

/**
 * One part of a reconciliation pass (the whole pass when none is named). `leftovers`: what a crash
 * left half done that the database alone tells — backstops brought in line with the grants (an extend
 * interrupted before it moved them), connection cuts finished or lifted; run at start-up before serving.
 * `rules`: every group listed in AWS and compared (orphans, drift) and the connection tracking read;
 * start-up's pass once hallpass serves (it lists every managed rule: seconds at 10,000).
 */
export type ReconcilePart = 'leftovers' | 'rules';

const NO_RULE_FINDINGS: ReconcileResult = {
  orphansRevoked: 0,
  drift: 0,
  grantsEnded: 0,
  failed: 0,
  othersLeft: 0,
  legacyLeft: 0,
};

/** Binds every use case to its dependencies once; the Slack adapter and the scheduler call these. */
export function createUseCases(appDeps: AppDeps) {
  // The one builder of Slack notices, over the outbox: no use case is given the outbox itself.
  const notices = createNotices(appDeps);
  const deps = { ...appDeps, notices };
  const close = closeGrant(deps);
  const announce = announceClosed(deps);
  const open = openGrant(deps, { closeGrant: close, announceClosed: announce });
  const closing = { closeGrant: close, announceClosed: announce };
  const dueWork = createDueWork(deps, closing);
  const reconcileRules = reconcile(deps, closing);
  const backstops = reconcileBackstops(deps, syncBackstops(deps));
  /** Resources whose open connections outlive a grant's end, as the last reconciliation read them. */
  const lingering = new Map<string, number>();
  const readTracking = checkConnectionTracking(deps, lingering);
  const strayDenies = reportStrayDenies(deps);
  let trackingReadAt: number | undefined;
  const follow = followIdentity(deps, closing);
  const submit = submitRequest(deps, { openGrant: open });
  const revoke = revokeGrant(deps, closing);
  const cancel = cancelRequest(deps);
  return {
    submitRequest: submit,
    /** A one-time link that records the requester's address (`/access …` without `from`); undefined: no public URL. */
    offerAddressLink: offerAddressLink(deps),
    /** The link followed: used up once, and the request continues with the browser's address. */
    followAddressLink: followAddressLink(deps, { submitRequest: submit }),
    approveRequest: approveRequest(deps, { openGrant: open }),
    denyRequest: denyRequest(deps),
    openGrant: open,
    recoverInterrupted: recoverInterrupted(deps, {
      openGrant: open,
      adoptUnrecorded: adoptLeftByDeadOpener(deps),
    }),
    /**
     * Reconciliation with AWS: orphaned tagged rules revoked, drift reported; then the backstops —
     * schedules nobody wants removed, missing ones put back, every rule's in line. `part`: only one
     * part (see {@link ReconcilePart}).
     */
    reconcile: async (part?: ReconcilePart) => {
      const rules = part === 'leftovers' ? NO_RULE_FINDINGS : await reconcileRules();
      const noLeftovers = { orphansRemoved: 0, missingRestored: 0, othersLeft: 0, failed: 0 };
      const b = part === 'rules' ? noLeftovers : await backstops();
      // Connection cuts a crash interrupted are finished, and those past their hold lifted.
      const cuts = part === 'rules' ? { cut: 0, lifted: 0, failed: 0 } : await runCuts(deps)();
      // Read at start-up and then hourly: interfaces change rarely, and EC2's API budget is shared.
      const now = deps.clock.now().getTime();
      let tracking = 0;
      let strays = { found: 0, failed: 0 };
      if (
        part !== 'leftovers' &&
        (trackingReadAt === undefined || now - trackingReadAt >= TRACKING_EVERY_MS)
      ) {
        trackingReadAt = now;
        tracking = await readTracking();
        strays = await strayDenies();
      }
      return {
        ...rules,
        backstopOrphansRemoved: b.orphansRemoved,
        backstopsRestored: b.missingRestored,
        connectionsCut: cuts.cut,
        cutsLifted: cuts.lifted,
        backstopsOfOthersLeft: b.othersLeft,
        /** Deny entries in the reserved numbers this database has no record of: reported, never removed. */
        strayDeniesLeft: strays.found,
        failed: rules.failed + b.failed + cuts.failed + tracking + strays.failed,
      };
    },
    closeGrant: close,
    revokeGrant: revoke,
    cancelRequest: cancel,
    /** `/access token …`: automation tokens, admins only. */
    tokens: tokenAdmin(deps),
    /** The HTTP API (`/api/v1`): the same use cases, for a token. */
    api: apiUseCases(deps, {
      submitRequest: submit,
      cancelRequest: cancel,
      revokeGrant: revoke,
      closeGrant: close,
      announceClosed: announce,
    }),
    requestExtension: requestExtension(deps),
    reviewGrant: reviewGrant(deps),
    exportAudit: exportAudit(deps),
    /** `/access audit search …`: the chain-checked record, filtered (admins only). */
    searchAudit: searchAudit(deps),
    /** When the audit head is next due in the audit channel (undefined: no channel). */
    nextHeadPublication: nextHeadPublication(deps),
    /** The scheduled head publication, after a walk of the chain (its own timer, never the scheduler's). */
    publishScheduledHead: publishScheduledHead(deps),
    /** What comes due and when (grants to close, requests to time out, warnings, reminders): the scheduler's job. */
    dueWork,
    /** Tells the channel, once, about live grants the policy (as just loaded) no longer describes. */
    announcePolicyChanges: announcePolicyChanges(deps),
    /** The outbox dispatcher's run-once job: sends the queued Slack messages that are ready. */
    deliverOutbox: deliverOutbox(deps),
    overview: overview(deps),
    dashboard: dashboard(deps),
    resourcesFor: resourcesFor(deps),
    /** Resource id → how long (s) its interfaces keep idle TCP connections past a grant's end, where it warns. */
    lingeringConnections: (): LingeringConnections => lingering,
    directory: deps.directory,
    /**
     * Slack said people were deactivated or left a group (event `eventId`): their access follows (see
     * `followIdentity`). One run per event id across every replica (a redelivery, or the same event
     * reaching two replicas, is skipped); the effects are compare-and-sets besides. `undefined`: skipped.
     */
    identityChanged: async (eventId: string | undefined, change: Parameters<typeof follow>[0]) => {
      if (
        eventId !== undefined &&
        !(await deps.rateLimits.admit(`slack-event:${eventId}`, 1, EVENT_MEMORY_MS, deps.clock.now()))
      )
        return undefined;
      return follow(change);
    },
    policy: deps.policy,
    /** Whether this person may send another `/access` now (a per-user limit against floods). */
    /** The `/access` flood guard: per person, counted across every replica. */
    admitCommand: (userId: string) =>
      deps.rateLimits.admit(`commands:${userId}`, COMMANDS_PER_MINUTE, 60_000, deps.clock.now()),
    /** A grant as it stands now. */
    grantOf: (grantId: string) => deps.grants.get(grantId),
    /** How many Slack messages wait in the outbox (benchmarks, health). */
    outboxWaiting: () => deps.outbox.waiting(),
    /** The audit events of one request, in order. */
    auditTrail: (requestId: string) => deps.audit.list({ requestId }),
    /** The approval card of a request as it stands now. */
    cardOf: (requestId: string) => notices.card(requestId),
  };
}

export type UseCases = ReturnType<typeof createUseCases>;
