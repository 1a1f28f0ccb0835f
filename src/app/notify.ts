import { findResource } from '../domain/policy';
import type { AppDeps } from './deps';
import type { ApprovalCard, Notice } from './ports';

type Deps = Pick<AppDeps, 'logger' | 'notifier' | 'requests' | 'grants' | 'policy'>;

/**
 * Runs a Slack call without letting its failure escape: a notice that cannot be posted is logged,
 * and the AWS work around it (above all, a close) goes on regardless.
 */
export async function safely(
  deps: Pick<AppDeps, 'logger'>,
  what: string,
  fn: () => Promise<unknown>,
): Promise<void> {
  try {
    await fn();
  } catch (error) {
    deps.logger.warn({ err: describeError(error), what }, 'slack notice failed');
  }
}

export const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/** The approval card as it stands now, read fresh from the store. `undefined` if the resource left the policy. */
export function loadCard(deps: Deps, requestId: string): ApprovalCard | undefined {
  const request = deps.requests.get(requestId);
  if (request === undefined) return undefined;
  const resource = findResource(deps.policy(), request.resourceId);
  if (resource === undefined) return undefined;
  return {
    request,
    resource,
    approvals: deps.requests.approvals(requestId),
    grant: deps.grants.byRequest(requestId),
    extends: request.extendsGrantId === undefined ? undefined : deps.grants.get(request.extendsGrantId),
  };
}

/** Rewrites the approval message in place to show the current state, if it was posted. */
export async function refreshCard(deps: Deps, requestId: string): Promise<void> {
  const card = loadCard(deps, requestId);
  const ref = card?.request.message;
  if (card === undefined || ref === undefined) return;
  await safely(deps, 'update approval card', () => deps.notifier.updateApprovalCard(ref, card));
}

/** Tells both the channel thread (when the approval message exists) and the requester. */
export async function tellBoth(
  deps: Deps,
  make: (card: ApprovalCard) => Notice,
  requestId: string,
): Promise<void> {
  const card = loadCard(deps, requestId);
  if (card === undefined) return;
  const notice = make(card);
  const ref = card.request.message;
  await Promise.all([
    ref === undefined
      ? Promise.resolve()
      : safely(deps, `thread ${notice.type}`, () => deps.notifier.notifyThread(ref, notice)),
    safely(deps, `dm ${notice.type}`, () => deps.notifier.notifyUser(card.request.requesterId, notice)),
  ]);
}
