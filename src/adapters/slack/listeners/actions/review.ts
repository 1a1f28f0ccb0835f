import type { ListenerContext } from '../../context';
import { decideOnClick } from './button';

/** "Review" on a break-glass grant's approval message: the approver's review, owed after the fact. */
export const reviewAction = (ctx: ListenerContext) =>
  decideOnClick((grantId, actor) => ctx.useCases.reviewGrant({ grantId, actor }));
