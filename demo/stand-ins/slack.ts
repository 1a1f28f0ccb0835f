import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { REQUIRED_SCOPES } from '../../src/adapters/slack/slack-check';

/**
 * A stand-in for the Slack Web API over real HTTP on 127.0.0.1 and an ephemeral port. The bot's
 * WebClient is pointed at it with `slackApiUrl: standIn.apiUrl`; it records every call and answers
 * the methods hallpass uses the way Slack does (HTTP 200 with `{ ok, … }`, `{ ok: false, error }`
 * on failure). Messages and views are kept, so `chat.update` of an unknown message fails like
 * Slack's and tests can read a message's current state.
 */

/** One recorded call. `args` has JSON-string fields (`blocks`, `view`, …) decoded. */
export type SlackCall = {
  readonly method: string;
  readonly args: Record<string, unknown>;
  /** Time of arrival (`now` of the options; for ordering and debugging; tests never assert on it). */
  readonly at: Date;
  /** False when the stand-in answered with an error (a `failNext` or a bad argument). */
  readonly ok: boolean;
  /** The bearer token the caller sent, if any. */
  readonly token?: string | undefined;
  /** What the stand-in answered (absent for a call held or dropped): e.g. the id of a view `views.open` made. */
  readonly answer?: Record<string, unknown> | undefined;
};

export type SlackStandInOptions = {
  /** The time calls are stamped with (`SlackCall.at`): the demo's skip-ahead clock. The system clock when absent. */
  readonly now?: () => Date;
};

/** A user group as `usergroups.list` reports it; `handle` is without `@`. */
export type SlackGroup = { readonly id: string; readonly handle: string; readonly users: readonly string[] };

/**
 * What `users.info` says about a user besides their email. Unset fields are those of a full member of
 * the stand-in's workspace (`STAND_IN_BOT.teamId`), which is what every user is by default.
 */
export type StandInUser = {
  /** The user's own workspace (`team_id`). */
  readonly teamId?: string;
  /** The user's organisation (`enterprise_user.enterprise_id`), and its workspaces they are in. */
  readonly enterpriseId?: string;
  readonly teams?: readonly string[];
  /** A multi-channel guest (`is_restricted`). */
  readonly restricted?: boolean;
  /** A single-channel guest (`is_ultra_restricted`). */
  readonly ultraRestricted?: boolean;
  /** `is_stranger`: Slack says the user belongs elsewhere. */
  readonly stranger?: boolean;
  /** Deactivated (`deleted`). */
  readonly deleted?: boolean;
  /** Leaves `is_restricted` and `is_ultra_restricted` out of the answer: Slack does not say. */
  readonly guestUnsaid?: boolean;
  /** Answers `users.info` for this user with this Slack error instead (`user_not_found`, …). */
  readonly error?: string;
};

/** A failure to inject: a Slack error code (`ok: false`, HTTP 200) or an HTTP status (429 carries `Retry-After`). */
export type SlackFailure = string | { readonly status: number; readonly retryAfter?: number };

/**
 * A file uploaded the way `files.uploadV2` does it: `files.getUploadURLExternal` hands out an upload
 * URL on this stand-in, the bytes are posted there, `files.completeUploadExternal` shares the file.
 */
export type StoredUpload = {
  readonly fileId: string;
  /** As given to `files.getUploadURLExternal`. */
  readonly filename: string;
  /** The byte length the uploader announced. */
  readonly length: number;
  /** The bytes posted to the upload URL (undefined until then). */
  readonly content?: Buffer | undefined;
  /** Set by `files.completeUploadExternal`. */
  readonly completed: boolean;
  readonly title?: string | undefined;
  readonly channelId?: string | undefined;
  readonly initialComment?: string | undefined;
};

/** A message as it stands now (after any `chat.update`). */
export type StoredMessage = {
  readonly channel: string;
  readonly ts: string;
  readonly text: string;
  readonly blocks: unknown[];
  readonly threadTs?: string | undefined;
};

