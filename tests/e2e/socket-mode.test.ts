import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '../../src/app/ports';
import { type Hallpass, startHallpass } from '../../src/compose';
import { loadEnv } from '../../src/config';
import { parsePolicy } from '../../src/config/policy';
import { type FakeEc2, startFakeEc2 } from '../support/fake-ec2';
import { type FakeSocketMode, startFakeSocketMode } from '../support/fake-socket-mode';
import { slashCommandBody } from '../support/slack-signing';
import { type SlackStandIn, startSlackStandIn } from '../support/slack-stand-in';

/**
 * Socket Mode (issue 8, parts 1 and 2): the bot connects through `apps.connections.open` to a fake
 * Socket Mode server, which sends it garbage envelopes of every kind. None may reject unhandled
 * (Node 20 would stop the process); malformed envelopes carrying an id are acked so Slack does not
 * redeliver them; a valid command is still acked and answered. And a listener's Web API call is one
 * attempt: the socket client's own retry settings never reach the clients listeners get.
 */

const GROUP = 'sg-0123456789abcdef0';
const CHANNEL = 'C0123ABCD';
const POLICY = `
resources:
  - id: socket-db
    kind: security-group
    region: us-east-1
    securityGroupId: ${GROUP}
    ports: [5432]
    maxDuration: 1h
    channel: ${CHANNEL}
    autoApprove: true
`;

class MemoryLogger implements Logger {
  readonly lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  info(fields: Record<string, unknown>, msg: string) {
    this.lines.push({ level: 'info', msg, fields });
  }
  warn(fields: Record<string, unknown>, msg: string) {
    this.lines.push({ level: 'warn', msg, fields });
  }
  error(fields: Record<string, unknown>, msg: string) {
    this.lines.push({ level: 'error', msg, fields });
  }
}

/** A slash command as Socket Mode delivers it: the fields Slack would form-encode over HTTP, as an object. */
function slashCommandEnvelope(envelopeId: string, fields: Parameters<typeof slashCommandBody>[0]) {
  return {
    envelope_id: envelopeId,
    type: 'slash_commands',
    accepts_response_payload: true,
    payload: Object.fromEntries(new URLSearchParams(slashCommandBody(fields))),
  };
}

