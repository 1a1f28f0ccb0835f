/**
 * Block Kit to HTML for the demo page: pure string functions (no DOM), so they are unit-tested in node
 * and served to the browser as a module. Everything that came from Slack text is HTML-escaped before it
 * is placed; the only markup is the one written here. Buttons carry what a click needs in data-
 * attributes (escaped too); the page wires them up.
 */

/** Names to show for `<@U…>`, `<#C…>` and `<!subteam^S…>` mentions. */
export type Names = {
  readonly users: Readonly<Record<string, string>>;
  readonly channels: Readonly<Record<string, string>>;
  readonly groups: Readonly<Record<string, string>>;
};

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Slack's own escaping in message text: `&amp;`, `&lt;`, `&gt;` stand for the characters. */
const unslack = (text: string): string =>
  text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** Only web and mail links become anchors: a `javascript:` URL in Slack text stays text. */
const SAFE_URL = /^(https?:|mailto:)/i;

/** One `<…>` token: a mention, a link, or a special (`<!here>`). */
function token(inner: string, names: Names): string {
  const [target = '', label] = inner.split('|', 2);
  if (target.startsWith('@')) {
    const id = target.slice(1);
    return `<span class="mention">@${escapeHtml(names.users[id] ?? label ?? id)}</span>`;
  }
  if (target.startsWith('#')) {
    const id = target.slice(1);
    return `<span class="mention">#${escapeHtml(names.channels[id] ?? label ?? id)}</span>`;
  }
  if (target.startsWith('!subteam^')) {
    const id = target.slice('!subteam^'.length);
    const handle = names.groups[id] ?? label?.replace(/^@/, '') ?? id;
    return `<span class="mention">@${escapeHtml(handle)}</span>`;
  }
  if (target.startsWith('!date^')) {
    // `<!date^seconds^format|fallback>`: Slack shows the time in the reader's zone; the demo in UTC.
    const seconds = Number(target.split('^')[1]);
    const when = Number.isFinite(seconds)
      ? `${new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ')} UTC`
      : unslack(label ?? target);
    return `<time>${escapeHtml(when)}</time>`;
  }
  if (target.startsWith('!')) return `<span class="mention">@${escapeHtml(target.slice(1))}</span>`;
  const url = unslack(target);
  const text = escapeHtml(unslack(label ?? target));
  return SAFE_URL.test(url)
    ? `<a href="${escapeHtml(url)}" target="_blank" rel="noopener">${text}</a>`
    : text;
}

/** `*bold*`, `_italic_`, `~strike~` on already escaped text (escaping never adds those characters). */
function emphasis(html: string): string {
  return html
    .replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,:;!?])/g, '$1<b>$2</b>')
    .replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,:;!?])/g, '$1<i>$2</i>')
    .replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,:;!?])/g, '$1<s>$2</s>');
}

/** Plain text between tokens: code spans kept verbatim, emphasis elsewhere, line breaks kept. */
function textRun(raw: string): string {
  return raw
    .split(/(```[\s\S]*?```|`[^`\n]+`)/)
    .map((part) => {
      if (part.startsWith('```') && part.endsWith('```') && part.length >= 6)
        return `<pre>${escapeHtml(unslack(part.slice(3, -3)))}</pre>`;
      if (part.startsWith('`') && part.endsWith('`') && part.length >= 2)
        return `<code>${escapeHtml(unslack(part.slice(1, -1)))}</code>`;
      return emphasis(escapeHtml(unslack(part)));
    })
    .join('')
    .replace(/\n/g, '<br>');
}

/** Slack `mrkdwn` to HTML: mentions as names, links, bold, italic, strike, code; everything else escaped. */
export function mrkdwn(text: string, names: Names): string {
  return text
    .split(/(<[^<>\s][^<>]*>)/)
    .map((part) => (/^<[^<>]+>$/.test(part) ? token(part.slice(1, -1), names) : textRun(part)))
    .join('');
}

/** A text object (`mrkdwn` or `plain_text`). */
export function textObject(t: unknown, names: Names): string {
  const o = obj(t);
  return o['type'] === 'mrkdwn' ? mrkdwn(str(o['text']), names) : escapeHtml(str(o['text']));
}

/** A button with what a click needs: action id, value, block id, its label. */
function button(el: Obj, blockId: string, names: Names): string {
  const style = str(el['style']);
  const label = str(obj(el['text'])['text']);
  return `<button type="button" class="btn${style === 'primary' || style === 'danger' ? ` ${style}` : ''}" data-action-id="${escapeHtml(
    str(el['action_id']),
  )}" data-value="${escapeHtml(str(el['value']))}" data-block-id="${escapeHtml(blockId)}" data-text="${escapeHtml(
    label,
  )}">${textObject(el['text'], names)}</button>`;
}

