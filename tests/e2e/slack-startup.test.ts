import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SLACK_LOG, SLACK_NOT_READY } from '../../src/adapters/slack/app';
import { type BotProcess, runBot, standInEnv, startedPort, until } from '../support/bot-process';
import { type FakeEc2, startFakeEc2 } from '../support/fake-ec2';
import { DEFAULT_POLICY, GROUP_ID, type Harness, REQUESTER, startHarness } from '../support/harness';
import type { MemoryLogger } from '../support/memory-logger';
import { postToApp, slashCommandBody } from '../support/slack-signing';
import { type SlackFailure, type SlackStandIn, startSlackStandIn } from '../support/slack-stand-in';
import {
  SOCKET_CHANNEL,
  type SocketModeBot,
  slashCommandEnvelope,
  startSocketModeBot,
} from '../support/socket-mode-bot';

/**
 * Issue 8, parts 1 and 2: Slack failing never stops the closer. Unreachable at start-up (5xx, a cut
 * connection, the token refused), hallpass starts anyway: the port is bound, /healthz answers 200 and
 * says Slack is still connecting, Slack's deliveries get 503 (Slack retries them), grants close on time,
 * and Slack is retried with capped backoff until it answers — then commands are served. In Socket Mode,
 * a lost socket whose reconnection fails (a cut connection, a refused token) is retried the same way,
 * with nothing rejecting unhandled, until the socket is back.
 */

const SECOND = 1_000;
const MINUTE = 60_000;
const A = '203.0.113.7';
const NOT_READY = JSON.stringify(SLACK_NOT_READY);

/** The fields of the log lines with message `msg`. */
const linesOf = (logger: MemoryLogger, msg: string) =>
  logger.lines.filter((l) => l.msg === msg).map((l) => ({ level: l.level, ...l.fields }));
/** The log lines of failed attempts to connect (unreachable, or a token refused). */
const failedAttempts = (logger: MemoryLogger) =>
  logger.lines.filter((l) => l.msg === SLACK_LOG.unreachable || /^Slack refused the token in /.test(l.msg));

describe('Slack unreachable at start-up, HTTP mode', () => {
  let h: Harness;
  afterEach(async () => {
    h.slack.restore();
    await h.close();
  });

  const failures: [string, SlackFailure | 'drop', 'warn' | 'error'][] = [
    ['answers auth.test with HTTP 503', { status: 503 }, 'warn'],
    ['cuts the connection of auth.test', 'drop', 'warn'],
    ['refuses the bot token (invalid_auth)', 'invalid_auth', 'error'],
  ];

  it.each(failures)(
    'starts while Slack %s: /healthz 200 "connecting", /slack/events 503, a grant closes on time, and once Slack answers a command is served',
    async (_name, failure, level) => {
      h = await startHarness({ beforeStart: (slack) => slack.outage(failure, ['auth.test']) });
      const health = async () => {
        const res = await fetch(h.url.replace('/slack/events', '/healthz'));
        return { status: res.status, body: (await res.json()) as unknown };
      };

      // Started: the port is bound and truthful, Slack's deliveries are answered 503 (Slack retries them).
      expect(await health()).toEqual({
        status: 200,
        body: {
          ok: true,
          status: 'degraded',
          database: 'ok',
          slack: 'connecting',
          backstop: 'off',
          problems: expect.arrayContaining([expect.objectContaining({ what: 'slack-not-ready' })]),
        },
      });
      expect(await h.command(REQUESTER, 'help')).toMatchObject({ status: 503, body: NOT_READY });
      expect(h.slack.callsTo('response_url')).toEqual([]);

      // A grant opened meanwhile (auto-approved, through the use cases) …
      const submitted = await h.hallpass.useCases.submitRequest({
        actor: { userId: REQUESTER, groups: new Set(), standing: 'member' },
        resourceId: 'staging-db',
        durationMs: 10 * MINUTE,
        address: A,
        reason: 'Slack is down and the door must still close',
      });
      if (!submitted.ok) throw new Error(`not submitted: ${submitted.error}`);
      await h.hallpass.settled();
      const rule = () => h.ec2.rules(GROUP_ID).find((r) => r.cidr === `${A}/32`);
      expect(rule()).toBeDefined();

      // … closes at its end, while Slack still fails.
      await h.advance(10 * MINUTE);
      expect(rule()).toBeUndefined();
      const grant = (await h.hallpass.useCases.cardOf(submitted.value.request.id))?.grant;
      expect(grant?.state).toBe('closed');
      expect(grant?.endedAt).toEqual(grant?.expiresAt);
      expect((await health()).body).toMatchObject({ slack: 'connecting' });

      // Each failed attempt was logged once, numbered, with when the next one is; a refused token at
      // error level, naming the setting to fix.
      const failed = failedAttempts(h.logger);
      expect(failed.length).toBeGreaterThanOrEqual(2);
      expect(failed.map((l) => l.fields['attempt'])).toEqual(failed.map((_l, i) => i + 1));
      expect(h.slack.callsTo('auth.test')).toHaveLength(failed.length);
      for (const line of failed) {
        expect(line.level).toBe(level);
        expect(typeof line.fields['nextAttemptAt']).toBe('string');
        if (level === 'error') expect(line.msg).toContain('SLACK_BOT_TOKEN');
      }
      expect(linesOf(h.logger, SLACK_LOG.connected)).toEqual([]);

      // Slack answers again: the next attempt (at most a minute away) connects, and commands are served.
      h.slack.restore();
      await h.advance(MINUTE);
      expect(await health()).toEqual({
        status: 200,
        body: { ok: true, status: 'ok', database: 'ok', slack: 'ready', backstop: 'off', problems: [] },
      });
      expect(linesOf(h.logger, SLACK_LOG.connected)).toEqual([
        expect.objectContaining({ level: 'info', attempts: failed.length + 1 }),
      ]);
      expect((await h.command(REQUESTER, 'help')).status).toBe(200);
      const reply = await h.slack.waitFor((calls) => calls.find((c) => c.method === 'response_url'));
      expect(String(reply.args['text'])).toContain('/access');
    },
    30_000,
  );

  it('cancels the pending retry when stopped: moving time afterwards calls Slack no more', async () => {
    h = await startHarness({ beforeStart: (slack) => slack.outage({ status: 503 }, ['auth.test']) });
    expect(h.slack.callsTo('auth.test')).toHaveLength(1);
    await h.stopBot();
    h.clock.advance(10 * MINUTE);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(h.slack.callsTo('auth.test')).toHaveLength(1);
  });
});

