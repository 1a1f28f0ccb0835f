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
