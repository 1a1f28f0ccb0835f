/**
 * Text safety for Slack `mrkdwn`. Slack parses `<…>` as mentions, links and special commands
 * (`<!channel>`, `<@U123>`, `<https://x|y>`), and `&` starts an entity. User text (reasons, deny
 * notes, anything echoed back) goes through `escapeMrkdwn` so it can never ping or link; only the
 * views themselves write `<…>` tokens.
 */

const ELLIPSIS = '…';

/** Replaces `&`, `<`, `>` with their entities, so the text renders literally and cannot ping or link. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Shortens `text` to at most `max` UTF-16 units (Slack's limits are at least that generous),
 * ending with an ellipsis when cut. Never splits a surrogate pair.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  let cut = text.slice(0, max - ELLIPSIS.length);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut + ELLIPSIS;
}

/**
 * User text made safe for `mrkdwn` and bounded: the *escaped* result is at most `max` units long.
 * Cuts between characters of the original text, so an entity (`&amp;`) is never split.
 */
export function safeText(text: string, max: number): string {
  const full = escapeMrkdwn(text);
  if (full.length <= max) return full;
  const budget = max - ELLIPSIS.length;
  let out = '';
  for (const ch of text) {
    const piece = escapeMrkdwn(ch);
    if (out.length + piece.length > budget) break;
    out += piece;
  }
  return out + ELLIPSIS;
}

/**
 * Characters Slack's `mrkdwn` formats with (bold, italic, strike, code), and the look-alikes that
 * stand in for them in quoted user text, so a reason can never render as formatting.
 */
const FORMATTING: Readonly<Record<string, string>> = { '*': '∗', _: 'ˍ', '~': '∼', '`': 'ˋ' };

/**
 * User text (a reason, a deny note) as inert, quoted text for `mrkdwn`: on one line (every run of
 * whitespace, new lines included, becomes one space), escaped (`&`, `<`, `>`), formatting characters
 * replaced by look-alikes, bounded, between “quotes”. It cannot ping, link, format, or pose as another
 * line or field of the message around it. The exact text stays in the audit log.
 */
export function inertText(text: string, max: number): string {
  const flat = text
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[*_~`]/g, (ch) => FORMATTING[ch] ?? ch);
  return `“${safeText(flat, Math.max(1, max - 2))}”`;
}

/**
 * User text shown inside an inline code span: escaped, bounded, and with backticks replaced so
 * the span cannot be closed early. Returns the text *with* its surrounding backticks.
 */
export function safeCode(text: string, max = 100): string {
  const flat = text.replace(/`/g, "'").replace(/\s+/g, ' ');
  return `\`${safeText(flat, Math.max(1, max - 2))}\``;
}

/** Slack user ids (`U…`, `W…`; `_` allowed for readable test ids); anything else (the system actor `hallpass`) is plain text. */
const USER_ID = /^[UW][A-Za-z0-9_]+$/;
const CHANNEL_ID = /^[CGD][A-Za-z0-9_]+$/;

/** `<@U123>` for a Slack user id; other actor names (`hallpass`) appear escaped, as words. */
export function mention(userId: string): string {
  return USER_ID.test(userId) ? `<@${userId}>` : safeText(userId, 80);
}

/** `<#C123>` for a channel id; anything else escaped, as words. */
export function channelLink(channelId: string): string {
  return CHANNEL_ID.test(channelId) ? `<#${channelId}>` : safeText(channelId, 80);
}

/** The exact ISO-8601 UTC form every shown time carries, e.g. `2026-11-25T12:30:00.000Z`. */
export const isoUtc = (d: Date): string => d.toISOString();

/**
 * A time shown in each reader's own time zone by Slack, with the exact ISO-8601 UTC string as
 * the fallback inside the token (what clients without date support, notifications and
 * auditors reading the raw text see).
 */
export function slackDate(d: Date): string {
  const unix = Math.floor(d.getTime() / 1000);
  return `<!date^${unix}^{date_short_pretty} {time_secs}|${isoUtc(d)}>`;
}
