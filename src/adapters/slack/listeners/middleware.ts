import type {
  AllMiddlewareArgs,
  BlockButtonAction,
  SlackActionMiddlewareArgs,
  SlackCommandMiddlewareArgs,
  SlackEventMiddlewareArgs,
  SlackViewMiddlewareArgs,
  ViewSubmitAction,
} from '@slack/bolt';
import { describeError } from '../../../app/notify';
import type { Actor } from '../../../domain/policy';
import type { ListenerContext, Scope } from '../context';
import { originOf } from '../origin';
import { type Message, replyPrivately } from '../reply';

/** The payloads hallpass listens to with a person behind them. */
type CommandArgs = SlackCommandMiddlewareArgs;
type ButtonArgs = SlackActionMiddlewareArgs<BlockButtonAction>;
type FormArgs = SlackViewMiddlewareArgs<ViewSubmitAction>;
type HomeArgs = SlackEventMiddlewareArgs<'app_home_opened'>;
type PersonArgs = CommandArgs | ButtonArgs | FormArgs | HomeArgs;
type Acked = CommandArgs | ButtonArgs | FormArgs;

/** The answer when something failed on our side (a bug, Slack or AWS throwing): nothing was changed. */
export const SOMETHING_WENT_WRONG: Message = {
  text: 'Something went wrong on hallpass’s side; nothing was changed. Please try again in a minute.',
};

/**
 * Commands and buttons: the HTTP answer goes first, so Slack's 3 seconds never include a Slack, AWS or
 * directory call (`processBeforeResponse` is off: `ack()` answers at once). The work behind the ack then
 * waits for the event loop's next turn (`setImmediate`): requests that arrived meanwhile are read and
 * acked first, instead of each ack queuing behind the database and AWS work of every click before it.
 */
export async function ackFirst({ ack, next }: Acked & AllMiddlewareArgs): Promise<void> {
  await ack();
  await afterPendingIo();
  await next();
}

/** Resolves once the I/O already waiting (requests that arrived, answers from Slack and AWS) has been handled. */
export const afterPendingIo = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A redelivery (`X-Slack-Retry-Num`) of a command or click already acked does nothing: it must not
 * create a second request, vote twice or answer twice. Runs after `ackFirst`, so the redelivery is acked.
 */
export async function ignoreRedelivery({ context, next }: AllMiddlewareArgs): Promise<void> {
  if (context.retryNum !== undefined) return;
  await next();
}

/** Where a private answer to this payload goes; a form has no conversation, so its answers are DMs. */
function routeOf(args: PersonArgs & AllMiddlewareArgs) {
  const { client } = args;
  if ('command' in args) {
    const { respond, command } = args;
    return { respond, client, channel: command.channel_id, user: command.user_id };
  }
  if ('action' in args) {
    const { respond, body } = args;
    return { respond, client, channel: body.channel?.id, user: body.user.id };
  }
  if ('view' in args) return { client, user: args.body.user.id };
  return { client, user: args.event.user };
}

/** Puts the person behind the payload on `context` (see `Scope`): who, a lazy actor, and how to answer them. */
export const scope =
  (ctx: ListenerContext) =>
  async (args: PersonArgs & AllMiddlewareArgs): Promise<void> => {
    const route = { ...routeOf(args), logger: ctx.logger };
    const origin = originOf(args.body);
    let actor: Promise<Actor> | undefined;
    const fields: Scope = {
      userId: route.user,
      actor: () => {
        actor ??= ctx.useCases.directory.actor(route.user, origin);
        return actor;
      },
      reply: (message) => replyPrivately(route, message),
    };
    Object.assign(args.context, fields);
    await args.next();
  };

/** Where a failure happened, for the log line: the command typed, or the event's type. */
function whereOf(args: AllMiddlewareArgs & { body: unknown; command?: { text?: string } }) {
  if (args.command !== undefined) return { text: args.command.text };
  const event = (args.body as { event?: { type?: unknown } }).event;
  return typeof event?.type === 'string' ? { type: event.type } : {};
}

/**
 * The one catch around a listener: a throw (a bug, Slack or AWS failing) is logged once, as `message`,
 * and — where `answer` is set and a person is behind the payload — answered with `SOMETHING_WENT_WRONG`.
 * Nothing reaches Bolt's error handler, which would answer an HTTP request already acked.
 */
export const guard =
  (ctx: ListenerContext, message: string, opts: { readonly answer?: boolean } = {}) =>
  async (args: AllMiddlewareArgs<Partial<Scope>> & { body: unknown; command?: { text?: string } }) => {
    try {
      await args.next();
    } catch (error) {
      const { userId, reply } = args.context;
      ctx.logger.error({ err: describeError(error), user: userId, ...whereOf(args) }, message);
      if (opts.answer === true && reply !== undefined) await reply(SOMETHING_WENT_WRONG);
    }
  };

/** A form's submit as read: what the listener acts on, or the errors to show beside fields (block id → text). */
export type FormRead<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly errors: Readonly<Record<string, string>> };

/** What `ackForm` leaves on `context` for the listener: the form as its check read it. */
export type Submitted<T> = Scope & { readonly form: T };

/**
 * Forms: `read` decides the ack. Mistakes keep the modal open with each beside its field
 * (`response_action: errors`) and end there; a good form is acked (the modal closes) and the listener
 * gets what `read` made of it on `context.form`. `read` must answer well within Slack's 3 seconds.
 */
export const ackForm =
  <T>(read: (args: FormArgs & AllMiddlewareArgs<Scope>) => Promise<FormRead<T>>) =>
  async (args: FormArgs & AllMiddlewareArgs<Scope>): Promise<void> => {
    const form = await read(args);
    if (!form.ok) {
      await args.ack({ response_action: 'errors', errors: { ...form.errors } });
      return;
    }
    await args.ack();
    Object.assign(args.context, { form: form.value });
    await args.next();
  };
