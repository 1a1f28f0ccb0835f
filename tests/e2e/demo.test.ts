import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Demo, startDemo } from '../../demo/demo';

/**
 * `npm run demo` without a browser: the page's API drives the real hallpass against the stand-ins, the
 * user's own AWS settings are never used, and stopping leaves nothing behind. (The page itself is
 * tested in Chromium: tests/browser/demo.test.ts.)
 */
describe('npm run demo', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  const post = async (demo: Demo, path: string, body: object) => {
    const res = await fetch(new URL(`api/${path}`, demo.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it("never uses the user's AWS credentials, profile or endpoints: every AWS call reaches the stand-ins with the demo's dummy key", async () => {
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'AKIAUSERSOWNKEY00000',
      AWS_SECRET_ACCESS_KEY: 'users-own-secret',
      AWS_SESSION_TOKEN: 'users-own-session',
      AWS_PROFILE: 'production-admin',
      AWS_ENDPOINT_URL_EC2: 'https://ec2.us-east-1.amazonaws.com',
      AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true',
    });
    const demo = await startDemo({ port: 0 });
    try {
      const asked = await post(demo, 'command', {
        user: 'U0DEMOALICE',
        text: '/access prod-db 30m from 203.0.113.7 checking slow queries',
      });
      expect(asked.status).toBe(200);
      const card = demo.slack.messages('C0DEMOACCESS')[0];
      const requestId = JSON.stringify(card?.blocks).match(/req_[a-z0-9]+/)?.[0];
      const approved = await post(demo, 'click', {
        user: 'U0DEMOBOB',
        surface: 'message',
        channel: 'C0DEMOACCESS',
        ts: card?.ts,
        actionId: 'approve_request',
        value: requestId,
        blockId: 'approval_actions',
        text: 'Approve',
      });
      expect(approved.status).toBe(200);
      expect(demo.ec2.rules().map((r) => r.cidr)).toEqual(['203.0.113.7/32']);
      const keys = new Set(demo.ec2.calls.map((c) => c.accessKeyId));
      expect([...keys]).toEqual(['AKIADEMODEMODEMODEMO']);
      expect(process.env['AWS_PROFILE']).toBeUndefined();
      expect(process.env['AWS_SESSION_TOKEN']).toBeUndefined();

      // The page's state shows it, and a skip past the end closes it.
      const skipped = await post(demo, 'skip', { ms: 31 * 60_000 });
      expect(skipped.status).toBe(200);
      expect(demo.ec2.rules()).toEqual([]);
    } finally {
      await demo.stop();
    }
  });

  it('refuses a skip backwards or beyond a day, and a user it does not know', async () => {
    const demo = await startDemo({ port: 0 });
    try {
      expect((await post(demo, 'skip', { ms: -60_000 })).status).toBe(400);
      expect((await post(demo, 'skip', { ms: 25 * 3_600_000 })).status).toBe(400);
      expect((await post(demo, 'command', { user: 'U0MALLORY', text: '/access list' })).status).toBe(400);
      expect(demo.clock.offsetMs()).toBe(0);
      expect(demo.slack.callsTo('response_url')).toEqual([]);
    } finally {
      await demo.stop();
    }
  });

  it('says which setting to change when its port is taken, and leaves nothing running or on disk', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      await expect(startDemo({ port })).rejects.toThrow(
        `DEMO_PORT: port ${port} is already in use; choose another, e.g. DEMO_PORT=4000 npm run demo`,
      );
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
    const demo = await startDemo({ port: 0 });
    expect(existsSync(demo.dir)).toBe(true);
    await demo.stop();
    expect(existsSync(demo.dir)).toBe(false);
    await expect(fetch(demo.url)).rejects.toThrow();
  });
});
