import { announceClosed, closeGrant } from './close-grant';
import { approveRequest, denyRequest } from './decide-request';
import type { AppDeps } from './deps';
import { loadCard } from './notify';
import { openGrant } from './open-grant';
import { overview, resourcesFor } from './queries';
import { runDueWork } from './run-due-work';
import { submitRequest } from './submit-request';

/** Binds every use case to its dependencies once; the Slack adapter and the scheduler call these. */
export function createUseCases(deps: AppDeps) {
  const open = openGrant(deps);
  const close = closeGrant(deps);
  const due = runDueWork(deps, close, announceClosed(deps));
  return {
    submitRequest: submitRequest(deps, open),
    approveRequest: approveRequest(deps, open, due),
    denyRequest: denyRequest(deps),
    openGrant: open,
    closeGrant: close,
    runDueWork: due,
    overview: overview(deps),
    resourcesFor: resourcesFor(deps),
    directory: deps.directory,
    policy: deps.policy,
    /** The audit events of one request, in order. */
    auditTrail: (requestId: string) => deps.audit.list({ requestId }),
    /** The approval card of a request as it stands now. */
    cardOf: (requestId: string) => loadCard(deps, requestId),
  };
}

export type UseCases = ReturnType<typeof createUseCases>;
