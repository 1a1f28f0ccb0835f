import { createHttpServer, type HttpServer } from '../../../src/adapters/http/router';
import { BODY_LIMIT_BYTES, type SlackRuntime, startSlackApp } from '../../../src/adapters/slack/app';
import type { ListenerContext } from '../../../src/adapters/slack/context';
import { ACTION, BLOCK, CALLBACK } from '../../../src/adapters/slack/ids';
import { ACK_GATE_MAX_WAIT_MS } from '../../../src/adapters/slack/listeners/ack-gate';
import { SOMETHING_WENT_WRONG } from '../../../src/adapters/slack/listeners/middleware';
import { FORM_ACTOR_WAIT_MS } from '../../../src/adapters/slack/listeners/views/request-submitted';
import { errorText } from '../../../src/adapters/slack/views/errors';
import { systemTimers } from '../../../src/adapters/system/system';
import type { UseCases } from '../../../src/app/use-cases';
import type { Actor, Policy } from '../../../src/domain/policy';
import { err, ok } from '../../../src/domain/result';
import { buildSgResource } from '../../support/builders';
import { MemoryLogger } from '../../support/memory-logger';
import { sendHalf, sendRaw } from '../../support/raw-http';
import {
  blockActionsBody,
  buttonClick,
  requestModalValues,
  signRequest,
  slashCommandBody,
  unixSeconds,
  viewSubmission,
  viewSubmissionBody,
} from '../../support/slack-signing';
import { type SlackStandIn, startSlackStandIn } from '../../support/slack-stand-in';

/**
 * The middleware in front of hallpass's listeners, through Bolt's real HTTP receiver with signed
 * requests: the ack comes before the person is looked up, a redelivery does nothing, and a failure is
 * logged once and answered with the generic sentence where a command would answer it.
 */

const SECRET = 'listener-middleware-test-secret';
const USER = 'U0REQUESTER';
const MEMBER: Actor = { userId: USER, groups: new Set(['backend']), standing: 'member' };
const POLICY: Policy = {
  admins: [],
  approvalTimeout: 30 * 60_000,
  warnBefore: 0,
  resources: [buildSgResource({ requesters: ['@backend'] })],
};

/** A request form with nothing wrong in it. */
const GOOD_FORM = { resourceId: 'prod-db', duration: '30m', address: '203.0.113.7', reason: 'x' };

/** Directories still holding their answer; each test's end answers them, so nothing is left waiting. */
const holding: (() => void)[] = [];

/** A directory that answers only when the test says so (or when the test ends). */
function heldDirectory(): { promise: Promise<Actor>; release(): void } {
  let release: () => void = () => undefined;
  const promise = new Promise<Actor>((resolve) => {
    release = () => resolve(MEMBER);
  });
  holding.push(release);
  return { promise, release };
}