describe('Socket Mode (issue 8)', () => {
  let dir: string;
  let slack: SlackStandIn;
  let socket: FakeSocketMode;
  let ec2: FakeEc2;
  let hallpass: Hallpass | undefined;
  let logger: MemoryLogger;
  const rejections: unknown[] = [];
  const recordRejection = (reason: unknown): void => {
    rejections.push(reason);
  };

  beforeEach(async () => {
    rejections.length = 0;
    process.on('unhandledRejection', recordRejection);
    dir = mkdtempSync(path.join(tmpdir(), 'hallpass-socket-'));
    slack = await startSlackStandIn();
    socket = await startFakeSocketMode();
    slack.setSocketModeUrl(socket.url);
    ec2 = await startFakeEc2({ groups: [GROUP] });
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'AKIDSOCKETTEST',
      AWS_SECRET_ACCESS_KEY: 'socket-test-aws-secret',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_EC2: ec2.url,
    });
    const env = loadEnv({
      SLACK_BOT_TOKEN: 'xoxb-socket-mode-test',
      SLACK_APP_TOKEN: 'xapp-1-socket-mode-test',
      SLACK_API_URL: slack.apiUrl,
      PORT: '0',
      HALLPASS_DB: path.join(dir, 'hallpass.db'),
      LOG_LEVEL: 'silent',
    });
    if (!env.ok) throw new Error(env.section.problems.join('\n'));
    logger = new MemoryLogger();
    // No client options from the test: the listeners' clients are exactly what production builds.
    hallpass = await startHallpass({ env: env.value, policy: parsePolicy(POLICY), logger, reconcile: false });
    await socket.connected();
  });
  afterEach(async () => {
    await hallpass?.stop();
    await socket.close();
    await slack.close();
    await ec2.close();
    rmSync(dir, { recursive: true, force: true });
    process.off('unhandledRejection', recordRejection);
  });

  it('ignores garbage envelopes without an unhandled rejection, acks those with an id, and still answers a valid command', async () => {
    // The socket client opened its connection with the app token, not the bot token.
    expect(slack.callsTo('apps.connections.open').map((c) => c.token)).toEqual(['xapp-1-socket-mode-test']);
    // Over HTTP only /healthz is served in Socket Mode: Slack's events come through the socket.
    const base = `http://127.0.0.1:${hallpass?.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/slack/events`, { method: 'POST', body: '{}' })).status).toBe(404);

    socket.sendText('{ this is not json');
    socket.sendText('null');
    socket.sendText('[]');
    socket.sendText('"a string"');
    socket.sendBinary(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    socket.sendText('{"type":"events_api"}');
    socket.sendEnvelope({ type: 'events_api', envelope_id: 'g-no-payload' });
    socket.sendEnvelope({
      type: 'events_api',
      envelope_id: 'g-no-event',
      payload: { type: 'event_callback' },
    });
    socket.sendEnvelope({ type: 'events_api', envelope_id: 'g-event-null', payload: { event: null } });
    // Named like one of the socket client's own events: re-emitted as is, it would make the client reconnect.
    socket.sendEnvelope({
      type: 'events_api',
      envelope_id: 'g-event-close',
      payload: { event: { type: 'close' } },
    });
    socket.sendEnvelope({ type: 'mystery', envelope_id: 'g-unknown-type', payload: { command: '/access' } });
    socket.sendEnvelope({ type: 'slash_commands', envelope_id: 'g-garbage-command', payload: 'garbage' });
    socket.sendEnvelope({ type: 'slash_commands', envelope_id: 'g-empty-command', payload: {} });
    socket.sendEnvelope({ type: 'interactive', envelope_id: 'g-interactive', payload: [] });
    socket.sendEnvelope({ envelope_id: 'g-no-type', payload: {} });

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
      expect(await socket.ackOf(id)).toEqual({ envelope_id: id, payload: {} });
    }

    const responseUrl = slack.responseUrl();
    socket.sendEnvelope(
      slashCommandEnvelope('e-help', { text: 'help', channel_id: CHANNEL, response_url: responseUrl }),
    );
    expect(await socket.ackOf('e-help')).toMatchObject({ envelope_id: 'e-help' });
    const reply = await slack.waitFor((calls) => calls.find((c) => c.method === 'response_url'));
    expect(String(reply.args['text'])).toContain('/access');
    await hallpass?.settled();
    // Rejections are reported after the microtasks of the turn that made them: let one more turn pass.
    await new Promise((resolve) => setImmediate(resolve));

    expect(rejections).toEqual([]);
    expect(logger.lines.filter((l) => l.msg === 'ignored a malformed Socket Mode message')).toHaveLength(15);
  }, 20_000);

  it("makes a listener's views.open a single attempt: one HTTP 500 and the user is told, no retry", async () => {
    slack.failNext('views.open', { status: 500 });
    socket.sendEnvelope(
      slashCommandEnvelope('e-form', { text: '', channel_id: CHANNEL, response_url: slack.responseUrl() }),
    );
    expect(await socket.ackOf('e-form')).toMatchObject({ envelope_id: 'e-form' });
    // Either the failure reaches the user, or a retry shows up first: whichever comes first decides.
    await slack.waitFor(
      (calls) =>
        calls.some((c) => c.method === 'response_url') ||
        calls.filter((c) => c.method === 'views.open').length > 1,
      8_000,
    );
    expect(slack.callsTo('views.open')).toHaveLength(1);
    expect(slack.callsTo('views.open')[0]?.ok).toBe(false);
    expect(String(slack.callsTo('response_url')[0]?.args['text'])).toContain('Something went wrong');
    expect(rejections).toEqual([]);
  }, 20_000);
});
