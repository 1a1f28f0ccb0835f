import { block, blocks, escapeHtml, mrkdwn, type Names } from '../../../demo/page/render';

const names: Names = {
  users: { U0DEMOALICE: 'alice' },
  channels: { C0DEMOACCESS: 'prod-access' },
  groups: { S0DEMOSRE: 'sre' },
};

describe('the demo page renders Block Kit', () => {
  it('escapes HTML in every kind of text', () => {
    expect(escapeHtml(`<script>alert("x")</script> & 'y'`)).toBe(
      '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;',
    );
    // Slack-escaped text is decoded once and escaped for HTML again: never markup.
    expect(mrkdwn('a &lt;b&gt; &amp;lt;img src=x onerror=alert(1)&amp;gt;', names)).toBe(
      'a &lt;b&gt; &amp;lt;img src=x onerror=alert(1)&amp;gt;',
    );
    const html = block(
      { type: 'header', text: { type: 'plain_text', text: '<img src=x onerror=alert(1)>' } },
      names,
    );
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it.each([
    ['*bold*', '<b>bold</b>'],
    ['_italic_', '<i>italic</i>'],
    ['~gone~', '<s>gone</s>'],
    ['`req_abc &lt;x&gt;`', '<code>req_abc &lt;x&gt;</code>'],
    ['`*not bold*`', '<code>*not bold*</code>'],
    ['line one\nline two', 'line one<br>line two'],
    ['<@U0DEMOALICE> asks', '<span class="mention">@alice</span> asks'],
    ['<@U0NOBODY>', '<span class="mention">@U0NOBODY</span>'],
    ['in <#C0DEMOACCESS>', 'in <span class="mention">#prod-access</span>'],
    ['<!subteam^S0DEMOSRE|@sre>', '<span class="mention">@sre</span>'],
    [
      '<https://example.com/a?b=1&amp;c=2|the docs>',
      '<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener">the docs</a>',
    ],
    ['<javascript:alert(1)|click>', 'click'],
    ['<!date^1796041256^{date_short_pretty}|fallback>', '<time>2026-11-30 12:20:56 UTC</time>'],
  ])('mrkdwn %j', (text, html) => {
    expect(mrkdwn(text, names)).toBe(html);
  });

  it('renders a section with fields and a button accessory, and buttons carry what a click needs', () => {
    const html = block(
      {
        type: 'section',
        block_id: 'b"1',
        text: { type: 'mrkdwn', text: '*Duration*' },
        fields: [{ type: 'mrkdwn', text: '`30m`' }],
        accessory: {
          type: 'button',
          action_id: 'done_grant',
          value: 'grt_"x"',
          text: { type: 'plain_text', text: 'Done' },
        },
      },
      names,
    );
    expect(html).toContain('<b>Duration</b>');
    expect(html).toContain('<div class="bk-fields"><div><code>30m</code></div></div>');
    expect(html).toContain(
      'data-action-id="done_grant" data-value="grt_&quot;x&quot;" data-block-id="b&quot;1"',
    );
  });

  it('styles primary and danger buttons, and renders context, divider and input blocks', () => {
    const html = blocks(
      [
        {
          type: 'actions',
          block_id: 'approval_actions',
          elements: [
            {
              type: 'button',
              action_id: 'approve_request',
              style: 'primary',
              value: 'r',
              text: { type: 'plain_text', text: 'Approve' },
            },
            {
              type: 'button',
              action_id: 'deny_request',
              style: 'danger',
              value: 'r',
              text: { type: 'plain_text', text: 'Deny' },
            },
          ],
        },
        { type: 'context', elements: [{ type: 'plain_text', text: 'Reason: *not bold*' }] },
        { type: 'divider' },
        {
          type: 'input',
          block_id: 'request_duration',
          label: { type: 'plain_text', text: 'Duration' },
          element: { type: 'plain_text_input', action_id: 'request_duration_input', initial_value: '30m"' },
        },
        { type: 'video' },
      ],
      names,
    );
    expect(html).toContain('class="btn primary" data-action-id="approve_request"');
    expect(html).toContain('class="btn danger" data-action-id="deny_request"');
    expect(html).toContain('<div class="bk-context"><span>Reason: *not bold*</span></div>');
    expect(html).toContain('<hr class="bk-divider">');
    expect(html).toContain(
      '<input type="text" data-block-id="request_duration" data-action-id="request_duration_input" data-type="plain_text_input" placeholder="" value="30m&quot;">',
    );
    expect(html).toContain('[video block]');
  });

  it('shows a message without blocks by its text', () => {
    expect(blocks([], names, 'hello <@U0DEMOALICE>')).toBe(
      '<div class="bk-text">hello <span class="mention">@alice</span></div>',
    );
  });
});