describe('the listener middleware', () => {
  /** The ack gate's bound for the runtime each test starts (some tests lengthen or shorten it). */
  let gateBoundMs = ACK_GATE_MAX_WAIT_MS;
  let slack: SlackStandIn;
  let runtime: SlackRuntime;
  let server: HttpServer;
  let port: number;
  let logger: MemoryLogger;
  const actor = jest.fn<Promise<Actor>, [string, unknown?]>();
  const admitCommand = jest.fn<Promise<boolean>, [string]>();
  const revokeGrant = jest.fn();
  const approveRequest = jest.fn();
  const submitRequest = jest.fn();

  beforeEach(async () => {
    jest.resetAllMocks();
    actor.mockResolvedValue(MEMBER);
    admitCommand.mockResolvedValue(true);
    slack = await startSlackStandIn();
    logger = new MemoryLogger();
    const useCases = {
      directory: {
        actor,
        groupsChanged: jest.fn(),
        userChanged: jest.fn(),
        groupHandle: jest.fn(),
        emailOf: jest.fn(),
      },
      policy: () => POLICY,
      admitCommand,
      revokeGrant,
      approveRequest,
      submitRequest,
    };
    const context: ListenerContext = {
      useCases: useCases as unknown as UseCases,
      clock: { now: () => new Date() },
      logger,
    };
    runtime = startSlackApp({
      botToken: 'xoxb-listener-middleware-test',
      signingSecret: SECRET,
      apiUrl: slack.apiUrl,
      clientOptions: { retryConfig: { retries: 0 } },
      context,
      timers: systemTimers,
      ackGateMaxWaitMs: gateBoundMs,
    });
    await runtime.firstAttempt;
    // Forget the start-up's `auth.test`: each test looks only at what its own requests caused.
    slack.reset();
    const route = runtime.route;
    if (route === undefined) throw new Error('HTTP mode must give a route');
    server = createHttpServer({ routes: [route], logger, bodyLimitBytes: BODY_LIMIT_BYTES });
    port = await server.listen(0);
  });
  afterEach(async () => {
    for (const release of holding.splice(0)) release();
    await server.close();
    await runtime.stop();
    await slack.close();
  });

  const post = (body: string, retryNum?: number) =>
    sendRaw(port, {
      method: 'POST',
      path: '/slack/events',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        ...signRequest(SECRET, body, unixSeconds()),
        ...(retryNum === undefined ? {} : { 'X-Slack-Retry-Num': String(retryNum) }),
      },
      body,
    });
  const command = (text: string, retryNum?: number) =>
    post(slashCommandBody({ user_id: USER, text, response_url: slack.responseUrl() }), retryNum);
  const click = (actionId: string, value: string, retryNum?: number) =>
    post(
      blockActionsBody(
        buttonClick({
          userId: USER,
          actionId,
          value,
          channel: 'C0123ABCD',
          messageTs: '1700000000.000100',
          responseUrl: slack.responseUrl(),
        }),
      ),
      retryNum,
    );
  const submitForm = (values: Parameters<typeof requestModalValues>[0]) =>
    post(
      viewSubmissionBody(
        viewSubmission({
          userId: USER,
          callbackId: CALLBACK.requestModal,
          values: requestModalValues(values),
        }),
      ),
    );
  /** Every listener done, and a moment for anything they let escape to reach Bolt's error handler. */
  const quiet = async () => {
    await runtime.settled();
    await new Promise((resolve) => setTimeout(resolve, 50));
  };
  const answers = () => slack.callsTo('response_url').map((c) => String(c.args['text']));
  const failures = () => logger.lines.filter((l) => l.level === 'error');

  describe('acks first: the work behind an ack gives way to other Slack requests awaiting theirs', () => {
    /** When `approveRequest` was called, in `performance.now()` time. */
    const approvedAt = (): Promise<number> =>
      new Promise((resolve) => {
        approveRequest.mockImplementation(async () => {
          resolve(performance.now());
          return err('NOT_APPROVER', { resourceId: 'prod-db' });
        });
      });

    describe('with a bound far longer than the test', () => {
      beforeAll(() => {
        gateBoundMs = 60_000;
      });
      afterAll(() => {
        gateBoundMs = ACK_GATE_MAX_WAIT_MS;
      });

      it("holds a click's work while another Slack request is unanswered, and does it once that one is answered", async () => {
        const approved = approvedAt();
        const other = await sendHalf(port, '/slack/events', 400);

        const res = await click(ACTION.approveRequest, 'req_1');
        expect(res.status).toBe(200);
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(approveRequest).not.toHaveBeenCalled();

        const answeredAt = performance.now();
        // Unsigned: refused with 401, which answers it.
        expect(await other.finish()).toBe('HTTP/1.1 401 Unauthorized');
        expect(await approved).toBeGreaterThanOrEqual(answeredAt);
        await slack.waitFor((calls) => calls.some((c) => c.method === 'response_url'));
        expect(answers()).toEqual([errorText(err('NOT_APPROVER', { resourceId: 'prod-db' }))]);
      });
    });

    it('does the work after its bound even when the other request is never answered', async () => {
      const approved = approvedAt();
      await sendHalf(port, '/slack/events', 400);

      const sentAt = performance.now();
      const res = await click(ACTION.approveRequest, 'req_1');
      expect(res.status).toBe(200);
      expect(await approved).toBeGreaterThanOrEqual(sentAt + ACK_GATE_MAX_WAIT_MS - 1);
      await slack.waitFor((calls) => calls.some((c) => c.method === 'response_url'));
    });
  });

  describe('acks before the person is looked up', () => {
    it('answers a command at once while the directory has not answered, then carries on', async () => {
      const directory = heldDirectory();
      actor.mockReturnValue(directory.promise);
      revokeGrant.mockResolvedValue(ok({ id: 'grt_1', resourceId: 'prod-db' }));

      const started = Date.now();
      const res = await command('revoke grt_1');

      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(revokeGrant).not.toHaveBeenCalled();
      directory.release();
      await slack.waitFor((calls) => calls.some((c) => c.method === 'response_url'));
      expect(revokeGrant).toHaveBeenCalledWith({ grantId: 'grt_1', actor: MEMBER });
      expect(answers()).toEqual(['Grant grt_1 for prod-db is closed.']);
    });

    it('answers a click at once while the directory has not answered', async () => {
      const directory = heldDirectory();
      actor.mockReturnValue(directory.promise);
      approveRequest.mockResolvedValue(err('NOT_APPROVER', { resourceId: 'prod-db' }));

      const res = await click(ACTION.approveRequest, 'req_1');

      expect(res.status).toBe(200);
      expect(approveRequest).not.toHaveBeenCalled();
      directory.release();
      await slack.waitFor((calls) => calls.some((c) => c.method === 'response_url'));
      expect(answers()).toEqual([errorText(err('NOT_APPROVER', { resourceId: 'prod-db' }))]);
    });

    it('looks nobody up for a command that needs no one (help), nor twice for one that does', async () => {
      revokeGrant.mockResolvedValue(ok({ id: 'grt_1', resourceId: 'prod-db' }));
      await command('help');
      await command('revoke grt_1');
      await runtime.settled();
      expect(actor).toHaveBeenCalledTimes(1);
      expect(actor).toHaveBeenCalledWith(USER, [{ teamId: 'T0HALLPASS', enterpriseId: undefined }]);
    });

    it('shows a form’s own mistakes beside their fields without asking the directory', async () => {
      const res = await submitForm({ resourceId: 'prod-db', duration: 'soon', address: '203.0.113.7' });

      expect(JSON.parse(res.body)).toEqual({
        response_action: 'errors',
        errors: {
          [BLOCK.requestDuration]: errorText(err('INVALID_DURATION', { input: 'soon' })),
          [BLOCK.requestReason]: errorText(err('MISSING_REASON')),
        },
      });
      expect(actor).not.toHaveBeenCalled();
      expect(submitRequest).not.toHaveBeenCalled();
    });

    it('acks a good form in time when the directory is slow, and submits once it answers', async () => {
      const directory = heldDirectory();
      actor.mockReturnValue(directory.promise);
      submitRequest.mockResolvedValue(err('NOT_REQUESTER', { resourceId: 'prod-db' }));

      const started = Date.now();
      const res = await submitForm(GOOD_FORM);

      expect(res.status).toBe(200);
      expect(res.body).toBe('');
      expect(Date.now() - started).toBeGreaterThanOrEqual(FORM_ACTOR_WAIT_MS - 50);
      expect(Date.now() - started).toBeLessThan(2_500);
      expect(submitRequest).not.toHaveBeenCalled();
      directory.release();
      await runtime.settled();
      expect(submitRequest).toHaveBeenCalledWith(
        expect.objectContaining({ actor: MEMBER, resourceId: 'prod-db', durationMs: 30 * 60_000 }),
      );
    });
  });

  describe('ignores a redelivery of what was already acked', () => {
    it('acks a redelivered command and does nothing else', async () => {
      const res = await command('revoke grt_1', 1);

      expect(res.status).toBe(200);
      await runtime.settled();
      expect(admitCommand).not.toHaveBeenCalled();
      expect(actor).not.toHaveBeenCalled();
      expect(revokeGrant).not.toHaveBeenCalled();
      expect(slack.calls).toEqual([]);
    });

    it('acks a redelivered click and does nothing else', async () => {
      const res = await click(ACTION.approveRequest, 'req_1', 2);

      expect(res.status).toBe(200);
      await runtime.settled();
      expect(approveRequest).not.toHaveBeenCalled();
      expect(slack.calls).toEqual([]);
    });
  });

  describe('catches a failure once', () => {
    it('logs a failing command once and tells the person nothing was changed', async () => {
      revokeGrant.mockRejectedValue(new Error('the database is on fire'));

      expect((await command('revoke grt_1')).status).toBe(200);
      await quiet();
      await slack.waitFor((calls) => calls.some((c) => c.method === 'response_url'));

      expect(failures()).toHaveLength(1);
      expect(failures()[0]).toMatchObject({
        msg: '/access failed',
        fields: { err: 'Error: the database is on fire', user: USER, text: 'revoke grt_1' },
      });
      expect(answers()).toEqual([SOMETHING_WENT_WRONG.text]);
    });

    it('logs a failing click once and answers nothing (the card shows what happened)', async () => {
      revokeGrant.mockRejectedValue(new Error('AWS said no'));

      expect((await click(ACTION.doneGrant, 'grt_1')).status).toBe(200);
      await quiet();

      expect(failures()).toHaveLength(1);
      expect(failures()[0]).toMatchObject({
        msg: 'done failed',
        fields: { err: 'Error: AWS said no', user: USER },
      });
      expect(slack.calls).toEqual([]);
    });

    it('logs a failing form once and tells the person by direct message', async () => {
      submitRequest.mockRejectedValue(new Error('disk full'));

      const res = await submitForm(GOOD_FORM);
      expect(res.status).toBe(200);
      await quiet();

      expect(failures()).toHaveLength(1);
      expect(failures()[0]?.msg).toBe('request from the form failed');
      const dms = slack.callsTo('chat.postMessage');
      expect(dms.map((c) => [c.args['channel'], c.args['text']])).toEqual([
        [USER, SOMETHING_WENT_WRONG.text],
      ]);
    });
  });
});