export interface SlackStandIn {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `http://127.0.0.1:<port>/api/` — give it to the WebClient as `slackApiUrl`. */
  readonly apiUrl: string;
  /** Every call so far, in arrival order (response_url posts appear with method `response_url`). */
  readonly calls: readonly SlackCall[];
  callsTo(method: string): SlackCall[];
  /** The user groups `usergroups.list` / `usergroups.users.list` answer with. */
  setGroups(groups: readonly SlackGroup[]): void;
  /**
   * The scopes every successful answer reports in its `x-oauth-scopes` header, as Slack does (default:
   * those of manifest.yml); `undefined` sends no header.
   */
  setScopes(scopes: readonly string[] | undefined): void;
  /**
   * What `conversations.info` says of a channel (default: any C…/G… id is a public channel the bot is
   * in); `'missing'` answers `channel_not_found`, as Slack does for a private channel the bot is not in.
   */
  setChannel(
    id: string,
    channel: { isPrivate?: boolean; isMember?: boolean; name?: string } | 'missing',
  ): void;
  /** The email `users.info` reports for a user (absent otherwise, as for a bot or a missing scope); `undefined` removes it. */
  setEmail(userId: string, email: string | undefined): void;
  /** What `users.info` reports about a user: a guest, someone of another workspace, … (replaces earlier settings). */
  setUser(userId: string, user: StandInUser): void;
  /** The WebSocket URL `apps.connections.open` hands out (a fake Socket Mode server); unset, it answers `invalid_auth`. */
  setSocketModeUrl(url: string): void;
  /** Makes the next call to `method` fail; queue several by calling again. */
  failNext(method: string, failure: SlackFailure): void;
  /**
   * Slack having a bad day: until `restore()`, every call to `methods` (all Web API methods when
   * absent) fails with `failure`; with `'hang'` is never answered at all (the call is recorded as
   * not ok and its connection held open; `restore()` drops it unanswered, so it is never processed);
   * with `'drop'` has its connection cut at once (a network failure: the caller sees a reset).
   */
  outage(failure: SlackFailure | 'hang' | 'drop', methods?: readonly string[]): void;
  /** Ends the outage: calls are answered normally again, and held connections are dropped. */
  restore(): void;
  /** How many calls are being held unanswered right now. */
  hanging(): number;
  /** A fresh `response_url` served by this stand-in; posts to it are recorded. */
  responseUrl(): string;
  /** The current state of a posted message, or undefined. */
  message(channel: string, ts: string): StoredMessage | undefined;
  /** Messages posted so far (current state), oldest first; `channel` narrows to one channel. */
  messages(channel?: string): StoredMessage[];
  /** Files uploaded so far, in the order their upload URLs were handed out. */
  uploads(): StoredUpload[];
  /** The Home view last published for a user. */
  homeOf(userId: string): Record<string, unknown> | undefined;
  /** Forgets calls, queued failures, messages and views; keeps groups, emails and users. */
  reset(): void;
  /**
   * Resolves with the first truthy value `predicate` returns over the recorded calls, checked on
   * every new call and on a short real interval; rejects after `timeoutMs`. For awaiting
   * asynchronous work the app does after acking — never for letting time pass.
   */
  waitFor<T>(
    predicate: (
      calls: readonly SlackCall[],
    ) => T | undefined | null | false | PromiseLike<T | undefined | null | false>,
    timeoutMs?: number,
  ): Promise<T>;
  close(): Promise<void>;
}

/** Who `auth.test` says the bot is. */
export const STAND_IN_BOT = { userId: 'U0HALLPASSBOT', botId: 'B0HALLPASS', teamId: 'T0HALLPASS' } as const;