/** An input element of a modal; its value is read back by block id and action id. */
function inputElement(el: Obj, blockId: string): string {
  const ids = `data-block-id="${escapeHtml(blockId)}" data-action-id="${escapeHtml(str(el['action_id']))}" data-type="${escapeHtml(
    str(el['type']),
  )}"`;
  const placeholder = escapeHtml(str(obj(el['placeholder'])['text']));
  switch (el['type']) {
    case 'plain_text_input': {
      const initial = escapeHtml(str(el['initial_value']));
      return el['multiline'] === true
        ? `<textarea ${ids} placeholder="${placeholder}">${initial}</textarea>`
        : `<input type="text" ${ids} placeholder="${placeholder}" value="${initial}">`;
    }
    case 'static_select': {
      const initial = str(obj(el['initial_option'])['value']);
      const options = arr(el['options'])
        .map(obj)
        .map((opt) => {
          const value = str(opt['value']);
          return `<option value="${escapeHtml(value)}"${value === initial ? ' selected' : ''}>${escapeHtml(
            str(obj(opt['text'])['text']),
          )}</option>`;
        });
      return `<select ${ids}><option value="">${placeholder || 'Choose…'}</option>${options.join('')}</select>`;
    }
    case 'checkboxes':
      return `<span ${ids}>${arr(el['options'])
        .map(obj)
        .map(
          (opt) =>
            `<label><input type="checkbox" value="${escapeHtml(str(opt['value']))}" data-text="${escapeHtml(
              str(obj(opt['text'])['text']),
            )}"> ${escapeHtml(str(obj(opt['text'])['text']))}</label>`,
        )
        .join(' ')}</span>`;
    default:
      return `<span class="unsupported">[${escapeHtml(str(el['type']))}]</span>`;
  }
}

/** One block. Unknown block types show their type, so nothing hallpass sends disappears silently. */
export function block(b: unknown, names: Names): string {
  const o = obj(b);
  const blockId = str(o['block_id']);
  switch (o['type']) {
    case 'header':
      return `<div class="bk-header">${textObject(o['text'], names)}</div>`;
    case 'divider':
      return '<hr class="bk-divider">';
    case 'section': {
      const text =
        o['text'] === undefined ? '' : `<div class="bk-text">${textObject(o['text'], names)}</div>`;
      const fields = arr(o['fields']);
      const grid =
        fields.length === 0
          ? ''
          : `<div class="bk-fields">${fields.map((f) => `<div>${textObject(f, names)}</div>`).join('')}</div>`;
      const acc = obj(o['accessory']);
      const accessory =
        acc['type'] === 'button' ? `<div class="bk-accessory">${button(acc, blockId, names)}</div>` : '';
      return `<div class="bk-section"><div class="bk-main">${text}${grid}</div>${accessory}</div>`;
    }
    case 'context':
      return `<div class="bk-context">${arr(o['elements'])
        .map((e) => `<span>${textObject(e, names)}</span>`)
        .join(' ')}</div>`;
    case 'actions':
      return `<div class="bk-actions">${arr(o['elements'])
        .map(obj)
        .map((e) => (e['type'] === 'button' ? button(e, blockId, names) : inputElement(e, blockId)))
        .join('')}</div>`;
    case 'input': {
      const hint =
        o['hint'] === undefined ? '' : `<div class="bk-hint">${textObject(o['hint'], names)}</div>`;
      return `<label class="bk-input"><span class="bk-label">${textObject(o['label'], names)}${
        o['optional'] === true ? ' <small>(optional)</small>' : ''
      }</span>${inputElement(obj(o['element']), blockId)}${hint}</label>`;
    }
    default:
      return `<div class="unsupported">[${escapeHtml(str(o['type']))} block]</div>`;
  }
}

/** A message or view's blocks; a message without blocks shows its `text`. */
export function blocks(list: unknown, names: Names, fallbackText = ''): string {
  const all = arr(list);
  if (all.length === 0) return `<div class="bk-text">${mrkdwn(fallbackText, names)}</div>`;
  return all.map((b) => block(b, names)).join('');
}
