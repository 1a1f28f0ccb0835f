import type { ListenerContext } from '../../context';
import { decideOnClick } from './button';

/** "Done" on the requester's start message or warning: ends their grant now (reason `done`). */
export const doneAction = (ctx: ListenerContext) =>
  decideOnClick((grantId, actor) => ctx.useCases.revokeGrant({ grantId, actor, reason: 'done' }));
