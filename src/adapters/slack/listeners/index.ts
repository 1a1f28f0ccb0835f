import type { App, BlockButtonAction } from '@slack/bolt';
import type { ListenerContext } from '../context';
import { ACTION, CALLBACK } from '../ids';
import { approveAction } from './actions/approve';
import { denyAction } from './actions/deny';
import { cancelAction, doneAction, extendAction, reviewAction } from './actions/grant-buttons';
import { accessCommand } from './commands/access';
import { appHomeOpened } from './events/app-home-opened';
import { subteamChanged } from './events/subteam-changed';
import { denySubmitted } from './views/deny-submitted';
import { extendSubmitted } from './views/extend-submitted';
import { requestSubmitted } from './views/request-submitted';

/** Registers every listener; one callback per file. */
export function registerListeners(app: App, ctx: ListenerContext): void {
  app.command('/access', accessCommand(ctx));
  app.action<BlockButtonAction>(ACTION.approveRequest, approveAction(ctx));
  app.action<BlockButtonAction>(ACTION.denyRequest, denyAction(ctx));
  app.action<BlockButtonAction>(ACTION.doneGrant, doneAction(ctx));
  app.action<BlockButtonAction>(ACTION.extendGrant, extendAction(ctx));
  app.action<BlockButtonAction>(ACTION.reviewGrant, reviewAction(ctx));
  app.action<BlockButtonAction>(ACTION.cancelRequest, cancelAction(ctx));
  app.view(CALLBACK.denyModal, denySubmitted(ctx));
  app.view(CALLBACK.extendModal, extendSubmitted(ctx));
  app.view(CALLBACK.requestModal, requestSubmitted(ctx));
  app.event('app_home_opened', appHomeOpened(ctx));
  // Group membership changed in Slack: the directory's cache follows at once (manifest: bot events).
  app.event('subteam_members_changed', subteamChanged(ctx));
  app.event('subteam_updated', subteamChanged(ctx));
}
