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
 * runs `behind` the acks (HTTP: the ack gate, `createAckGate`, which starts it once no other Slack
 * request is waiting for its answer; Socket Mode: on the event loop's next turn), so requests that
 * arrived meanwhile are acked first instead of each ack queuing behind the database and AWS work of
 * every click before it.
 */
export const ackFirst =
  (behind: (work: () => Promise<void>) => Promise<void>) =>
  async ({ ack, next }: Acked & AllMiddlewareArgs): Promise<void> => {
    await ack();
    await behind(next);
  };

/** Socket Mode's `behind`: the work starts on the event loop's next turn. */
export const onNextTurn = async (work: () => Promise<void>): Promise<void> => {
  await afterPendingIo();
  await work();
};

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
      await failed(ctx, message, args.context, whereOf(args), opts.answer === true, error);
    }
  };

/** What `guard` does with a throw: logged once as `message`, and answered when `answer` and someone can be. */
async function failed(
  ctx: ListenerContext,
  message: string,
  context: Partial<Scope>,
  where: Record<string, unknown>,
  answer: boolean,
  error: unknown,
): Promise<void> {
  ctx.logger.error({ err: describeError(error), user: context.userId, ...where }, message);
  if (answer && context.reply !== undefined) await context.reply(SOMETHING_WENT_WRONG);
}

/**
 * Runs the rest of a listener's job behind it: the listener returns at once, holding nothing of Bolt's.
 * Bolt keeps the HTTP request and response (its `ack` holds them, tens of KiB with the socket's buffers)
 * until every listener of the payload has returned, so a request whose grant waits for its security
 * group's lock would otherwise keep them all that time — thousands of requests in flight held that
 * much each. `work` must capture only what it needs (the command, the client, `context`), never the
 * listener's arguments. Shutdown and `settled` still wait for it (`ctx.track`); a throw is handled as
 * `guard` handles one: logged once as `message` and answered. Without `ctx.track` it is awaited here.
 */
export function goOnBehind(
  ctx: ListenerContext,
  message: string,
  context: Partial<Scope>,
  where: Record<string, unknown>,
  work: () => Promise<void>,
): Promise<void> {
  const run = work().catch((error: unknown) => failed(ctx, message, context, where, true, error));
  if (ctx.track === undefined) return run;
  // Nothing awaits it now: a failed answer is logged rather than left unhandled.
  ctx.track(run.catch((error: unknown) => ctx.logger.error({ err: describeError(error) }, message)));
  return Promise.resolve();
}

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
