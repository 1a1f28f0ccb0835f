import { createHttpServer, type HttpServer } from '../../../src/adapters/http/router';
import { BODY_LIMIT_BYTES, type SlackRuntime, startSlackApp } from '../../../src/adapters/slack/app';
import type { ListenerContext } from '../../../src/adapters/slack/context';
import { systemTimers } from '../../../src/adapters/system/system';
import type { UseCases } from '../../../src/app/use-cases';
import { MemoryLogger } from '../../support/memory-logger';
import { sendRaw } from '../../support/raw-http';
import { signRequest, slashCommandBody, unixSeconds } from '../../support/slack-signing';
import { type SlackStandIn, startSlackStandIn } from '../../support/slack-stand-in';

/**
 * The Slack adapter's `POST /slack/events` behind the router, with listeners of the test's own:
 * a listener that fails gets its answer from Bolt's error handlers at once (500 before `ack()`,
 * the listener's own 200 after), is logged once by the global error handler, and nothing rejects.
 */

const SECRET = 'slack-route-test-secret';

describe('the Slack route behind the HTTP router', () => {
  let slack: SlackStandIn;
  let runtime: SlackRuntime;
  let server: HttpServer;
  let port: number;
  let logger: MemoryLogger;
  const rejections: unknown[] = [];
  const record = (reason: unknown): void => {
    rejections.push(reason);
  };

  beforeEach(async () => {
    rejections.length = 0;
    process.on('unhandledRejection', record);
    slack = await startSlackStandIn();
    logger = new MemoryLogger();
    // The listeners registered by hallpass are not reached here; the test's own commands are.
    const context: ListenerContext = {
      useCases: {} as UseCases,
      clock: { now: () => new Date() },
      logger,
    };
    runtime = startSlackApp({
      botToken: 'xoxb-slack-route-test',
      signingSecret: SECRET,
      apiUrl: slack.apiUrl,
      clientOptions: { retryConfig: { retries: 0 } },
      context,
      timers: systemTimers,
    });
    // Slack (the stand-in) accepts the token at the first attempt: the route serves from then on.
    await runtime.firstAttempt;
    runtime.app.command('/fails-before-ack', async () => {
      throw new Error('failed before ack');
    });
    runtime.app.command('/fails-after-ack', async ({ ack }) => {
      await ack();
      throw new Error('failed after ack');
    });
    const route = runtime.route;
    if (route === undefined) throw new Error('HTTP mode must give a route');
    server = createHttpServer({ routes: [route], logger, bodyLimitBytes: BODY_LIMIT_BYTES });
    port = await server.listen(0);
  });
  afterEach(async () => {
    await server.close();
    await runtime.stop();
    await slack.close();
    process.off('unhandledRejection', record);
  });

  const command = (name: string) => {
    const body = slashCommandBody({ command: name, text: 'x' });
    return sendRaw(port, {
      method: 'POST',
      path: '/slack/events',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        ...signRequest(SECRET, body, unixSeconds()),
      },
      body,
    });
  };

  it('answers 500 at once when a listener fails before acking, and logs it once', async () => {
    const started = Date.now();
    expect((await command('/fails-before-ack')).status).toBe(500);
    // Bolt's own fallback for an unacknowledged request would have answered 404 after 3 s.
    expect(Date.now() - started).toBeLessThan(2_500);
    await runtime.settled();
    const failures = logger.lines.filter((l) => l.msg === 'Slack listener failed');
    expect(failures).toHaveLength(1);
    expect(String(failures[0]?.fields['err'])).toContain('failed before ack');
    expect(rejections).toEqual([]);
  });

  it("keeps the listener's own answer when it fails after acking, and logs it once", async () => {
    expect((await command('/fails-after-ack')).status).toBe(200);
    await runtime.settled();
    const failures = logger.lines.filter((l) => l.msg === 'Slack listener failed');
    expect(failures).toHaveLength(1);
    expect(String(failures[0]?.fields['err'])).toContain('failed after ack');
    expect(rejections).toEqual([]);
  });

  it('serves only POST on /slack/events (the router answers the rest)', async () => {
    const get = await sendRaw(port, { method: 'GET', path: '/slack/events' });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
  });
});
