import { loadingModal, noResourcesModal, requestModal } from '../../../views/request-modal';
import { whyNothing } from './standing';
import type { Subcommand } from './subcommand';

/** `/access` alone: the request form, listing what this person may request. */
export const form: Subcommand<'form'> = async (ctx, { command, client, context }) => {
  // trigger_id lives about 3 s: open a placeholder first, then fill it in.
  const opened = await client.views.open({ trigger_id: command.trigger_id, view: loadingModal() });
  const actor = await context.actor();
  const resources = ctx.useCases.resourcesFor(actor);
  const view =
    resources.length === 0
      ? noResourcesModal(whyNothing(actor))
      : requestModal(resources, command.channel_id);
  if (opened.view?.id !== undefined) await client.views.update({ view_id: opened.view.id, view });
};
