import { request } from 'node:http';
import { ACTION } from '../../src/adapters/slack/ids';
import { APPROVER, GROUP_ID, type Harness, REQUESTER, startHarness } from '../support/harness';
import { allText, approvalPosts, dmsTo, lastRequestId, replyAfter } from '../support/slack-queries';

/**
 * `/access prod-db 30m <reason>` without `from`: with HALLPASS_PUBLIC_URL, a one-time link (10 minutes)
 * records the address the browser comes from — the peer, or X-Forwarded-For only from a trusted proxy —
 * and continues the request; without it, the answer says to add `from`.
 */

const PUBLIC = 'https://hallpass.example.com';
const MINUTE = 60_000;
/** The proxy HALLPASS_TRUSTED_PROXIES names; 127.0.0.2 is any other peer (Linux answers all of 127/8). */
const PROXY = '127.0.0.3';

type Answer = { status: number; headers: Record<string, unknown>; body: string };

/** `GET path` on hallpass's port from `localAddress`, with `headers`. */
function get(
  h: Harness,
  path: string,
  localAddress: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: h.hallpass.port, path, method: 'GET', localAddress, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Types the command and returns the private answer. */
async function answerTo(h: Harness, text: string, user = REQUESTER): Promise<string> {
  const since = h.slack.calls.length;
  await h.command(user, text);
  return replyAfter(h.slack, user, since);
}

/** The path of the link in an answer (`/address?t=…`), checked to point at the public URL. */
function linkPath(answer: string): string {
  const m = /https:\/\/hallpass\.example\.com(\/address\?t=[A-Za-z0-9_-]+)/.exec(answer);
  if (m?.[1] === undefined) throw new Error(`no link in: ${answer}`);
  return m[1];
}

describe('the address link', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  describe('with HALLPASS_PUBLIC_URL', () => {
    beforeEach(async () => {
      h = await startHarness({ env: { HALLPASS_PUBLIC_URL: `${PUBLIC}/`, HALLPASS_TRUSTED_PROXIES: PROXY } });
    });

    it('answers a one-time link, and following it makes the request from the browser’s address', async () => {
      const answer = await answerTo(h, 'prod-db 30m debugging slow queries');
      expect(answer).toContain(`${PUBLIC}/address?t=`);
      expect(approvalPosts(h.slack)).toHaveLength(0);
      const path = linkPath(answer);
      const secret = path.split('t=')[1] ?? '';
      // Only a hash is stored: the secret is nowhere in the database.
      const rows = await h.db.rows('SELECT * FROM address_links');
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain(secret);

      const page = await get(h, path, '127.0.0.2');

      expect(page.status).toBe(200);
      expect(page.headers['cache-control']).toBe('no-store');
      expect(page.headers['referrer-policy']).toBe('no-referrer');
      expect(page.body).toContain('127.0.0.2');
      expect(page.body).not.toContain(secret);
      await h.slack.waitFor(() => approvalPosts(h.slack).length === 1 || undefined);
      const requestId = lastRequestId(h);
      const card = await h.hallpass.useCases.cardOf(requestId);
      expect(card?.request.source?.cidr).toBe('127.0.0.2/32');
      expect(card?.request.reason).toBe('debugging slow queries');
      await h.slack.waitFor(
        () => dmsTo(h.slack, REQUESTER).some((c) => allText(c).includes(requestId)) || undefined,
      );
      // The approver's click opens exactly that /32.
      await h.click(APPROVER, ACTION.approveRequest, requestId);
      await h.slack.waitFor(
        async () => (await h.hallpass.useCases.cardOf(requestId))?.grant?.state === 'active' || undefined,
      );
      expect(h.ec2.rules(GROUP_ID).map((r) => r.cidr)).toEqual(['127.0.0.2/32']);
      // The secret reached no log line, no audit event and no channel message.
      expect(JSON.stringify(h.logger.lines)).not.toContain(secret);
      expect(JSON.stringify(await h.hallpass.useCases.auditTrail(requestId))).not.toContain(secret);
      expect(JSON.stringify(approvalPosts(h.slack))).not.toContain(secret);
    });

    it('answers 410 to a second use, and changes nothing', async () => {
      const path = linkPath(await answerTo(h, 'prod-db 30m debugging'));
      expect((await get(h, path, '127.0.0.2')).status).toBe(200);
      await h.slack.waitFor(() => approvalPosts(h.slack).length === 1 || undefined);

      const again = await get(h, path, '127.0.0.4');
      expect(again.status).toBe(410);
      expect(again.body).toContain('already used');
      await h.hallpass.settled();
      expect(approvalPosts(h.slack)).toHaveLength(1);
    });

    it('answers 410 to a link past its 10 minutes, and 404 to an unknown one', async () => {
      const path = linkPath(await answerTo(h, 'prod-db 30m debugging'));
      await h.advance(10 * MINUTE + 1);
      const late = await get(h, path, '127.0.0.2');
      expect(late.status).toBe(410);
      expect(late.body).toContain('expired');
      expect(
        (await get(h, '/address?t=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '127.0.0.2')).status,
      ).toBe(404);
      expect((await get(h, '/address', '127.0.0.2')).status).toBe(404);
      await h.hallpass.settled();
      expect(approvalPosts(h.slack)).toHaveLength(0);
    });

    it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
      const path = linkPath(await answerTo(h, 'prod-db 30m debugging'));
      const page = await get(h, path, '127.0.0.2', { 'X-Forwarded-For': '198.51.100.9' });
      expect(page.status).toBe(200);
      await h.slack.waitFor(() => approvalPosts(h.slack).length === 1 || undefined);
      expect((await h.hallpass.useCases.cardOf(lastRequestId(h)))?.request.source?.cidr).toBe('127.0.0.2/32');
    });

    it('believes a trusted proxy: the rightmost X-Forwarded-For entry that is not a proxy', async () => {
      const path = linkPath(await answerTo(h, 'prod-db 30m debugging'));
      // The left entry was written by the client and proves nothing; the proxy appended the real one.
      const page = await get(h, path, PROXY, { 'X-Forwarded-For': '192.0.2.66, 198.51.100.9' });
      expect(page.status).toBe(200);
      await h.slack.waitFor(() => approvalPosts(h.slack).length === 1 || undefined);
      expect((await h.hallpass.useCases.cardOf(lastRequestId(h)))?.request.source?.cidr).toBe(
        '198.51.100.9/32',
      );
    });

    it('says so on the page and in Slack when the request is refused at the click, and opens nothing', async () => {
      const path = linkPath(await answerTo(h, 'prod-db 30m debugging'));
      // Between the command and the click the requester left the only group that let them ask.
      h.slack.setGroups([
        { id: 'S0SRE', handle: 'sre', users: [APPROVER] },
        { id: 'S0BACKEND', handle: 'backend', users: [] },
      ]);
      await h.advance(5 * MINUTE);

      const page = await get(h, path, '127.0.0.2');

      expect(page.status).toBe(422);
      expect(page.body).toContain('not made from the address 127.0.0.2');
      await h.slack.waitFor(
        () =>
          dmsTo(h.slack, REQUESTER).some((c) => allText(c).includes('From the address 127.0.0.2')) ||
          undefined,
      );
      expect(approvalPosts(h.slack)).toHaveLength(0);
      expect(h.ec2.rules(GROUP_ID)).toEqual([]);
    });

    it('still asks an AWS role without any address, and gives no link for it', async () => {
      const answer = await answerTo(h, 'prod-readonly 30m reading logs');
      expect(answer).not.toContain('/address?t=');
    });
  });

  it('without HALLPASS_PUBLIC_URL, says plainly to add `from`, with an example', async () => {
    h = await startHarness();
    const answer = await answerTo(h, 'prod-db 30m debugging');
    expect(answer).toContain('add `from` and the address you connect from (an IP or a CIDR)');
    expect(answer).toContain('/access prod-db 30m from 203.0.113.7');
    expect(answer).not.toContain('/address?t=');
  });
});
