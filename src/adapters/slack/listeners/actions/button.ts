import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { Actor } from '../../../../domain/policy';
import type { Result } from '../../../../domain/result';
import type { Scope } from '../../context';
import { errorText, type Failure } from '../../views/errors';

/** A button's click after the middleware: acked, not a redelivery, the clicker on `context`. */
export type ButtonArgs = SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs<Scope>;

/**
 * A button whose value names what it acts on (a request or grant id): `run` decides for the clicker, and
 * only a refusal is answered — what changed shows on the messages and cards the use case updates.
 */
export const decideOnClick =
  (run: (id: string, actor: Actor) => Promise<Result<unknown, Failure>>) =>
  async ({ action, context }: ButtonArgs): Promise<void> => {
    const result = await run(action.value ?? '', await context.actor());
    if (!result.ok) await context.reply({ text: errorText(result) });
  };
