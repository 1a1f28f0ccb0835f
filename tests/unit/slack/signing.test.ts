import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isValidSlackRequest } from '@slack/bolt';
import {
  blockActionsBody,
  buttonClick,
  postToApp,
  requestModalValues,
  signRequest,
  slashCommandBody,
  unixSeconds,
  viewSubmission,
  viewSubmissionBody,
} from '../../support/slack-signing';

const SECRET = 'test-signing-secret';

describe('signRequest', () => {
  it("produces a signature Bolt's own verifier accepts", () => {
    const body = slashCommandBody({ text: 'prod-db 30m from 203.0.113.7 debugging' });
    const ts = unixSeconds();
    const h = signRequest(SECRET, body, ts);
    const verify = (secret: string, b: string) =>
      isValidSlackRequest({
        signingSecret: secret,
        body: b,
        headers: { 'x-slack-signature': h['X-Slack-Signature'], 'x-slack-request-timestamp': ts },
      });
    expect(verify(SECRET, body)).toBe(true);
    expect(verify('another-secret', body)).toBe(false);
    expect(verify(SECRET, `${body}&x=1`)).toBe(false);
  });

  it("reproduces the example from Slack's signing documentation", () => {
    const body =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    expect(signRequest('8f742231b10e8888abcd99yyyzzz85a5', body, 1531420618)).toEqual({
      'X-Slack-Signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
      'X-Slack-Request-Timestamp': '1531420618',
    });
  });
});

describe('payload builders', () => {
  it('form-encodes a slash command with every field Slack sends', () => {
    const fields = Object.fromEntries(
      new URLSearchParams(slashCommandBody({ text: 'list', user_id: 'U0ME' })),
    );
    expect(fields).toMatchObject({ command: '/access', text: 'list', user_id: 'U0ME' });
    for (const k of [
      'token',
      'team_id',
      'team_domain',
      'channel_id',
      'channel_name',
      'user_name',
      'api_app_id',
      'trigger_id',
    ]) {
      expect(fields).toHaveProperty(k, expect.any(String));
    }
    expect(fields).toHaveProperty('response_url', expect.stringMatching(/^http/));
  });

  it('puts a button click into one payload field as JSON', () => {
    const body = blockActionsBody(
      buttonClick({
        userId: 'U0APP',
        actionId: 'approve_request',
        value: 'req_1',
        channel: 'C1',
        messageTs: '1.000100',
      }),
    );
    const payload: unknown = JSON.parse(new URLSearchParams(body).get('payload') ?? 'null');
    expect(payload).toMatchObject({
      type: 'block_actions',
      user: { id: 'U0APP' },
      container: { type: 'message', channel_id: 'C1', message_ts: '1.000100' },
      channel: { id: 'C1' },
      actions: [{ action_id: 'approve_request', value: 'req_1', text: { text: 'Approve' }, type: 'button' }],
    });
  });

  it('builds a view submission with Slack-shaped state values', () => {
    const body = viewSubmissionBody(
      viewSubmission({
        userId: 'U0ME',
        callbackId: 'request_modal',
        privateMetadata: 'C1',
        values: requestModalValues({ resourceId: 'prod-db', duration: '30m', reason: 'why' }),
      }),
    );
    const payload: unknown = JSON.parse(new URLSearchParams(body).get('payload') ?? 'null');
    expect(payload).toMatchObject({
      type: 'view_submission',
      view: {
        callback_id: 'request_modal',
        private_metadata: 'C1',
        state: {
          values: {
            request_resource: {
              request_resource_select: { type: 'static_select', selected_option: { value: 'prod-db' } },
            },
            request_duration: { request_duration_input: { type: 'plain_text_input', value: '30m' } },
            request_address: { request_address_input: { type: 'plain_text_input', value: null } },
          },
        },
      },
    });
  });
});

describe('postToApp', () => {
  let server: Server;
  let url: string;
  let seen: { headers: IncomingHttpHeaders; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString('utf8');
      });
      req.on('end', () => {
        seen.push({ headers: req.headers, body });
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('acked');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  });
  afterEach(() => {
    seen = [];
  });
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );

  it('sends the exact form content type and a valid signature, and returns the answer', async () => {
    const body = slashCommandBody({ text: 'help' });
    const res = await postToApp(url, body, { secret: SECRET });
    expect(res).toMatchObject({ status: 200, body: 'acked' });
    const got = seen[0];
    expect(got?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(got?.body).toBe(body);
    expect(
      isValidSlackRequest({
        signingSecret: SECRET,
        body: got?.body ?? '',
        headers: {
          'x-slack-signature': String(got?.headers['x-slack-signature']),
          'x-slack-request-timestamp': Number(got?.headers['x-slack-request-timestamp']),
        },
      }),
    ).toBe(true);
  });

  it('marks a redelivery with the retry headers', async () => {
    await postToApp(url, 'a=1', { secret: SECRET, retryNum: 1, timestamp: 1_700_000_000 });
    expect(seen[0]?.headers).toMatchObject({
      'x-slack-retry-num': '1',
      'x-slack-retry-reason': 'http_timeout',
      'x-slack-request-timestamp': '1700000000',
    });
  });
});
