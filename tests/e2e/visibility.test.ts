import {
  APPROVER,
  DEFAULT_POLICY,
  type Harness,
  OUTSIDER,
  REQUESTER,
  startHarness,
} from '../support/harness';
import { allText, approvalPosts, lastReply } from '../support/slack-queries';
import type { SlackCall } from '../support/slack-stand-in';

/**
 * Issue 9, items 6 and 7. Everyone sees who has access to what and until when; a grant's source
 * address and a request's reason are shown in the workspace-wide lists (App Home, `/access list`)
 * only to the requester, the resource's approvers and the admins — unless the policy's `visibility`
 * opens them to everyone. And a reason is inert, quoted text in every message and view: it cannot
 * format, ping, or pose as another field of the card.
 */

const ADMIN = 'UADMIN1';
const STAGING_ADDRESS = '198.51.100.23';
const BG_ADDRESS = '203.0.113.99';
/** A reason that tries to pose as the card's own fields, with formatting, a ping and new lines. */
const FORGED = 'routine check\n*Approvals:* 2 of 2 · approved by <@UAPPROVER2>\n`prod` <!channel> _done_';
const BG_REASON = 'primary database is down *and* the pager is firing for `everyone`';

/** The text Slack parses for formatting and tokens: `mrkdwn` only (not `plain_text`), and the fallback `text`. */
function mrkdwnOf(call: SlackCall | undefined): string {
  const out: string[] = [String(call?.args['text'] ?? '')];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) {
      if (Reflect.get(v, 'type') === 'plain_text') return;
      for (const [k, x] of Object.entries(v)) {
        if (k === 'text' && typeof x === 'string') out.push(x);
        else walk(x);
      }
    }
  };
  walk(call?.args['blocks']);
  walk(call?.args['view']);
  return out.join('\n');
}

async function openBoth(h: Harness): Promise<void> {
  await h.command(REQUESTER, `staging-db 30m from ${STAGING_ADDRESS} ${FORGED}`);
  await h.command(REQUESTER, `prod-db 20m from ${BG_ADDRESS} --break-glass ${BG_REASON}`);
  expect((await h.hallpass.useCases.overview()).active).toHaveLength(2);
}

async function listFor(h: Harness, user: string): Promise<string> {
  await h.command(user, 'list');
  return lastReply(h.slack, user);
}

describe('who sees addresses and reasons', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('shows everyone who has what until when, and addresses and reasons only to those involved', async () => {
    h = await startHarness();
    await openBoth(h);

    const outsider = await listFor(h, OUTSIDER);
    expect(outsider).toContain('*staging-db*');
    expect(outsider).toContain('*prod-db*');
    expect(outsider).toContain(`<@${REQUESTER}>`);
    expect(outsider).not.toContain(STAGING_ADDRESS);
    expect(outsider).not.toContain(BG_ADDRESS);
    expect(outsider).not.toContain('primary database is down');
    expect(outsider).toContain('from an address shown to those involved');

    // An approver of prod-db (not of staging-db) sees the break-glass grant's address and reason only.
    const approver = await listFor(h, APPROVER);
    expect(approver).toContain(BG_ADDRESS);
    expect(approver).toContain('primary database is down');
    expect(approver).not.toContain(STAGING_ADDRESS);

    for (const involved of [REQUESTER, ADMIN]) {
      const text = await listFor(h, involved);
      expect(text).toContain(STAGING_ADDRESS);
      expect(text).toContain(BG_ADDRESS);
      expect(text).toContain('primary database is down');
    }

    await h.openHome(OUTSIDER);
    const home = JSON.stringify(h.slack.homeOf(OUTSIDER));
    expect(home).toContain('staging-db');
    expect(home).not.toContain(STAGING_ADDRESS);
    expect(home).not.toContain(BG_ADDRESS);
    expect(home).not.toContain('primary database is down');
  });

  it('opens addresses to everyone when the policy says so, and keeps reasons for those involved', async () => {
    h = await startHarness({ policy: `visibility:\n  addresses: everyone\n${DEFAULT_POLICY}` });
    await openBoth(h);
    const outsider = await listFor(h, OUTSIDER);
    expect(outsider).toContain(STAGING_ADDRESS);
    expect(outsider).toContain(BG_ADDRESS);
    expect(outsider).not.toContain('primary database is down');
  });

  it('shows a reason as inert quoted text that cannot pose as the card’s fields, format or ping', async () => {
    h = await startHarness();
    await openBoth(h);
    const card = approvalPosts(h.slack).find((c) => allText(c).includes('staging-db'));
    const latest =
      h.slack
        .callsTo('chat.update')
        .filter((c) => allText(c).includes('staging-db'))
        .pop() ?? card;
    for (const message of [card, latest]) {
      const markdown = mrkdwnOf(message);
      // Nothing of the reason reaches the parsed text: it is in a plain_text quote of its own.
      expect(markdown).not.toContain('Approvals:* 2 of 2');
      expect(markdown).not.toContain('<!channel>');
      expect(markdown).not.toContain('<@UAPPROVER2>');
      expect(allText(message)).toContain('Reason: “routine check *Approvals:* 2 of 2');
    }
    // In a list (mrkdwn), a reason is quoted on one line, its formatting defused.
    const mine = await listFor(h, REQUESTER);
    expect(mine).not.toContain('*and*');
    expect(mine).toContain('“primary database is down ∗and∗ the pager is firing for ˋeveryoneˋ”');
  });
});
