import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import ts from 'typescript';
import type { Hallpass } from '../src/compose';
import type { SkipClock } from './clock';
import { CHANNELS, GROUPS, SECURITY_GROUPS, USERS } from './sample';
import type { FakeEc2 } from './stand-ins/ec2';
import {
  blockActionsBody,
  buttonClick,
  postToApp,
  slashCommandBody,
  triggerId,
  viewSubmission,
  viewSubmissionBody,
} from './stand-ins/signing';
import type { SlackCall, SlackStandIn } from './stand-ins/slack';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** One message as the page shows it: current text and blocks, when it was posted on the demo's clock. */
type PageMessage = {
  readonly ts: string;
  readonly at: string;
  readonly text: string;
  readonly blocks: unknown[];
  readonly ephemeral?: boolean;
  readonly replies?: PageMessage[];
};

export type PageServerOptions = {
  readonly port: number;
  /** hallpass's `POST /slack/events`. */
  readonly botUrl: string;
  readonly signingSecret: string;
  readonly hallpass: Hallpass;
  readonly slack: SlackStandIn;
  readonly ec2: FakeEc2;
  readonly clock: SkipClock;
};

const PAGE_DIR = path.join(__dirname, 'page');
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/** The Block Kit renderer is TypeScript (unit-tested as such); the browser gets it as a module, transpiled once here. */
function renderModule(): string {
  const source = readFileSync(path.join(PAGE_DIR, 'render.ts'), 'utf8');
  return ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
  }).outputText;
}

/**
 * The demo page and the little API behind it: what each sample user would see (read from the Slack
 * stand-in and the EC2 stand-in), and what they do, posted to hallpass signed exactly as Slack posts it.
 */