describe('Socket Mode reconnection', () => {
  let bot: SocketModeBot;
  beforeEach(async () => {
    // Real timers; retries 50 ms doubling to 200 ms instead of 1 s doubling to a minute.
    bot = await startSocketModeBot({ name: 'reconnect-test', slackBackoff: { initialMs: 50, maxMs: 200 } });
  });
  afterEach(async () => {
    await bot.close();
  });

  const healthz = async () =>
    (await fetch(`http://127.0.0.1:${bot.hallpass.port}/healthz`).then((r) => r.json())) as Record<
      string,
      unknown
    >;
  const failedOpens = (calls: readonly { method: string; ok: boolean }[]) =>
    calls.filter((c) => c.method === 'apps.connections.open' && !c.ok).length;

  /** After the reconnection: a slash command envelope is acked and answered. */
  async function expectServing(envelopeId: string): Promise<void> {
    const responseUrl = bot.slack.responseUrl();
    bot.socket.sendEnvelope(
      slashCommandEnvelope(envelopeId, {
        text: 'help',
        channel_id: SOCKET_CHANNEL,
        response_url: responseUrl,
      }),
    );
    expect(await bot.socket.ackOf(envelopeId)).toMatchObject({ envelope_id: envelopeId });
    const reply = await bot.slack.waitFor((calls) =>
      calls.find(
        (c) => c.method === 'response_url' && c.args['response_id'] === responseUrl.split('/').pop(),
      ),
    );
    expect(String(reply.args['text'])).toContain('/access');
  }

  it('retries a reconnection whose apps.connections.open is cut, at a capped pace, and reconnects once Slack answers', async () => {
    expect(await healthz()).toMatchObject({ ok: true, slack: 'ready' });
    bot.slack.outage('drop', ['apps.connections.open']);
    bot.socket.closeClient();

    // Attempts keep coming, each at most 200 ms after the last failure (the client's own retries would
    // first wait 5 s, then ever longer).
    await bot.slack.waitFor((calls) => failedOpens(calls) >= 5 || undefined, 3 * SECOND);
    expect(await healthz()).toMatchObject({ ok: true, slack: 'connecting' });

    bot.slack.restore();
    await bot.socket.connectionsReach(2, 3 * SECOND);
    await until(
      async () => ((await healthz())['slack'] === 'ready' ? true : undefined),
      'slack ready',
      3_000,
    );
    await expectServing('e-after-cut');

    await bot.hallpass.settled();
    await new Promise((resolve) => setImmediate(resolve));
    expect(bot.rejections).toEqual([]);
    expect(linesOf(bot.logger, SLACK_LOG.lost)).toHaveLength(1);
    const failed = failedAttempts(bot.logger);
    expect(failed.length).toBeGreaterThanOrEqual(5);
    expect(failed.map((l) => l.fields['attempt'])).toEqual(failed.map((_l, i) => i + 1));
    expect(failed.every((l) => l.level === 'warn')).toBe(true);
    // Connected at start, and again after the reconnection.
    expect(linesOf(bot.logger, SLACK_LOG.connected)).toHaveLength(2);
  }, 20_000);

  it('retries a reconnection whose app token is refused (invalid_auth) — logged at error level naming SLACK_APP_TOKEN, never an unhandled rejection — until Slack accepts it', async () => {
    bot.slack.outage('invalid_auth', ['apps.connections.open']);
    bot.socket.closeClient();

    await bot.slack.waitFor((calls) => failedOpens(calls) >= 3 || undefined, 3 * SECOND);
    await until(
      async () => (failedAttempts(bot.logger).length >= 3 ? true : undefined),
      'three refusals logged',
      3_000,
    );
    expect(bot.rejections).toEqual([]);
    const refused = failedAttempts(bot.logger);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    for (const line of refused) {
      expect(line.level).toBe('error');
      expect(line.msg).toContain('SLACK_APP_TOKEN');
      expect(line.fields).toMatchObject({ setting: 'SLACK_APP_TOKEN', slackError: 'invalid_auth' });
    }

    bot.slack.restore();
    await bot.socket.connectionsReach(2, 3 * SECOND);
    await until(
      async () => ((await healthz())['slack'] === 'ready' ? true : undefined),
      'slack ready',
      3_000,
    );
    await expectServing('e-after-refusal');
    await bot.hallpass.settled();
    await new Promise((resolve) => setImmediate(resolve));
    expect(bot.rejections).toEqual([]);
  }, 20_000);
});

