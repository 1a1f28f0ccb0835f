import { ACTION } from '../../src/adapters/slack/ids';
import { errorText } from '../../src/adapters/slack/views/errors';
import { err } from '../../src/domain/result';
import { APPROVER, GROUP_ID, type Harness, OUTSIDER, REQUESTER, startHarness } from '../support/harness';
import {
  allText,
  approvalPosts,
  cardMessage,
  ec2Changes,
  lastRequestId,
  replyAfter,
} from '../support/slack-queries';

/**
 * `/access` with bad input: every mistake gets its own sentence back, privately, and nothing
 * happens — no request stored, no approval message, no AWS call.
 */

const ADDRESS = '203.0.113.7';
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Types `/access <text>` and returns the private answer. */
async function access(h: Harness, user: string, text: string): Promise<string> {
  const since = h.slack.calls.length;
  const res = await h.command(user, text);
  expect(res.status).toBe(200);
  return replyAfter(h.slack, user, since);
}

/** Nothing was stored, posted to a channel or a DM, updated, or asked of EC2. */
async function expectNothingChanged(h: Harness): Promise<void> {
  const { pending, active } = await h.hallpass.useCases.overview();
  expect(pending).toEqual([]);
  expect(active).toEqual([]);
  expect(approvalPosts(h.slack)).toEqual([]);
  expect(h.slack.callsTo('chat.postMessage')).toEqual([]);
  expect(h.slack.callsTo('chat.update')).toEqual([]);
  expect(h.ec2.calls).toEqual([]);
  expect(h.ec2.rules(GROUP_ID)).toEqual([]);
}

