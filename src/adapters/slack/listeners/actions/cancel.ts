import type { ListenerContext } from '../../context';
import { decideOnClick } from './button';

/** "Cancel" on the requester's own pending request. */
export const cancelAction = (ctx: ListenerContext) =>
  decideOnClick((requestId, actor) => ctx.useCases.cancelRequest({ requestId, actor }));
