import { type Actor, standingRefusal } from '../../../../../domain/policy';
import { err } from '../../../../../domain/result';
import { errorText } from '../../../views/errors';

/** Why someone who may ask for nothing does not count here at all (a guest, another workspace…), if that is why. */
export function whyNothing(actor: Actor): string | undefined {
  const refusal = standingRefusal(undefined, actor);
  return refusal === undefined ? undefined : errorText(err(refusal));
}

/** Admin rights are for members only: why a guest or another workspace's user is refused them, else undefined. */
export function whyNotAdmin(actor: Actor): string | undefined {
  const refusal = standingRefusal(undefined, actor);
  return refusal === undefined ? undefined : errorText(err(refusal, { admin: true }));
}
