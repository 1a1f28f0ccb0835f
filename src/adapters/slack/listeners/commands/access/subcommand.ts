import type { SlashCommand } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Command } from '../../../../../domain/command';
import type { ListenerContext, Scope } from '../../../context';

/** One `/access` subcommand as parsed, by its kind. */
export type CommandOf = { readonly [K in Command['kind']]: Extract<Command, { readonly kind: K }> };

export type SubcommandArgs<K extends Command['kind']> = {
  readonly cmd: CommandOf[K];
  /** The slash command as Slack sent it (its `trigger_id` and `channel_id`). */
  readonly command: SlashCommand;
  readonly client: WebClient;
  /** Who typed it, and how to answer them (see `Scope`). */
  readonly context: Scope;
};

/** Serves one kind of `/access` subcommand, already acked and parsed; answers privately by `context.reply`. */
export type Subcommand<K extends Command['kind']> = (
  ctx: ListenerContext,
  args: SubcommandArgs<K>,
) => Promise<void>;
