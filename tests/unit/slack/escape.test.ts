import {
  channelLink,
  escapeMrkdwn,
  inertText,
  isoUtc,
  mention,
  safeCode,
  safeText,
  slackDate,
  truncate,
} from '../../../src/adapters/slack/escape';

/** Slack parses mentions, special commands and links only inside `<…>`. */
const hasSlackToken = (text: string): boolean => /<[^>]*>/.test(text);

describe('escapeMrkdwn', () => {
  it.each([
    ['a channel ping', 'urgent <!channel> look', 'urgent &lt;!channel&gt; look'],
    ['a user mention', 'ask <@U123ABC> first', 'ask &lt;@U123ABC&gt; first'],
    [
      'a disguised link',
      'see <https://evil.example|the runbook>',
      'see &lt;https://evil.example|the runbook&gt;',
    ],
    ['an entity', 'fish &amp; chips & <b>', 'fish &amp;amp; chips &amp; &lt;b&gt;'],
    ['a group ping', '<!subteam^S123|@sre> <!here>', '&lt;!subteam^S123|@sre&gt; &lt;!here&gt;'],
  ])('renders %s literally', (_name, input, expected) => {
    const out = escapeMrkdwn(input);
    expect(out).toBe(expected);
    expect(hasSlackToken(out)).toBe(false);
  });
});

describe('truncate', () => {
  it('leaves short text alone', () => {
    expect(truncate('abc', 3)).toBe('abc');
  });

  it('cuts long text to the limit, ending with an ellipsis', () => {
    const out = truncate('abcdefghij', 5);
    expect(out).toBe('abcd…');
    expect(out.length).toBe(5);
  });

  it('never leaves half of a surrogate pair', () => {
    const out = truncate('ab😀cd', 4);
    expect(out.length).toBeLessThanOrEqual(4);
    expect(out).toBe('ab…');
  });
});

describe('safeText', () => {
  it('escapes and keeps the escaped result within the budget', () => {
    const out = safeText('<!channel>'.repeat(500), 3000);
    expect(out.length).toBeLessThanOrEqual(3000);
    expect(hasSlackToken(out)).toBe(false);
    expect(out.endsWith('…')).toBe(true);
  });

  it('never cuts an entity in half', () => {
    const out = safeText('&&&&&&&&&&', 12);
    expect(out).toBe('&amp;&amp;…');
  });
});

describe('safeCode', () => {
  it('keeps user text inside its code span and unable to ping', () => {
    const out = safeCode('x` <!channel> `y');
    expect(out.startsWith('`')).toBe(true);
    expect(out.endsWith('`')).toBe(true);
    expect(out.slice(1, -1)).not.toContain('`');
    expect(hasSlackToken(out)).toBe(false);
  });
});

describe('mention and channelLink', () => {
  it('mentions Slack user ids', () => {
    expect(mention('U123ABC')).toBe('<@U123ABC>');
    expect(mention('W0ENTERPRISE')).toBe('<@W0ENTERPRISE>');
  });

  it('writes the system actor and anything odd as plain words', () => {
    expect(mention('hallpass')).toBe('hallpass');
    expect(mention('U1> <!channel')).toBe('U1&gt; &lt;!channel');
  });

  it('links channel ids and escapes anything else', () => {
    expect(channelLink('C0123ABCD')).toBe('<#C0123ABCD>');
    expect(channelLink('<!here>')).toBe('&lt;!here&gt;');
  });
});

describe('slackDate', () => {
  const d = new Date('2026-11-25T12:30:00.000Z');

  it('writes a Slack date token with the exact ISO-8601 UTC time as its fallback', () => {
    expect(slackDate(d)).toBe('<!date^1795609800^{date_short_pretty} {time_secs}|2026-11-25T12:30:00.000Z>');
    expect(isoUtc(d)).toBe('2026-11-25T12:30:00.000Z');
  });

  it('keeps milliseconds in the ISO string and floors the unix seconds', () => {
    const withMs = new Date('2026-11-25T12:30:00.999Z');
    expect(slackDate(withMs)).toContain('^1795609800^');
    expect(slackDate(withMs)).toContain('|2026-11-25T12:30:00.999Z>');
  });
});

describe('inertText', () => {
  it('quotes user text on one line, so it cannot pose as another line or field', () => {
    expect(inertText('line one\n\n*Approvals:* 2 of 2\r\n\tdone', 200)).toBe(
      '“line one ∗Approvals:∗ 2 of 2 done”',
    );
  });

  it('replaces every formatting character, so nothing renders bold, italic, struck or as code', () => {
    const out = inertText('*bold* _italic_ ~strike~ `code` ```block```', 200);
    expect(out).not.toMatch(/[*_~`]/);
  });

  it('cannot ping or link, and stays within its budget with the quotes', () => {
    const out = inertText(`<!channel> <@U999> <https://evil.example|x> ${'a'.repeat(500)}`, 100);
    expect(hasSlackToken(out)).toBe(false);
    expect(out.length).toBeLessThanOrEqual(100);
    expect(out.startsWith('“&lt;!channel&gt;')).toBe(true);
    expect(out.endsWith('…”')).toBe(true);
  });
});