export async function startPageServer(
  o: PageServerOptions,
): Promise<{ url: string; close(): Promise<void> }> {
  const render = renderModule();
  let seq = 0;
  const responseUrl = (user: string) => `${o.slack.url}/response/${user}-${++seq}`;
  /** Trigger ids handed out with each command and click, to know whose modal `views.open` opened. */
  const triggers = new Map<string, string>();
  /** Each user's open modal: its view id, or a view hallpass answered a submission with (`response_action: update`). */
  const modals = new Map<string, { id: string; replaced?: Json }>();
  /** Answers hallpass gave in the HTTP response itself (an `ack` with text): only the user sees them. */
  const acks: { user: string; at: string; text: string; blocks: unknown[] }[] = [];
  let seen = 0;

  /** When hallpass's due work (ends, warnings, timeouts) comes due next, per kind. */
  const dueTimes = async (): Promise<Date[]> =>
    (await o.hallpass.useCases.dueWork.nextDue()).filter((d): d is Date => d !== undefined);

  const newTrigger = (user: string): string => {
    const t = triggerId();
    triggers.set(t, user);
    return t;
  };

  /** Reads the calls made since last time: which modal opened for whom. */
  const follow = (): void => {
    const calls = o.slack.calls;
    for (; seen < calls.length; seen++) {
      const c = calls[seen];
      if (c?.method !== 'views.open' || !c.ok) continue;
      const user = triggers.get(str(c.args['trigger_id']));
      const id = str(obj(obj(c.answer)['view'])['id']);
      if (user !== undefined && id !== '') modals.set(user, { id });
    }
  };

  const viewOf = (id: string): Json | undefined => {
    const last = [...o.slack.calls]
      .reverse()
      .find(
        (c) =>
          (c.method === 'views.open' || c.method === 'views.update') &&
          c.ok &&
          str(obj(obj(c.answer)['view'])['id']) === id,
      );
    return last === undefined ? undefined : obj(obj(last.answer)['view']);
  };

  const postedAt = (): Map<string, string> => {
    const at = new Map<string, string>();
    for (const c of o.slack.callsTo('chat.postMessage'))
      if (c.ok) at.set(`${str(obj(c.answer)['channel'])}:${str(obj(c.answer)['ts'])}`, c.at.toISOString());
    return at;
  };

  const threaded = (channel: string, at: Map<string, string>): PageMessage[] => {
    const all = o.slack.messages(channel).map((m) => ({
      ts: m.ts,
      at: at.get(`${channel}:${m.ts}`) ?? '',
      text: m.text,
      blocks: m.blocks,
      threadTs: m.threadTs,
    }));
    return all
      .filter((m) => m.threadTs === undefined || m.threadTs === m.ts)
      .map(({ threadTs: _t, ...m }) => ({
        ...m,
        replies: all.filter((r) => r.threadTs === m.ts && r.ts !== m.ts).map(({ threadTs: _r, ...r }) => r),
      }));
  };

  const privateTo = (user: string, at: Map<string, string>): PageMessage[] => {
    const dm = `D${user.slice(1)}`;
    const ephemeral = (c: SlackCall): PageMessage => ({
      ts: '',
      at: c.at.toISOString(),
      text: str(c.args['text']),
      blocks: arr(c.args['blocks']),
      ephemeral: true,
    });
    const list: PageMessage[] = [
      ...threaded(dm, at),
      ...o.slack
        .callsTo('chat.postEphemeral')
        .filter((c) => c.ok && c.args['user'] === user)
        .map(ephemeral),
      ...o.slack
        .callsTo('response_url')
        .filter((c) => str(c.args['response_id']).startsWith(`${user}-`))
        .map(ephemeral),
      ...acks.filter((a) => a.user === user).map((a) => ({ ...a, ts: '', ephemeral: true })),
    ];
    return list.sort((a, b) => a.at.localeCompare(b.at));
  };

  const state = async (user: string): Promise<Json> => {
    follow();
    const at = postedAt();
    const modal = modals.get(user);
    const due = await dueTimes();
    const next = due.length === 0 ? undefined : new Date(Math.min(...due.map((d) => d.getTime())));
    return {
      now: o.clock.now().toISOString(),
      offsetMs: o.clock.offsetMs(),
      nextDue: next?.toISOString() ?? null,
      users: USERS,
      groups: GROUPS.map((g) => ({ id: g.id, handle: g.handle })),
      channels: CHANNELS.map((c) => ({ ...c, messages: threaded(c.id, at) })),
      private: privateTo(user, at),
      home: o.slack.homeOf(user) ?? null,
      modal: modal === undefined ? null : { id: modal.id, view: modal.replaced ?? viewOf(modal.id) ?? null },
      rules: SECURITY_GROUPS.map((groupId) => ({
        groupId,
        rules: o.ec2.rules(groupId).map((r) => ({
          id: r.id,
          protocol: r.protocol,
          ports: r.fromPort === r.toPort ? String(r.fromPort) : `${r.fromPort}-${r.toPort}`,
          cidr: r.cidr,
          description: r.description ?? '',
          expiresAt: r.tags['hallpass:expires-at'] ?? '',
        })),
      })),
    };
  };

  /** Posts a signed body to hallpass like Slack; an answer with text in it is a reply only `user` sees. */
  const send = async (user: string, body: string, contentType?: string): Promise<Json> => {
    const res = await postToApp(o.botUrl, body, {
      secret: o.signingSecret,
      ...(contentType === undefined ? {} : { contentType }),
    });
    let answer: Json = {};
    try {
      answer = res.body === '' ? {} : obj(JSON.parse(res.body));
    } catch {
      answer = { text: res.body };
    }
    if (str(answer['text']) !== '' || arr(answer['blocks']).length > 0)
      acks.push({
        user,
        at: o.clock.now().toISOString(),
        text: str(answer['text']),
        blocks: arr(answer['blocks']),
      });
    // What the command started (cards, notices, Home) is out before the page looks again.
    await o.hallpass.settled();
    return { status: res.status, answer };
  };

  const knownUser = (v: unknown): string => {
    const id = str(v);
    if (!USERS.some((u) => u.id === id)) throw new BadRequest('unknown user');
    return id;
  };

  const actions: Record<string, (b: Json) => Promise<Json>> = {
    command: (b) => {
      const user = knownUser(b['user']);
      const channel = str(b['channel']) || CHANNELS[0].id;
      return send(
        user,
        slashCommandBody({
          user_id: user,
          user_name: USERS.find((u) => u.id === user)?.name ?? user,
          text: str(b['text']).replace(/^\s*\/access\b\s*/, ''),
          channel_id: channel,
          channel_name: CHANNELS.find((c) => c.id === channel)?.name ?? 'direct-message',
          response_url: responseUrl(user),
          trigger_id: newTrigger(user),
        }),
      );
    },
    click: (b) => {
      const user = knownUser(b['user']);
      const base = buttonClick({
        userId: user,
        actionId: str(b['actionId']),
        value: str(b['value']),
        blockId: str(b['blockId']),
        text: str(b['text']),
        channel: str(b['channel']),
        messageTs: str(b['ts']),
        triggerId: newTrigger(user),
        responseUrl: responseUrl(user),
      });
      // On the Home tab Slack names the view, not a message or channel, and gives no response_url.
      const payload =
        b['surface'] === 'home'
          ? (({ channel: _c, message: _m, response_url: _r, ...rest }) => ({
              ...rest,
              container: { type: 'view', view_id: str(b['viewId']) },
              view: { id: str(b['viewId']), type: 'home', ...(o.slack.homeOf(user) ?? {}) },
            }))(base)
          : {
              ...base,
              container: { ...base.container, is_ephemeral: b['ephemeral'] === true },
              message: { ...base.message, text: str(b['messageText']), blocks: arr(b['messageBlocks']) },
            };
      return send(user, blockActionsBody(payload));
    },
    submit: async (b) => {
      const user = knownUser(b['user']);
      const open = modals.get(user);
      const view = open === undefined ? undefined : (open.replaced ?? viewOf(open.id));
      if (open === undefined || view === undefined) throw new BadRequest('no modal is open');
      const result = await send(
        user,
        viewSubmissionBody(
          viewSubmission({
            userId: user,
            callbackId: str(view['callback_id']),
            privateMetadata: str(view['private_metadata']),
            values: obj(b['values']) as Record<string, Record<string, unknown>>,
            viewId: open.id,
            triggerId: newTrigger(user),
          }),
        ),
      );
      const answer = obj(result['answer']);
      const action = str(answer['response_action']);
      if (action === 'update') modals.set(user, { id: open.id, replaced: obj(answer['view']) });
      else if (action !== 'errors') modals.delete(user);
      return result;
    },
    close: async (b) => {
      modals.delete(knownUser(b['user']));
      return {};
    },
    home: (b) => {
      const user = knownUser(b['user']);
      return send(
        user,
        JSON.stringify({
          token: 'legacy-verification-token',
          team_id: 'T0HALLPASS',
          api_app_id: 'A0HALLPASS',
          type: 'event_callback',
          event_id: `Ev${++seq}`,
          event_time: Math.floor(Date.now() / 1000),
          event: {
            type: 'app_home_opened',
            user,
            channel: `D${user.slice(1)}`,
            tab: 'home',
            event_ts: `${Date.now() / 1000}`,
          },
        }),
        'application/json',
      );
    },
    skip: async (b) => {
      let ms = Number(b['ms']);
      if (b['to'] === 'next') {
        const due = await dueTimes();
        const next = Math.min(...due.map((d) => d.getTime()));
        ms = Number.isFinite(next) ? Math.max(0, next - o.clock.now().getTime()) + 1_000 : 0;
      }
      if (!Number.isFinite(ms) || ms < 0 || ms > 24 * 3_600_000)
        throw new BadRequest('skip: ms between 0 and 24 h');
      o.clock.skip(ms);
      // The timers already fire for the new time; the scheduler also re-reads what is due, and Home tabs show the new time.
      o.hallpass.scheduler.wake();
      o.hallpass.deliveries.wake();
      o.hallpass.home.changed();
      // The skip made timers due at once: let them fire, then wait for what they started, and go round
      // while work is still due (a close queues notices), so the page's next look shows the outcome.
      for (let round = 0; round < 20; round++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        await o.hallpass.settled();
        const now = o.clock.now().getTime();
        if (!(await dueTimes()).some((d) => d.getTime() <= now)) break;
      }
      return { now: o.clock.now().toISOString() };
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://demo');
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(body);
    };
    const json = (status: number, body: unknown) =>
      reply(status, 'application/json; charset=utf-8', JSON.stringify(body));
    const file = STATIC[url.pathname];
    if (req.method === 'GET' && file !== undefined)
      return reply(200, file.type, readFileSync(path.join(PAGE_DIR, file.file), 'utf8'));
    if (req.method === 'GET' && url.pathname === '/render.js')
      return reply(200, STATIC['/app.js']?.type ?? '', render);
    if (req.method === 'GET' && url.pathname === '/favicon.ico') return reply(204, 'image/x-icon', '');
    // No user named (a first visit): the first sample user.
    if (req.method === 'GET' && url.pathname === '/api/state')
      return json(200, await state(knownUser(url.searchParams.get('user') ?? USERS[0]?.id)));
    const action = /^\/api\/([a-z]+)$/.exec(url.pathname)?.[1];
    const run = action === undefined ? undefined : actions[action];
    if (req.method === 'POST' && run !== undefined) {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      return json(200, await run(obj(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'))));
    }
    json(404, { error: 'not found' });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.end();
        return;
      }
      res.writeHead(e instanceof BadRequest ? 400 : 500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new Error(
          e.code === 'EADDRINUSE'
            ? `DEMO_PORT: port ${o.port} is already in use; choose another, e.g. DEMO_PORT=4000 npm run demo`
            : `DEMO_PORT: could not listen on port ${o.port} (${e.message})`,
          { cause: e },
        ),
      ),
    );
    server.listen(o.port, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

class BadRequest extends Error {}
