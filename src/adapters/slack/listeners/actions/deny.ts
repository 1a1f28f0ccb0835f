import { denyModal } from '../../views/deny-modal';
import type { ButtonArgs } from './button';

/** "Deny": opens the reason modal first — `trigger_id` expires in about 3 s — and decides on submit. */
export async function denyAction({ body, action, client }: ButtonArgs): Promise<void> {
  await client.views.open({ trigger_id: body.trigger_id, view: denyModal(action.value ?? '') });
}
