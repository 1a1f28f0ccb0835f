import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type Demo, startDemo } from '../../demo/demo';

/**
 * `npm run demo` in a real headless browser: the page as a newcomer uses it, through a whole
 * request → approve → open → expire flow. Asserts on what the page shows (and, once, on the EC2
 * stand-in behind it). Uses the machine's Chromium; without one the suite is skipped, said in one line.
 */
const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  process.stderr.write(
    `tests/browser/demo.test.ts skipped: no Chromium at ${CHROMIUM} (install it with: apt-get install -y chromium)\n`,
  );

(haveChromium ? describe : describe.skip)('the demo page in Chromium', () => {
  jest.setTimeout(60_000);
  let demo: Demo;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    demo = await startDemo({ port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(demo.url);
  });

  afterEach(() => {
    // An error in the page's script fails the test that caused it.
    expect(pageErrors).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  });

  const as = async (name: string) => {
    await page.getByRole('button', { name, exact: true }).click();
    await page.locator(`button.user[aria-pressed="true"]`, { hasText: name }).waitFor();
  };
  const shows = (selector: string, text: string | RegExp) =>
    page.locator(selector, { hasText: text }).waitFor();

  it('takes a request from alice, an approval from bob, opens the rule, and closes it when time is skipped past the end', async () => {
    await as('alice');
    // Home tab: published by hallpass when the page opened it for alice.
    await shows('#home', 'Hi @alice');

    await page.locator('#command-text').fill('/access prod-db 30m from 203.0.113.7 checking slow queries');
    await page.getByRole('button', { name: 'Send' }).click();
    await shows('#messages', 'Access request: prod-db');
    const card = await page.locator('#messages').textContent();
    expect(card).toContain('@alice asks for 30m of access to prod-db');
    expect(card).toContain('Reason: “checking slow queries”');
    await shows('#private', 'only visible to you');
    expect(await page.locator('#rules').textContent()).not.toContain('203.0.113.7');

    await as('bob');
    await page.locator('#messages button[data-action-id="approve_request"]').click();
    await shows('#messages', 'is open until');
    expect(await page.locator('#messages').textContent()).toMatch(
      /Access to prod-db for @alice from 203\.0\.113\.7\/32 \(tcp 5432\) is open until/,
    );
    await shows('#rules tr.rule', '203.0.113.7/32');
    expect(await page.locator('#rules tr.rule').textContent()).toContain('5432');
    expect(demo.ec2.rules().map((r) => r.cidr)).toEqual(['203.0.113.7/32']);

    await as('alice');
    await shows('#private', 'Your access to prod-db');
    expect(await page.locator('#private button', { hasText: 'Done' }).count()).toBeGreaterThan(0);

    await page.getByRole('button', { name: '+30 min' }).click();
    await page.getByRole('button', { name: '+1 min' }).click();
    await shows('#messages', '(expired)');
    // The request card and the start announcement are updated one after the other: wait for the second.
    await shows('#messages', /Access to prod-db for @alice .* closed at .*\(expired\)/);
    await shows('#rules', 'No ingress rules: closed.');
    expect(await page.locator('#rules').textContent()).not.toContain('203.0.113.7');
    // The grant expires during the +30 min skip, so '(expired)' can show before the +1 min skip is drawn.
    await shows('#clock', 'skipped 31 min ahead');
    await shows('#private', 'closed at');
  });

  it('opens the request form for a bare /access, and submitting it posts the request', async () => {
    await as('alice');
    await page.locator('#command-text').fill('/access');
    await page.getByRole('button', { name: 'Send' }).click();
    const modal = page.locator('#modal');
    await modal.locator('select').waitFor();
    await modal.locator('select').selectOption('prod-web');
    await modal.locator('[data-action-id="request_duration_input"]').fill('20m');
    await modal.locator('[data-action-id="request_address_input"]').fill('198.51.100.4');
    await modal.locator('[data-action-id="request_reason_input"]').fill('<b>deploy</b> check');
    await modal.locator('button[type="submit"]').click();
    await shows('#messages', 'Access request: prod-web');
    expect(await page.locator('#modal-backdrop').isHidden()).toBe(true);
    // Typed markup is shown as text, never as markup.
    expect(await page.locator('#messages b', { hasText: 'deploy' }).count()).toBe(0);
    expect(await page.locator('#messages').textContent()).toContain('‹b›deploy‹/b› check');

    // Deny opens its form; the reason given there reaches the card and the requester.
    await as('bob');
    await page
      .locator('#messages .msg', { hasText: 'prod-web' })
      .locator('button', { hasText: 'Deny' })
      .click();
    await modal.locator('textarea').waitFor();
    await modal.locator('textarea').fill('use the staging web tier');
    await modal.locator('button[type="submit"]').click();
    await shows('#messages', 'Denied by @bob');
    await as('alice');
    await shows('#private', 'use the staging web tier');
  });

  it('sends role credentials to the requester alone, says in a form why a role session cannot be extended, and ends with Done', async () => {
    await as('alice');
    await page.locator('#command-text').fill('/access prod-readonly 15m reading CloudWatch');
    await page.getByRole('button', { name: 'Send' }).click();
    await shows('#messages', 'Access request: prod-readonly');
    await as('carol');
    await page
      .locator('#messages .msg', { hasText: 'prod-readonly' })
      .locator('button', { hasText: 'Approve' })
      .click();
    await shows('#messages', 'as role arn:aws:iam::123456789012:role/ProdReadOnly is open until');
    const session = demo.sts.sessions.at(-1);
    expect(session?.sourceIdentity).toBe('alice@example.com');
    expect(await page.locator('#private').textContent()).not.toContain('AWS_SECRET_ACCESS_KEY');

    await as('alice');
    await shows('#private', `export AWS_ACCESS_KEY_ID=${session?.accessKeyId}`);
    const home = page.locator('#home');
    await home.locator('button', { hasText: 'Extend' }).click();
    await shows('#modal', 'a role session cannot be lengthened');
    await page.locator('#modal button', { hasText: 'Close' }).click();
    await page.locator('#modal-backdrop').waitFor({ state: 'hidden' });

    await home.locator('button', { hasText: 'Done' }).click();
    await shows('#messages', 'finished early by @alice');
    await shows('#home', 'Nothing open right now.');
  });

  it('extends a security-group grant through the Extend form and an approval', async () => {
    await as('alice');
    await page.locator('#command-text').fill('/access prod-db 10m from 192.0.2.10 long migration');
    await page.getByRole('button', { name: 'Send' }).click();
    await as('bob');
    await page
      .locator('#messages .msg', { hasText: '192.0.2.10' })
      .locator('button', { hasText: 'Approve' })
      .click();
    await shows('#rules tr.rule', '192.0.2.10/32');
    const opened = demo.ec2.rules()[0]?.tags['hallpass:expires-at'];
    await as('alice');
    await page
      .locator('#private .msg', { hasText: '192.0.2.10' })
      .locator('button', { hasText: 'Extend' })
      .last()
      .click();
    await page.locator('#modal input').fill('15m');
    await page.locator('#modal button[type="submit"]').click();
    await page.locator('#modal-backdrop').waitFor({ state: 'hidden' });
    await as('bob');
    await shows('#messages', 'Extension request: prod-db');
    await page
      .locator('#messages .msg', { hasText: 'Extension request: prod-db' })
      .locator('button', { hasText: 'Approve' })
      .click();
    await shows('#messages', 'Access to prod-db for @alice was extended from');
    // The rule stays; its expiry tag moved 15 minutes on.
    const ends = demo.ec2.rules().map((r) => r.tags['hallpass:expires-at'] ?? '');
    expect(ends).toHaveLength(1);
    await shows('#rules tr.rule', ends[0] ?? 'no rule');
    expect(Date.parse(ends[0] ?? '') - Date.parse(opened ?? '')).toBe(15 * 60_000);
  });
});
