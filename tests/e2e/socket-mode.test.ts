import { SLACK_LOG } from '../../src/adapters/slack/app';
import { LINK_LOG } from '../../src/adapters/slack/socket-links';
import {
  SOCKET_CHANNEL,
  type SocketModeBot,
  slashCommandEnvelope,
  startSocketModeBot,
} from '../support/socket-mode-bot';

/**
 * Socket Mode: the bot connects through `apps.connections.open` to a fake
 * Socket Mode server, which sends it garbage envelopes of every kind. None may reject unhandled
 * (Node 20 would stop the process); malformed envelopes carrying an id are acked so Slack does not
 * redeliver them; a valid command is still acked and answered. And a listener's Web API call is one
 * attempt: the socket client's own retry settings never reach the clients listeners get.
 */

describe('Socket Mode', () => {
  let bot: SocketModeBot;
  beforeEach(async () => {
    bot = await startSocketModeBot({ name: 'socket-mode-test' });
  });
  afterEach(async () => {
    await bot.close();
  });

  it('ignores garbage envelopes without an unhandled rejection, acks those with an id, and still answers a valid command', async () => {
    // The socket client opened its connection with the app token, not the bot token.
    expect(bot.slack.callsTo('apps.connections.open').map((c) => c.token)).toEqual([
      'xapp-1-socket-mode-test',
    ]);
    // Over HTTP only /healthz is served in Socket Mode: Slack's events come through the socket.
    const base = `http://127.0.0.1:${bot.hallpass.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/slack/events`, { method: 'POST', body: '{}' })).status).toBe(404);

    bot.socket.sendText('{ this is not json');
    bot.socket.sendText('null');
    bot.socket.sendText('[]');
    bot.socket.sendText('"a string"');
    bot.socket.sendBinary(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    bot.socket.sendText('{"type":"events_api"}');
    bot.socket.sendEnvelope({ type: 'events_api', envelope_id: 'g-no-payload' });
    bot.socket.sendEnvelope({
      type: 'events_api',
      envelope_id: 'g-no-event',
      payload: { type: 'event_callback' },
    });
    bot.socket.sendEnvelope({ type: 'events_api', envelope_id: 'g-event-null', payload: { event: null } });
    // Named like one of the socket client's own events: re-emitted as is, it would make the client reconnect.
    bot.socket.sendEnvelope({
      type: 'events_api',
      envelope_id: 'g-event-close',
      payload: { event: { type: 'close' } },
    });
    bot.socket.sendEnvelope({
      type: 'mystery',
      envelope_id: 'g-unknown-type',
      payload: { command: '/access' },
    });
    bot.socket.sendEnvelope({ type: 'slash_commands', envelope_id: 'g-garbage-command', payload: 'garbage' });
    bot.socket.sendEnvelope({ type: 'slash_commands', envelope_id: 'g-empty-command', payload: {} });
    bot.socket.sendEnvelope({ type: 'interactive', envelope_id: 'g-interactive', payload: [] });
    bot.socket.sendEnvelope({ envelope_id: 'g-no-type', payload: {} });

    for (const id of [
      'g-no-payload',
      'g-no-event',
      'g-event-null',
      'g-event-close',
      'g-unknown-type',
      'g-garbage-command',
      'g-empty-command',
      'g-interactive',
      'g-no-type',
    ]) {
      expect(await bot.socket.ackOf(id)).toEqual({ envelope_id: id, payload: {} });
    }

    const responseUrl = bot.slack.responseUrl();
    bot.socket.sendEnvelope(
      slashCommandEnvelope('e-help', { text: 'help', channel_id: SOCKET_CHANNEL, response_url: responseUrl }),
    );
    expect(await bot.socket.ackOf('e-help')).toMatchObject({ envelope_id: 'e-help' });
    const reply = await bot.slack.waitFor((calls) => calls.find((c) => c.method === 'response_url'));
    expect(String(reply.args['text'])).toContain('/access');
    await bot.hallpass.settled();
    // Rejections are reported after the microtasks of the turn that made them: let one more turn pass.
    await new Promise((resolve) => setImmediate(resolve));

    expect(bot.rejections).toEqual([]);
    expect(bot.logger.lines.filter((l) => l.msg === 'ignored a malformed Socket Mode message')).toHaveLength(
      15,
    );
  }, 20_000);

  it('hands a link over without a gap when Slack asks to refresh it: a command sent meanwhile is answered, a delivery seen twice is handled once, each ack goes back on its own link', async () => {
    const base = `http://127.0.0.1:${bot.hallpass.port}`;
    const healthz = async () => (await (await fetch(`${base}/healthz`)).json()) as Record<string, unknown>;
    const help = (envelopeId: string) => {
      const url = bot.slack.responseUrl();
      const envelope = slashCommandEnvelope(envelopeId, {
        text: 'help',
        channel_id: SOCKET_CHANNEL,
        response_url: url,
      });
      const answers = () =>
        bot.slack.callsTo('response_url').filter((c) => c.args['response_id'] === url.split('/').pop());
      return { envelope, answers };
    };
    const ackedOn = (envelopeId: string): number[] =>
      bot.socket.received.flatMap((m, i) =>
        m['envelope_id'] === envelopeId ? [bot.socket.receivedOn[i] ?? 0] : [],
      );
    expect(await healthz()).toMatchObject({ status: 'ok', socket: { state: 'up' } });

    // Slack warns that it will close link 1; a command arrives on it right after, during the hand-over.
    bot.socket.sendDisconnect('refresh_requested');
    const during = help('h-during');
    bot.socket.sendEnvelopeOn(1, during.envelope);

    // The replacement is opened while link 1 is still open: no moment without a link.
    await bot.socket.connectionsReach(2);
    expect(bot.socket.isOpen(1)).toBe(true);
    // The same envelope twice (Slack redelivering it): handled once.
    const twice = help('h-twice');
    bot.socket.sendEnvelopeOn(2, twice.envelope);
    bot.socket.sendEnvelopeOn(2, twice.envelope);
    // Link 1 is let go only once link 2 is up.
    await bot.socket.closedByClient(1);
    const after = help('h-after');
    bot.socket.sendEnvelopeOn(2, after.envelope);

    await bot.socket.ackOf('h-after');
    await bot.slack.waitFor(() =>
      after.answers().length > 0 && twice.answers().length > 0 ? true : undefined,
    );
    await bot.slack.waitFor(() => (during.answers().length > 0 ? true : undefined));
    await bot.hallpass.settled();
    expect(during.answers()).toHaveLength(1);
    expect(twice.answers()).toHaveLength(1);
    expect(after.answers()).toHaveLength(1);
    expect(ackedOn('h-during')).toEqual([1]);
    expect(ackedOn('h-twice')).toEqual([2, 2]);
    expect(ackedOn('h-after')).toEqual([2]);
    expect(bot.slack.callsTo('apps.connections.open')).toHaveLength(2);
    expect(bot.logger.lines.filter((l) => l.msg === LINK_LOG.handedOver)).toHaveLength(1);
    expect(bot.logger.lines.filter((l) => l.msg === LINK_LOG.duplicate)).toHaveLength(1);
    // A routine refresh is not a loss: nothing at warning or error level, and the link never went down.
    expect(bot.logger.lines.filter((l) => l.msg === SLACK_LOG.lost)).toEqual([]);
    expect(bot.logger.lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(await healthz()).toMatchObject({ status: 'ok', slack: 'ready', socket: { state: 'up' } });
    expect(bot.rejections).toEqual([]);
  }, 20_000);

  it('keeps the old link when its replacement cannot be opened, and reconnects once Slack closes it', async () => {
    bot.slack.outage('internal_error', ['apps.connections.open']);
    bot.socket.sendDisconnect('warning');
    await until(() => bot.logger.lines.find((l) => l.msg === LINK_LOG.handOverFailed), 5_000);
    // Still served on the old link meanwhile.
    const url = bot.slack.responseUrl();
    bot.socket.sendEnvelopeOn(
      1,
      slashCommandEnvelope('k-old', { text: 'help', channel_id: SOCKET_CHANNEL, response_url: url }),
    );
    expect(await bot.socket.ackOf('k-old')).toMatchObject({ envelope_id: 'k-old' });
    expect(bot.socket.isOpen(1)).toBe(true);
    // Slack closes it as it warned; once apps.connections.open answers again, a new link is up.
    bot.slack.restore();
    bot.socket.closeClient();
    await bot.socket.connectionsReach(2, 8_000);
    await until(
      () => bot.logger.lines.filter((l) => l.msg === SLACK_LOG.connected).length === 2 || undefined,
      8_000,
    );
    expect(bot.logger.lines.filter((l) => l.msg === SLACK_LOG.lost)).toHaveLength(1);
    expect(bot.rejections).toEqual([]);
  }, 30_000);

  it('reports a lost link in /healthz (degraded, never 503) and /metrics, and at error level when it is not back within seconds', async () => {
    const base = `http://127.0.0.1:${bot.hallpass.port}`;
    const metric = async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return /^hallpass_socket_mode_link_up (\d+)$/m.exec(text)?.[1];
    };
    expect(await metric()).toBe('1');
    bot.slack.outage('drop', ['apps.connections.open']);
    bot.socket.closeClient();
    await bot.slack.waitFor((calls) =>
      calls.some((c) => c.method === 'apps.connections.open' && !c.ok) ? true : undefined,
    );
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      ok: true,
      status: 'degraded',
      slack: 'connecting',
      socket: { state: 'down', since: expect.any(String) },
      problems: [expect.objectContaining({ what: 'socket-down' })],
    });
    expect(await metric()).toBe('0');
    await until(() => bot.logger.lines.find((l) => l.msg === SLACK_LOG.deaf && l.level === 'error'), 8_000);
    bot.slack.restore();
    await bot.socket.connectionsReach(2, 8_000);
    await until(async () => ((await metric()) === '1' ? true : undefined), 5_000);
  }, 30_000);

  it("makes a listener's views.open a single attempt: one HTTP 500 and the user is told, no retry", async () => {
    bot.slack.failNext('views.open', { status: 500 });
    bot.socket.sendEnvelope(
      slashCommandEnvelope('e-form', {
        text: '',
        channel_id: SOCKET_CHANNEL,
        response_url: bot.slack.responseUrl(),
      }),
    );
    expect(await bot.socket.ackOf('e-form')).toMatchObject({ envelope_id: 'e-form' });
    // Either the failure reaches the user, or a retry shows up first: whichever comes first decides.
    await bot.slack.waitFor(
      (calls) =>
        calls.some((c) => c.method === 'response_url') ||
        calls.filter((c) => c.method === 'views.open').length > 1,
      8_000,
    );
    expect(bot.slack.callsTo('views.open')).toHaveLength(1);
    expect(bot.slack.callsTo('views.open')[0]?.ok).toBe(false);
    expect(String(bot.slack.callsTo('response_url')[0]?.args['text'])).toContain('Something went wrong');
    expect(bot.rejections).toEqual([]);
  }, 20_000);
});

/** Polls `check` until it returns something, or fails after `timeoutMs`. */
async function until<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined && found !== false) return found;
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