const JSON_FIELDS = ['blocks', 'view', 'attachments', 'metadata', 'files'] as const;
/** One field of a decoded body (a function, so callers may name the key literally under noPropertyAccessFromIndexSignature). */
const at = (o: Record<string, unknown>, k: string): unknown => o[k];
const list = (v: unknown): unknown[] | undefined => (Array.isArray(v) ? v : undefined);
/** First ts the stand-in hands out; each message adds 100 µs. */
const TS_EPOCH_SECONDS = 1_700_000_000;

type Answer = { status: number; body: Record<string, unknown>; headers?: Record<string, string> };
const okAnswer = (body: Record<string, unknown> = {}): Answer => ({
  status: 200,
  body: { ok: true, ...body },
});
const errAnswer = (error: string): Answer => ({ status: 200, body: { ok: false, error } });

export async function startSlackStandIn(opts: SlackStandInOptions = {}): Promise<SlackStandIn> {
  const now = opts.now ?? (() => new Date());
  const calls: SlackCall[] = [];
  const listeners = new Set<() => void>();
  const failures = new Map<string, SlackFailure[]>();
  const messages = new Map<string, StoredMessage>();
  const views = new Map<string, Record<string, unknown>>();
  const homes = new Map<string, Record<string, unknown>>();
  const uploads = new Map<string, StoredUpload>();
  let groups: readonly SlackGroup[] = [];
  // What a correctly installed app has: the bot scopes of manifest.yml.
  let scopes: readonly string[] | undefined = REQUIRED_SCOPES;
  const channels = new Map<string, { isPrivate?: boolean; isMember?: boolean; name?: string } | 'missing'>();
  const emails = new Map<string, string>();
  const people = new Map<string, StandInUser>();
  let socketModeUrl: string | undefined;
  let seq = 0;
  let outageNow:
    | { failure: SlackFailure | 'hang' | 'drop'; methods?: readonly string[] | undefined }
    | undefined;
  const held = new Set<ServerResponse>();

  const nextTs = (): string => {
    seq += 1;
    const micros = seq * 100;
    const seconds = TS_EPOCH_SECONDS + Math.floor(micros / 1_000_000);
    return `${seconds}.${String(micros % 1_000_000).padStart(6, '0')}`;
  };
  const nextId = (prefix: string): string => {
    seq += 1;
    return `${prefix}${String(seq).padStart(8, '0')}`;
  };
  const key = (channel: string, ts: string): string => `${channel}:${ts}`;
  /** Posting to a user id lands in the DM with that user, as Slack does. */
  const dmOf = (userId: string): string => `D${userId.slice(1)}`;
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const truthy = (v: unknown): boolean => v === true || v === 'true' || v === '1';

  const record = (call: SlackCall): void => {
    calls.push(call);
    for (const l of [...listeners]) l();
  };

  function storeView(
    viewArg: unknown,
    id: string,
    extra: Record<string, unknown> = {},
  ): Record<string, unknown> {
    const view = typeof viewArg === 'object' && viewArg !== null ? (viewArg as Record<string, unknown>) : {};
    const stored = {
      ...view,
      id,
      team_id: STAND_IN_BOT.teamId,
      state: { values: {} },
      hash: `${TS_EPOCH_SECONDS}.${id}`,
      app_id: 'A0HALLPASS',
      bot_id: STAND_IN_BOT.botId,
      external_id: str(at(view, 'external_id')) ?? '',
      ...extra,
    };
    views.set(id, stored);
    return stored;
  }

  const methods: Record<string, (a: Record<string, unknown>) => Answer> = {
    'apps.connections.open': () =>
      socketModeUrl === undefined ? errAnswer('invalid_auth') : okAnswer({ url: socketModeUrl }),
    'auth.test': () =>
      okAnswer({
        url: 'https://hallpass-test.slack.com/',
        team: 'hallpass test',
        user: 'hallpass',
        team_id: STAND_IN_BOT.teamId,
        user_id: STAND_IN_BOT.userId,
        bot_id: STAND_IN_BOT.botId,
      }),
    'conversations.info': (a) => {
      const id = str(at(a, 'channel'));
      const known = id === undefined ? 'missing' : channels.get(id);
      if (id === undefined || known === 'missing' || (known === undefined && !/^[CG][A-Z0-9]+$/.test(id)))
        return errAnswer('channel_not_found');
      const isPrivate = known?.isPrivate ?? false;
      return okAnswer({
        channel: {
          id,
          name: known?.name ?? id.toLowerCase(),
          is_channel: !isPrivate,
          is_group: isPrivate,
          is_private: isPrivate,
          is_archived: false,
          is_member: known?.isMember ?? true,
        },
      });
    },
    'chat.postMessage': (a) => {
      const target = str(at(a, 'channel'));
      if (target === undefined) return errAnswer('channel_not_found');
      if (str(at(a, 'text')) === undefined && list(at(a, 'blocks')) === undefined)
        return errAnswer('no_text');
      const channel = /^[UW]/.test(target) ? dmOf(target) : target;
      const ts = nextTs();
      const message: StoredMessage = {
        channel,
        ts,
        text: str(at(a, 'text')) ?? '',
        blocks: list(at(a, 'blocks')) ?? [],
        threadTs: str(at(a, 'thread_ts')),
      };
      messages.set(key(channel, ts), message);
      return okAnswer({
        channel,
        ts,
        message: {
          type: 'message',
          ts,
          text: message.text,
          blocks: message.blocks,
          bot_id: STAND_IN_BOT.botId,
        },
      });
    },
    'chat.update': (a) => {
      const channel = str(at(a, 'channel'));
      const ts = str(at(a, 'ts'));
      if (channel === undefined) return errAnswer('channel_not_found');
      const existing = ts === undefined ? undefined : messages.get(key(channel, ts));
      if (existing === undefined || ts === undefined) return errAnswer('message_not_found');
      const updated: StoredMessage = {
        ...existing,
        text: str(at(a, 'text')) ?? existing.text,
        blocks: list(at(a, 'blocks')) ?? existing.blocks,
      };
      messages.set(key(channel, ts), updated);
      return okAnswer({
        channel,
        ts,
        text: updated.text,
        message: { text: updated.text, blocks: updated.blocks },
      });
    },
    'chat.postEphemeral': (a) => {
      if (str(at(a, 'channel')) === undefined) return errAnswer('channel_not_found');
      if (str(at(a, 'user')) === undefined) return errAnswer('user_not_found');
      return okAnswer({ message_ts: nextTs() });
    },
    'views.open': (a) => {
      if (str(at(a, 'trigger_id')) === undefined) return errAnswer('invalid_arguments');
      if (at(a, 'view') === undefined) return errAnswer('invalid_arguments');
      const id = nextId('V');
      return okAnswer({ view: storeView(at(a, 'view'), id, { root_view_id: id, previous_view_id: null }) });
    },
    'views.update': (a) => {
      const externalId = str(at(a, 'external_id'));
      const byExternal = [...views.values()].find(
        (v) => externalId !== undefined && at(v, 'external_id') === externalId,
      );
      const viewId =
        str(at(a, 'view_id')) ?? (byExternal === undefined ? undefined : str(at(byExternal, 'id')));
      if (viewId === undefined || !views.has(viewId)) return errAnswer('not_found');
      const previous = views.get(viewId) ?? {};
      return okAnswer({
        view: storeView(at(a, 'view'), viewId, { root_view_id: at(previous, 'root_view_id') ?? viewId }),
      });
    },
    'views.publish': (a) => {
      const userId = str(at(a, 'user_id'));
      if (userId === undefined) return errAnswer('invalid_arguments');
      const view = storeView(at(a, 'view'), nextId('V'));
      homes.set(userId, view);
      return okAnswer({ view });
    },
    'files.getUploadURLExternal': (a) => {
      const filename = str(at(a, 'filename'));
      const length = Number(at(a, 'length'));
      if (filename === undefined || !Number.isInteger(length) || length < 0)
        return errAnswer('invalid_arguments');
      const fileId = nextId('F');
      uploads.set(fileId, { fileId, filename, length, completed: false });
      return okAnswer({ upload_url: `${url}/upload/${fileId}`, file_id: fileId });
    },
    'files.completeUploadExternal': (a) => {
      const files = list(at(a, 'files'));
      if (files === undefined || files.length === 0) return errAnswer('invalid_arguments');
      const done: Record<string, unknown>[] = [];
      for (const f of files) {
        const entry = typeof f === 'object' && f !== null ? (f as Record<string, unknown>) : {};
        const fileId = str(at(entry, 'id'));
        const upload = fileId === undefined ? undefined : uploads.get(fileId);
        if (upload === undefined || upload.content === undefined) return errAnswer('file_not_found');
        const completed: StoredUpload = {
          ...upload,
          completed: true,
          title: str(at(entry, 'title')),
          channelId: str(at(a, 'channel_id')),
          initialComment: str(at(a, 'initial_comment')),
        };
        uploads.set(upload.fileId, completed);
        done.push({ id: upload.fileId, name: upload.filename, title: completed.title ?? upload.filename });
      }
      return okAnswer({ files: done });
    },
    'conversations.open': (a) => {
      const users = str(at(a, 'users'))?.split(',') ?? [];
      const first = users[0];
      if (first === undefined || users.length !== 1)
        return errAnswer(first === undefined ? 'users_list_not_supplied' : 'not_supported');
      return okAnswer({ channel: { id: dmOf(first) } });
    },
    'users.info': (a) => {
      const userId = str(at(a, 'user'));
      if (userId === undefined || !/^[UW]/.test(userId)) return errAnswer('user_not_found');
      const email = emails.get(userId);
      const person = people.get(userId) ?? {};
      if (person.error !== undefined) return errAnswer(person.error);
      const name = userId.toLowerCase();
      return okAnswer({
        user: {
          id: userId,
          team_id: person.teamId ?? STAND_IN_BOT.teamId,
          name,
          real_name: name,
          deleted: person.deleted ?? false,
          is_bot: false,
          ...(person.guestUnsaid === true
            ? {}
            : {
                is_restricted: person.restricted ?? false,
                is_ultra_restricted: person.ultraRestricted ?? false,
              }),
          ...(person.stranger === true ? { is_stranger: true } : {}),
          ...(person.enterpriseId === undefined
            ? {}
            : {
                enterprise_user: {
                  id: userId,
                  enterprise_id: person.enterpriseId,
                  enterprise_name: 'stand-in org',
                  is_admin: false,
                  is_owner: false,
                  teams: [...(person.teams ?? [person.teamId ?? STAND_IN_BOT.teamId])],
                },
              }),
          profile: { real_name: name, display_name: name, ...(email === undefined ? {} : { email }) },
        },
      });
    },
    // Everyone the stand-in knows of (emails, users, group members), named after their id in lowercase, as users.info does.
    'users.list': () => {
      const ids = new Set([...emails.keys(), ...people.keys(), ...groups.flatMap((g) => g.users)]);
      return okAnswer({
        members: [...ids].map((id) => ({
          id,
          name: id.toLowerCase(),
          deleted: people.get(id)?.deleted ?? false,
          profile: { display_name: id.toLowerCase(), display_name_normalized: id.toLowerCase() },
        })),
        response_metadata: { next_cursor: '' },
      });
    },
    'usergroups.list': (a) => {
      const withUsers = truthy(at(a, 'include_users'));
      return okAnswer({
        usergroups: groups.map((g) => ({
          id: g.id,
          team_id: STAND_IN_BOT.teamId,
          is_usergroup: true,
          name: g.handle,
          handle: g.handle,
          description: '',
          date_delete: 0,
          user_count: g.users.length,
          ...(withUsers ? { users: [...g.users] } : {}),
        })),
      });
    },
    'usergroups.users.list': (a) => {
      const group = groups.find((g) => g.id === at(a, 'usergroup'));
      return group === undefined ? errAnswer('no_such_subteam') : okAnswer({ users: [...group.users] });
    },
  };

  function answer(method: string, args: Record<string, unknown>, token: string | undefined): Answer {
    const queued = failures.get(method);
    const failure = queued?.shift() ?? outageFailure(method);
    if (failure !== undefined) {
      if (typeof failure === 'string') return errAnswer(failure);
      const headers: Record<string, string> =
        failure.status === 429 ? { 'Retry-After': String(failure.retryAfter ?? 0) } : {};
      return { status: failure.status, body: { ok: false, error: `http_${failure.status}` }, headers };
    }
    const handler = methods[method];
    if (handler === undefined) return errAnswer('unknown_method');
    if (token === undefined) return errAnswer('not_authed');
    const answered = handler(args);
    // Slack reports the token's scopes on every Web API answer.
    return scopes === undefined || !answered.body['ok']
      ? answered
      : { ...answered, headers: { 'x-oauth-scopes': scopes.join(','), ...answered.headers } };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://stand-in').pathname;
    const send = (a: Answer): void => {
      res.writeHead(a.status, { 'Content-Type': 'application/json; charset=utf-8', ...a.headers });
      res.end(JSON.stringify(a.body));
    };
    if (req.method !== 'POST') return send({ status: 405, body: { ok: false, error: 'method_not_allowed' } });
    const raw = await readBody(req);

    const upload = /^\/upload\/([A-Z0-9]+)$/.exec(path);
    if (upload !== null) {
      const existing = uploads.get(upload[1] ?? '');
      if (existing === undefined) return send({ status: 404, body: { ok: false, error: 'file_not_found' } });
      const content = await uploadedBytes(raw, req.headers['content-type'] ?? '');
      uploads.set(existing.fileId, { ...existing, content });
      record({
        method: 'upload',
        args: { file_id: existing.fileId, length: content.length },
        at: now(),
        ok: true,
      });
      // Slack's upload endpoint answers in plain text.
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(`OK - ${content.length}`);
      return;
    }

    const args = parseBody(raw.toString('utf8'), req.headers['content-type'] ?? '');

    const response = /^\/response\/([^/]+)$/.exec(path);
    if (response !== null) {
      record({
        method: 'response_url',
        args: { ...args, response_id: response[1] },
        at: now(),
        ok: true,
      });
      return send(okAnswer());
    }
    const api = /^\/api\/([A-Za-z0-9._]+)$/.exec(path);
    if (api === null || api[1] === undefined)
      return send({ status: 404, body: { ok: false, error: 'not_found' } });
    const method = api[1];
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ?? str(at(args, 'token'));
    const { token: _dropped, ...rest } = args;
    const cut = outageNow?.failure === 'hang' || outageNow?.failure === 'drop' ? outageNow : undefined;
    if (cut !== undefined && (cut.methods === undefined || cut.methods.includes(method))) {
      record({ method, args: rest, at: now(), ok: false, token });
      if (cut.failure === 'drop') {
        res.destroy();
        return;
      }
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    const a = answer(method, rest, token);
    record({
      method,
      args: rest,
      at: now(),
      ok: a.status === 200 && at(a.body, 'ok') === true,
      token,
      answer: a.body,
    });
    send(a);
  }

  /** The failure an ongoing outage gives this method, if any ('hang' is handled before answering). */
  function outageFailure(method: string): SlackFailure | undefined {
    if (outageNow === undefined || outageNow.failure === 'hang' || outageNow.failure === 'drop')
      return undefined;
    return outageNow.methods === undefined || outageNow.methods.includes(method)
      ? outageNow.failure
      : undefined;
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ ok: false, error: 'stand_in_failure', detail: String(e) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  let responseSeq = 0;

  return {
    url,
    apiUrl: `${url}/api/`,
    get calls() {
      return calls;
    },
    callsTo: (method) => calls.filter((c) => c.method === method),
    setGroups: (g) => {
      groups = g.map((x) => ({ ...x, users: [...x.users] }));
    },
    setScopes: (list) => {
      scopes = list === undefined ? undefined : [...list];
    },
    setChannel: (id, channel) => {
      channels.set(id, channel);
    },
    setEmail: (userId, email) => {
      if (email === undefined) emails.delete(userId);
      else emails.set(userId, email);
    },
    setUser: (userId, user) => {
      people.set(userId, user);
    },
    setSocketModeUrl: (u) => {
      socketModeUrl = u;
    },
    failNext: (method, failure) => {
      failures.set(method, [...(failures.get(method) ?? []), failure]);
    },
    outage: (failure, methods) => {
      outageNow = { failure, methods };
    },
    restore: () => {
      outageNow = undefined;
      for (const res of held) res.destroy();
      held.clear();
    },
    hanging: () => held.size,
    responseUrl: () => {
      responseSeq += 1;
      return `${url}/response/r${responseSeq}`;
    },
    message: (channel, ts) => messages.get(key(channel, ts)),
    messages: (channel) =>
      [...messages.values()].filter((m) => channel === undefined || m.channel === channel),
    uploads: () => [...uploads.values()],
    homeOf: (userId) => homes.get(userId),
    reset: () => {
      calls.length = 0;
      failures.clear();
      messages.clear();
      views.clear();
      homes.clear();
      uploads.clear();
    },
    waitFor: (predicate, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        let finished = false;
        const finish = (): void => {
          finished = true;
          clearInterval(interval);
          clearTimeout(timer);
          listeners.delete(check);
        };
        /** A predicate that reads the database answers asynchronously: one check at a time. */
        let checking = false;
        async function check(): Promise<void> {
          if (finished || checking) return;
          checking = true;
          try {
            const value = await predicate(calls);
            if (!finished && value !== undefined && value !== null && value !== false) {
              finish();
              resolve(value);
            }
          } catch (e) {
            if (!finished) {
              finish();
              reject(e);
            }
          } finally {
            checking = false;
          }
        }
        const interval = setInterval(check, 10);
        const timer = setTimeout(() => {
          finish();
          const seen = calls.map((c) => c.method).join(', ') || 'none';
          reject(new Error(`waitFor: condition not met within ${timeoutMs} ms; calls so far: ${seen}`));
        }, timeoutMs);
        listeners.add(check);
        void check();
      }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e === undefined ? resolve() : reject(e)));
        server.closeAllConnections();
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

/** The file in an upload: the WebClient posts it as multipart form data; a raw body is taken as is. */
async function uploadedBytes(raw: Buffer, contentType: string): Promise<Buffer> {
  if (!contentType.startsWith('multipart/form-data')) return raw;
  const form = await new Response(new Uint8Array(raw), {
    headers: { 'content-type': contentType },
  }).formData();
  for (const value of form.values()) {
    if (typeof value !== 'string') return Buffer.from(await value.arrayBuffer());
  }
  return Buffer.alloc(0);
}

/** Form or JSON body → args, with the JSON-string fields the WebClient encodes decoded back. */
function parseBody(raw: string, contentType: string): Record<string, unknown> {
  let args: Record<string, unknown> = {};
  if (contentType.startsWith('application/json')) {
    const parsed: unknown = raw === '' ? {} : JSON.parse(raw);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      args = parsed as Record<string, unknown>;
  } else {
    args = Object.fromEntries(new URLSearchParams(raw));
  }
  for (const field of JSON_FIELDS) {
    const v = args[field];
    if (typeof v === 'string') {
      try {
        args[field] = JSON.parse(v);
      } catch {
        // Left as sent: Slack would reject it, and the test can see what was sent.
      }
    }
  }
  return args;
}