describe('the real process with Slack refusing at start-up', () => {
  const SECRET = 'slack-startup-signing-secret';
  /** What `src/main.ts` logs if anything ever escapes to Node's top level. */
  const UNCAUGHT = 'uncaught error (a bug)';
  let dir: string;
  let slack: SlackStandIn;
  let ec2: FakeEc2;
  let bot: BotProcess | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hallpass-slack-startup-'));
    slack = await startSlackStandIn();
    ec2 = await startFakeEc2({ groups: [GROUP_ID] });
    writeFileSync(path.join(dir, 'policy.yml'), DEFAULT_POLICY);
  });
  afterEach(async () => {
    if (bot !== undefined && bot.child.exitCode === null) {
      bot.child.kill('SIGTERM');
      await bot.exited;
    }
    await slack.close();
    await ec2.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stays up and serves /healthz while auth.test is refused, then connects once Slack answers', async () => {
    slack.outage({ status: 503 }, ['auth.test']);
    const proc = runBot(
      dir,
      standInEnv({
        name: 'slack-startup',
        signingSecret: SECRET,
        slackApiUrl: slack.apiUrl,
        ec2Url: ec2.url,
      }),
    );
    bot = proc;
    const port = await startedPort(proc);
    const base = `http://127.0.0.1:${port}`;
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      ok: true,
      status: 'degraded',
      database: 'ok',
      slack: 'connecting',
      backstop: 'off',
      problems: [expect.objectContaining({ what: 'slack-not-ready' })],
    });
    const command = () =>
      postToApp(
        `${base}/slack/events`,
        slashCommandBody({ text: 'help', response_url: slack.responseUrl() }),
        {
          secret: SECRET,
        },
      );
    expect(await command()).toMatchObject({ status: 503, body: NOT_READY });

    // Retried (real timers: about 1 s, then 2 s), each failure a numbered line.
    await until(
      async () => (proc.output().includes('"attempt":2') ? true : undefined),
      'a second attempt',
      10_000,
    );
    expect(proc.child.exitCode).toBeNull();
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    slack.restore();
    await until(
      async () => (proc.output().includes(SLACK_LOG.connected) ? true : undefined),
      'the connected line',
      10_000,
    );
    expect(await fetch(`${base}/healthz`).then((r) => r.json())).toMatchObject({ slack: 'ready' });
    expect((await command()).status).toBe(200);
    expect(proc.output()).not.toContain(UNCAUGHT);
    expect(proc.output()).not.toContain('could not start');

    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  }, 40_000);
});
