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
  const shows = (selector: string, text: string) => page.locator(selector, { hasText: text }).waitFor();

  it('takes a request from alice, an approval from bob, opens the rule, and closes it when time is skipped past the end', async () => {
    await page.goto(demo.url);
    await as('alice');
    // Home tab: published by hallpass when the page opened it for alice.
    await shows('#home', 'Hi @alice');

    await page.locator('#command-text').fill('/access prod-db 30m from 203.0.113.7 checking slow queries');
    await page.getByRole('button', { name: 'Send' }).click();
    await shows('#messages', 'Access request: prod-db');
    const card = await page.locator('#messages').textContent();
    expect(card).toContain('@alice asks for 30m of access to prod-db');
    expect(card).toContain('Reason: “checking slow queries”');
    expect(await page.locator('#private').textContent()).toContain('only visible to you');
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
    expect(await page.locator('#messages').textContent()).toMatch(
      /Access to prod-db for @alice .* closed at .*\(expired\)/,
    );
    await shows('#rules', 'No ingress rules: closed.');
    expect(await page.locator('#rules').textContent()).not.toContain('203.0.113.7');
    expect(await page.locator('#clock').textContent()).toContain('skipped 31 min ahead');
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
  });
});
