import { helpMessage } from '../../../views/help';
import type { Subcommand } from './subcommand';

/** `/access help`. */
export const help: Subcommand<'help'> = (_ctx, { context }) => context.reply(helpMessage());
