import type { types } from '@slack/bolt';
import { formatDuration } from '../../../domain/duration';
import { truncate } from '../escape';
import { LIMITS } from './limits';

/** What every message view returns: blocks plus the plain `text` Slack shows in notifications. */
export type SlackMessage = { readonly text: string; readonly blocks: types.KnownBlock[] };

/** Longest fallback `text` we send: it is read in notifications, so it stays short. */
const FALLBACK_MAX = 500;

/**
 * A `mrkdwn` text object with `verbatim: true`: Slack then does not auto-link URLs, channel
 * names or bare `@here` in it; only the `<…>` tokens the views write themselves are parsed.
 */
export const md = (text: string): types.MrkdwnElement => ({ type: 'mrkdwn', text, verbatim: true });

export const plain = (text: string, max: number): types.PlainTextElement => ({
  type: 'plain_text',
  text: truncate(text, max),
  emoji: true,
});

/** A section; the 3,000-character cut is a safety net — views budget below it. */
export const section = (text: string): types.SectionBlock => ({
  type: 'section',
  text: md(truncate(text, LIMITS.sectionText)),
});

export const fieldsSection = (fields: readonly string[]): types.SectionBlock => ({
  type: 'section',
  fields: fields.slice(0, LIMITS.fields).map((f) => md(truncate(f, LIMITS.fieldText))),
});

export const header = (text: string): types.HeaderBlock => ({
  type: 'header',
  text: plain(text, LIMITS.headerText),
});

export const context = (texts: readonly string[]): types.ContextBlock => ({
  type: 'context',
  elements: texts.slice(0, LIMITS.contextElements).map((t) => md(truncate(t, LIMITS.contextText))),
});

/**
 * User text quoted on its own, as `plain_text` (Slack renders no formatting, mention or link in it)
 * in a context block of its own: `Reason: “…”`, on one line. It cannot imitate the message's own
 * fields, which are bold `mrkdwn`. Angle brackets become ‹ › besides, so nothing in it even looks like
 * a Slack token (`<!channel>`), whatever a client makes of plain text.
 */
export const quoteBlock = (label: string, text: string): types.ContextBlock => ({
  type: 'context',
  elements: [
    plain(
      `${label}: “${text.replace(/\s+/g, ' ').trim().replace(/</g, '‹').replace(/>/g, '›')}”`,
      LIMITS.contextText,
    ),
  ],
});

export const divider = (): types.DividerBlock => ({ type: 'divider' });

/** The notification fallback: one line, short. */
export const fallback = (text: string): string => truncate(text.replace(/\s*\n\s*/g, ' '), FALLBACK_MAX);

/**
 * Joins entries into as few texts as possible, each at most `max` characters, never splitting
 * an entry (one longer than `max` is cut). Stops after `maxChunks` texts and reports how many
 * entries were left out, so the caller can say "and N more".
 */
export function pack(
  entries: readonly string[],
  opts: { max?: number; maxChunks?: number; separator?: string } = {},
): { chunks: string[]; dropped: number } {
  const max = opts.max ?? LIMITS.sectionText;
  const maxChunks = opts.maxChunks ?? Number.POSITIVE_INFINITY;
  const sep = opts.separator ?? '\n';
  const chunks: string[] = [];
  let current = '';
  for (let i = 0; i < entries.length; i++) {
    const entry = truncate(entries[i] ?? '', max);
    if (current === '') current = entry;
    else if (current.length + sep.length + entry.length <= max) current += `${sep}${entry}`;
    else if (chunks.length + 1 >= maxChunks) {
      chunks.push(current);
      return { chunks, dropped: entries.length - i };
    } else {
      chunks.push(current);
      current = entry;
    }
  }
  if (current !== '') chunks.push(current);
  return { chunks, dropped: 0 };
}

/** The first `max` items and how many were left out (for "and N more"). */
export function capList<T>(items: readonly T[], max: number): { shown: readonly T[]; more: number } {
  return { shown: items.slice(0, max), more: Math.max(0, items.length - max) };
}

/** "12m left", "45s left"; whole minutes above a minute, because seconds there only add noise. */
export function timeLeft(until: Date, now: Date): string {
  const ms = until.getTime() - now.getTime();
  if (ms <= 0) return 'due now';
  if (ms < 60_000) return `${formatDuration(ms)} left`;
  return `${formatDuration(Math.floor(ms / 60_000) * 60_000)} left`;
}

/** "in 5m", "in 45s", "now": how far off `until` is, to the nearest minute above a minute. */
export function inTime(until: Date, now: Date): string {
  const ms = until.getTime() - now.getTime();
  if (ms < 1000) return 'now';
  if (ms < 60_000) return `in ${formatDuration(ms)}`;
  return `in ${formatDuration(Math.round(ms / 60_000) * 60_000)}`;
}
