import type { App, BlockButtonAction, ViewSubmitAction } from '@slack/bolt';
import { describeError } from '../../../app/notify';
import type { FormRequest } from '../../../app/validate-request-form';
import type { ListenerContext, Scope } from '../context';
import { ACTION, CALLBACK } from '../ids';
import { approveAction } from './actions/approve';
import type { ButtonArgs } from './actions/button';
import { cancelAction } from './actions/cancel';
import { denyAction } from './actions/deny';
import { doneAction } from './actions/done';
import { extendAction } from './actions/extend';
import { reviewAction } from './actions/review';
import { accessCommand } from './commands/access';
import { appHomeOpened } from './events/app-home-opened';
import { subteamChanged } from './events/subteam-changed';
import { userChanged } from './events/user-changed';
import { type InFlight, trackInFlight } from './in-flight';
import { ackFirst, ackForm, guard, ignoreRedelivery, onNextTurn, type Submitted, scope } from './middleware';
import { denySubmitted } from './views/deny-submitted';
import { type ExtendForm, extendSubmitted, readExtendForm } from './views/extend-submitted';
import { readRequestSubmit, requestSubmitted } from './views/request-submitted';

/**
 * Registers every listener (one callback per file) behind the middleware each needs, and returns the
 * count of listeners in progress for shutdown. `behind` runs the work behind an ack (see `ackFirst`). Per listener, in order:
 *
 * - commands and buttons: `ackFirst` → `ignoreRedelivery` → `scope` → `guard` → listener;
 * - forms: `scope` → `ackForm(read)` (or `ackFirst`) → `guard` → listener;
 * - events (acked by Bolt on arrival): [`scope`] → `guard` → listener.
 */
export function mountListeners(
  app: App,
  shared: ListenerContext,
  behind: (work: () => Promise<void>) => Promise<void> = onNextTurn,
): InFlight {
  const inFlight = trackInFlight(app);
  const ctx: ListenerContext = { ...shared, track: inFlight.track };
  const person = scope(ctx);
  const acked = ackFirst(behind);
  const clicked = [acked, ignoreRedelivery, person] as const;
  const button = (id: string, failed: string, listener: (args: ButtonArgs) => Promise<void>) =>
    app.action<BlockButtonAction, Scope>(id, ...clicked, guard(ctx, failed), listener);

  app.command<Scope>(
    '/access',
    ...clicked,
    guard(ctx, '/access failed', { answer: true }),
    accessCommand(ctx),
  );
  button(ACTION.approveRequest, 'approve failed', approveAction(ctx));
  button(ACTION.denyRequest, 'could not open the deny modal', denyAction);
  button(ACTION.doneGrant, 'done failed', doneAction(ctx));
  button(ACTION.extendGrant, 'could not open the extend form', extendAction(ctx));
  button(ACTION.reviewGrant, 'review failed', reviewAction(ctx));
  button(ACTION.cancelRequest, 'cancel failed', cancelAction(ctx));
  app.view<ViewSubmitAction, Scope>(
    CALLBACK.denyModal,
    person,
    acked,
    guard(ctx, 'deny failed'),
    denySubmitted(ctx),
  );
  app.view<ViewSubmitAction, Submitted<ExtendForm>>(
    CALLBACK.extendModal,
    person,
    ackForm(readExtendForm),
    guard(ctx, 'extend failed'),
    extendSubmitted(ctx),
  );
  app.view<ViewSubmitAction, Submitted<FormRequest>>(
    CALLBACK.requestModal,
    person,
    ackForm(readRequestSubmit(ctx)),
    guard(ctx, 'request from the form failed', { answer: true }),
    requestSubmitted(ctx),
  );
  app.event('app_home_opened', person, guard(ctx, 'could not publish the Home tab'), appHomeOpened(ctx));
  // Group membership changed in Slack: the directory's cache follows at once (manifest: bot events).
  app.event('subteam_members_changed', guard(ctx, 'could not apply a group change'), subteamChanged(ctx));
  app.event('subteam_updated', guard(ctx, 'could not apply a group change'), subteamChanged(ctx));
  // An account deactivated or changed: access follows the person (manifest: bot event `user_change`).
  app.event('user_change', guard(ctx, 'could not apply a user change'), userChanged(ctx));

  // Whatever still escapes (a middleware of Bolt's own, an ack that throws) is logged once here, then
  // handed to the receiver's error handler, which answers the HTTP request if nothing has yet.
  app.error(async (error) => {
    ctx.logger.error({ err: describeError(error), code: error.code }, 'Slack listener failed');
    throw error;
  });
  return inFlight;
}