describe('/access refuses bad input with a specific answer and changes nothing', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it.each([
    {
      what: 'an unknown resource',
      user: REQUESTER,
      text: `nope-db 30m from ${ADDRESS} debugging`,
      refusal: err('UNKNOWN_RESOURCE', { resourceId: 'nope-db' }),
      says: ['no resource called `nope-db`', '/access resources'],
    },
    {
      what: 'a resource the user may not ask for',
      user: OUTSIDER,
      text: `prod-db 30m from ${ADDRESS} debugging`,
      refusal: err('NOT_REQUESTER', { resourceId: 'prod-db' }),
      says: ['not on the list of people who may ask for `prod-db`'],
    },
    {
      what: 'an unparsable duration',
      user: REQUESTER,
      text: `prod-db 30x from ${ADDRESS} debugging`,
      refusal: err('INVALID_DURATION', { input: '30x' }),
      says: ['`30x` is not a duration', '`1h30m`'],
    },
    {
      what: 'a zero duration',
      user: REQUESTER,
      text: `prod-db 0m from ${ADDRESS} debugging`,
      refusal: err('ZERO_DURATION', { input: '0m' }),
      says: ['`0m` would grant no time at all'],
    },
    {
      what: 'a duration below the minimum',
      user: REQUESTER,
      text: `prod-db 30s from ${ADDRESS} debugging`,
      refusal: err('DURATION_TOO_SHORT', { resourceId: 'prod-db', min: MINUTE, requested: 30 * SECOND }),
      says: ['30s is shorter than the minimum of 1m'],
    },
    {
      what: 'a duration above the maximum',
      user: REQUESTER,
      text: `prod-db 2h from ${ADDRESS} debugging`,
      refusal: err('DURATION_TOO_LONG', { resourceId: 'prod-db', max: HOUR, requested: 2 * HOUR }),
      says: ['2h is longer than the maximum of 1h', 'ask for 1h or less'],
    },
    {
      what: 'an address with an octet over 255',
      user: REQUESTER,
      text: 'prod-db 30m from 999.1.1.1 debugging',
      refusal: err('INVALID_ADDRESS', { input: '999.1.1.1' }),
      says: ['`999.1.1.1` is not an IP address or CIDR'],
    },
    {
      what: 'an address that is not one',
      user: REQUESTER,
      text: 'prod-db 30m from not-an-ip debugging',
      refusal: err('INVALID_ADDRESS', { input: 'not-an-ip' }),
      says: ['`not-an-ip` is not an IP address or CIDR'],
    },
    {
      what: 'the whole IPv4 internet',
      user: REQUESTER,
      text: 'prod-db 30m from 0.0.0.0/0 debugging',
      refusal: err('ADDRESS_TOO_WIDE', { cidr: '0.0.0.0/0', prefix: 0, required: 32, family: 4 }),
      says: ['`0.0.0.0/0` is the whole internet, which is never allowed'],
    },
    {
      what: 'the whole IPv6 internet',
      user: REQUESTER,
      text: 'prod-db 30m from ::/0 debugging',
      refusal: err('ADDRESS_TOO_WIDE', { cidr: '::/0', prefix: 0, required: 128, family: 6 }),
      says: ['`::/0` is the whole internet, which is never allowed'],
    },
    {
      what: 'a /24 where only single addresses are allowed (default /32)',
      user: REQUESTER,
      text: 'prod-db 30m from 203.0.113.0/24 debugging',
      refusal: err('ADDRESS_TOO_WIDE', { cidr: '203.0.113.0/24', prefix: 24, required: 32, family: 4 }),
      says: ['`203.0.113.0/24` is too wide', 'only allows single IPv4 addresses (/32)'],
    },
    {
      what: 'a /27 where /28 is the widest allowed',
      user: REQUESTER,
      text: 'prod-web 30m from 203.0.113.0/27 deploying',
      refusal: err('ADDRESS_TOO_WIDE', { cidr: '203.0.113.0/27', prefix: 27, required: 28, family: 4 }),
      says: ['`203.0.113.0/27` is too wide', 'ranges of /28 or narrower'],
    },
    {
      what: 'a range with host bits set',
      user: REQUESTER,
      text: 'prod-web 30m from 203.0.113.7/28 deploying',
      refusal: err('ADDRESS_HOST_BITS_SET', { input: '203.0.113.7/28', suggestion: '203.0.113.0/28' }),
      says: ['did you mean `203.0.113.0/28`'],
    },
    {
      what: 'no `from` address for a security group',
      user: REQUESTER,
      text: 'prod-db 30m debugging slow queries',
      refusal: err('ADDRESS_REQUIRED', {
        resourceId: 'prod-db',
        example: '/access prod-db 30m from 203.0.113.7 …',
      }),
      says: ['`prod-db` opens a network rule', 'from 203.0.113.7'],
    },
    {
      what: '`from` with nothing after it',
      user: REQUESTER,
      text: 'prod-db 30m from',
      refusal: err('MISSING_ADDRESS'),
      says: ['`from` must be followed by the address you connect from'],
    },
    {
      what: 'no reason',
      user: REQUESTER,
      text: `prod-db 30m from ${ADDRESS}`,
      refusal: err('MISSING_REASON', { resourceId: 'prod-db' }),
      says: ['Say why you need access'],
    },
    {
      what: 'a 3,000-character reason',
      user: REQUESTER,
      text: `prod-db 30m from ${ADDRESS} ${'x'.repeat(3000)}`,
      refusal: err('REASON_TOO_LONG', { length: 3000, max: 1000 }),
      says: ['Your reason is 3000 characters long', 'keep it to 1000 characters or fewer'],
    },
  ])('refuses $what ($refusal.error)', async ({ user, text, refusal, says }) => {
    const reply = await access(h, user, text);

    // The sentence written for this code, with the facts that make it useful.
    expect(reply).toBe(errorText(refusal));
    for (const fact of says) expect(reply).toContain(fact);
    await expectNothingChanged(h);
  });

  it('accepts a /28 where /28 is the widest allowed, and opens nothing before approval', async () => {
    const reply = await access(h, REQUESTER, 'prod-web 30m from 203.0.113.0/28 deploying');

    expect(reply).toContain('for approval');
    expect(approvalPosts(h.slack)).toHaveLength(1);
    const requestId = lastRequestId(h);
    expect((await h.hallpass.useCases.cardOf(requestId))?.request).toMatchObject({
      state: 'pending',
      source: { cidr: '203.0.113.0/28', prefix: 28 },
    });
    expect(allText(approvalPosts(h.slack)[0])).toContain('203.0.113.0/28');
    expect(ec2Changes(h)).toEqual([]);
  });

  it('shows a reason with Slack markup literally: it cannot ping the channel or mention anyone', async () => {
    const reason = '<!channel> <@UADMIN1> *bold*';
    await access(h, REQUESTER, `prod-db 30m from ${ADDRESS} ${reason}`);

    const [card] = approvalPosts(h.slack);
    const cardText = allText(card);
    // Quoted as plain text on its own (no formatting, no token), angle brackets shown as ‹ ›.
    expect(cardText).toContain('Reason: “‹!channel› ‹@UADMIN1› *bold*”');
    // Stored as typed: escaping belongs to the view, not to the record.
    expect((await h.hallpass.useCases.cardOf(lastRequestId(h)))?.request.reason).toBe(reason);
    for (const call of h.slack.calls) {
      const seen = allText(call);
      expect(seen).not.toContain('<!channel>');
      expect(seen).not.toContain('<@UADMIN1>');
    }
  });

  it('never echoes markup from a bad input raw', async () => {
    const reply = await access(h, REQUESTER, 'prod-db 30m from <!channel> debugging');

    expect(reply).toContain('&lt;!channel&gt;');
    expect(reply).not.toContain('<!channel>');
    await expectNothingChanged(h);
  });

  it('ignores a redelivered command: one request, one approval message, one answer', async () => {
    const text = `prod-db 30m from ${ADDRESS} debugging slow queries`;
    await access(h, REQUESTER, text);
    const callsBefore = h.slack.calls.length;

    const retried = await h.command(REQUESTER, text, { retryNum: 1 });
    expect(retried.status).toBe(200);
    // The redelivery answers nothing; a later command's answer shows it has been handled.
    await helpAnswered(h, REQUESTER, callsBefore);

    expect(approvalPosts(h.slack)).toHaveLength(1);
    expect((await h.hallpass.useCases.overview()).pending).toHaveLength(1);
    const newCalls = h.slack.calls.slice(callsBefore);
    expect(newCalls.map((c) => c.method)).toEqual(['response_url']); // the answer to `help` only
  });

  it('ignores a redelivered Approve click: no second vote, no second answer, nothing opened', async () => {
    await access(h, REQUESTER, `prod-web 30m from ${ADDRESS} deploying`);
    const requestId = lastRequestId(h);
    const since = h.slack.calls.length;
    await h.click(APPROVER, ACTION.approveRequest, requestId);
    await h.slack.waitFor((calls) => calls.slice(since).some((c) => /approved \(1 of 2\)/.test(allText(c))));
    const cardBefore = await cardMessage(h, requestId);
    const callsBefore = h.slack.calls.length;

    const retried = await h.click(APPROVER, ACTION.approveRequest, requestId, { retryNum: 1 });
    expect(retried.status).toBe(200);
    // A genuine second click takes the same path and is answered; the redelivery before it is not.
    await h.click(APPROVER, ACTION.approveRequest, requestId);
    const alreadyApproved = errorText(err('ALREADY_APPROVED'));
    await h.slack.waitFor((calls) => calls.slice(callsBefore).some((c) => allText(c) === alreadyApproved));
    await helpAnswered(h, APPROVER, callsBefore);

    const answers = h.slack.calls.slice(callsBefore).map(allText);
    expect(answers.filter((t) => t === alreadyApproved)).toHaveLength(1);
    expect(answers).toHaveLength(2); // that answer and the help
    expect((await h.hallpass.useCases.cardOf(requestId))?.approvals).toHaveLength(1);
    expect((await h.hallpass.useCases.cardOf(requestId))?.request.state).toBe('pending');
    expect(await cardMessage(h, requestId)).toEqual(cardBefore);
    expect(ec2Changes(h)).toEqual([]);
  });
});

/** Types `/access help` and waits for its answer: a barrier after deliveries that answer nothing. */
async function helpAnswered(h: Harness, user: string, since: number): Promise<void> {
  await h.command(user, 'help');
  await h.slack.waitFor((calls) => calls.slice(since).some((c) => allText(c).includes('How to use /access')));
}
