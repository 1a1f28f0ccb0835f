import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { type Command, parseCommand } from '../../../../../domain/command';
import { err } from '../../../../../domain/result';
import type { ListenerContext, Scope } from '../../../context';
import { errorText } from '../../../views/errors';
import { goOnBehind } from '../../middleware';
import { audit } from './audit';
import { auditSearch } from './audit-search';
import { cancel } from './cancel';
import { extend } from './extend';
import { form } from './form';
import { help } from './help';
import { list } from './list';
import { request } from './request';
import { resources } from './resources';
import { revoke } from './revoke';
import type { CommandOf, Subcommand } from './subcommand';
import { tokenCreate, tokenList, tokenRevoke, tokenRotate } from './token';

/** One handler per kind of subcommand: a kind added to `Command` without one here does not compile. */
const SUBCOMMANDS: { readonly [K in Command['kind']]: Subcommand<K> } = {
  form,
  help,
  resources,
  list,
  revoke,
  extend,
  cancel,
  audit,
  'audit-search': auditSearch,
  'token-create': tokenCreate,
  'token-list': tokenList,
  'token-revoke': tokenRevoke,
  'token-rotate': tokenRotate,
  request,
};

function dispatch<K extends Command['kind']>(
  ctx: ListenerContext,
  kind: K,
  args: Parameters<Subcommand<K>>[1],
): Promise<void> {
  const handler: Subcommand<K> = SUBCOMMANDS[kind];
  return handler(ctx, args);
}

/**
 * `/access …`, after the middleware has acked it, dropped a redelivery and put the person on `context`:
 * a per-user limit, then the text parsed and handed to its subcommand. Every answer is private to the
 * person who typed the command. All of it goes on behind the listener (`goOnBehind`), so that Bolt lets
 * go of the HTTP request at once, however long the grant takes to open.
 */
export const accessCommand =
  (ctx: ListenerContext) =>
  (args: SlackCommandMiddlewareArgs & AllMiddlewareArgs<Scope>): Promise<void> => {
    const { command, client, context } = args;
    return goOnBehind(ctx, '/access failed', context, { text: command.text }, async () => {
      if (!(await ctx.useCases.admitCommand(context.userId)))
        return context.reply({ text: errorText(err('RATE_LIMITED')) });
      const result = parseCommand(command.text ?? '');
      if (!result.ok) return context.reply({ text: errorText(result) });
      const cmd: CommandOf[Command['kind']] = result.value;
      return dispatch(ctx, cmd.kind, { cmd, command, client, context });
    });
  };
