import { type AuditSearchError, type AuditSearchFilters, parseSearchFilters } from './audit-search';
import { looksLikeDuration, parseDuration } from './duration';
import { type Err, err, ok, type Result } from './result';

/**
 * The `/access` grammar:
 * ```
 * /access                                                  open the request form
 * /access <resource> [<duration>] [from <ip|cidr>] [--break-glass] <reason…>
 * /access list | resources | help
 * /access revoke <grant-id> | extend <grant-id> <duration> | cancel <request-id>
 * /access audit [<days>]                                   admins: the audit export as a file (default 30 days)
 * /access audit search [who:…] [resource:…] [address:…] [from:…] [to:…] [end:…]
 *                                                          admins: search the audit record (see audit-search.ts)
 * ```
 * A missing duration falls back to the resource's `defaultDuration` (decided by the use case).
 */
export type Command =
  | { readonly kind: 'form' }
  | { readonly kind: 'help' }
  | { readonly kind: 'resources' }
  | { readonly kind: 'list' }
  | { readonly kind: 'revoke'; readonly grantId: string }
  | { readonly kind: 'cancel'; readonly requestId: string }
  | { readonly kind: 'extend'; readonly grantId: string; readonly durationMs: number }
  | { readonly kind: 'audit'; readonly days: number }
  /** `/access audit search key:value …`: who, resource, address, from, to, end (each at most once). */
  | { readonly kind: 'audit-search'; readonly filters: AuditSearchFilters }
  /** Admins: `/access token create|list|revoke|rotate …` (API tokens of automations, see docs/api.md). */
  | TokenCommand
  | {
      readonly kind: 'request';
      readonly resourceId: string;
      readonly durationMs?: number | undefined;
      readonly address?: string | undefined;
      readonly reason: string;
      /** `--break-glass`: open at once without approval, where the resource allows it. */
      readonly breakGlass: boolean;
    };

export type TokenCommand =
  | {
      readonly kind: 'token-create';
      readonly name: string;
      readonly resources: readonly string[];
      readonly autoApproveWithinMs?: number | undefined;
      readonly ttlMs?: number | undefined;
    }
  | { readonly kind: 'token-list' }
  | { readonly kind: 'token-revoke'; readonly name: string }
  | { readonly kind: 'token-rotate'; readonly name: string; readonly overlapMs?: number | undefined };

/** How each `/access token` subcommand is written, for answers to a malformed one. */
export const TOKEN_USAGE = {
  create:
    '/access token create <name> <resource,…> [--auto-approve-within <duration>] [--expires <duration>]',
  list: '/access token list',
  revoke: '/access token revoke <name>',
  rotate: '/access token rotate <name> [--overlap <duration>]',
} as const;

export type CommandError =
  | Err<'INVALID_DURATION' | 'ZERO_DURATION' | 'INVALID_RESOURCE_NAME', { readonly input: string }>
  | Err<'MISSING_ADDRESS' | 'MISSING_DURATION'>
  /** Without a detail when not even a resource was given. */
  | Err<'MISSING_REASON'>
  | Err<'MISSING_REASON', { readonly resourceId: string }>
  | Err<'REASON_TOO_LONG', { readonly length: number; readonly max: number }>
  | Err<'MISSING_ID', { readonly command: 'revoke' | 'cancel' | 'extend' }>
  | Err<'INVALID_DAYS', { readonly input: string | undefined; readonly max: number }>
  /** `/access token …` written wrong: `usage` is how it is written; `problem` what was wrong. */
  | Err<'TOKEN_USAGE', { readonly usage: string; readonly problem: string }>;

/** Words that are subcommands, so no resource may take them as its id. */
export const RESERVED_WORDS = [
  'help',
  'list',
  'resources',
  'revoke',
  'extend',
  'cancel',
  'audit',
  'token',
] as const;

/** The longest window `/access audit <days>` exports. */
export const MAX_AUDIT_DAYS = 366;

/** Longest reason accepted; longer ones are refused (Slack sections hold 3,000 characters in all). */
export const MAX_REASON_LENGTH = 1000;

const RESOURCE_ID = /^[a-z0-9-]{1,64}$/;
const ID = /^[a-z]{3}_[A-Za-z0-9]{1,64}$/;

export function parseCommand(text: string): Result<Command, CommandError | AuditSearchError> {
  const trimmed = text.trim();
  if (trimmed === '') return ok({ kind: 'form' });
  const tokens = trimmed.split(/\s+/);
  const [first = '', second, third] = tokens;
  const word = first.toLowerCase();
  switch (word) {
    case 'help':
    case 'list':
    case 'resources':
      return ok({ kind: word });
    case 'revoke':
      return second !== undefined && ID.test(second)
        ? ok({ kind: 'revoke', grantId: second })
        : err('MISSING_ID', { command: word });
    case 'cancel':
      return second !== undefined && ID.test(second)
        ? ok({ kind: 'cancel', requestId: second })
        : err('MISSING_ID', { command: word });
    case 'extend': {
      if (second === undefined || !ID.test(second)) return err('MISSING_ID', { command: word });
      if (third === undefined) return err('MISSING_DURATION');
      const durationMs = parseDuration(third);
      if (durationMs === undefined) return err('INVALID_DURATION', { input: third });
      if (durationMs === 0) return err('ZERO_DURATION', { input: third });
      return ok({ kind: 'extend', grantId: second, durationMs });
    }
    case 'token':
      return parseTokenCommand(tokens.slice(1));
    case 'audit': {
      if (second?.toLowerCase() === 'search') {
        const filters = parseSearchFilters(tokens.slice(2));
        return filters.ok ? ok({ kind: 'audit-search', filters: filters.value }) : filters;
      }
      const days = second === undefined ? 30 : Number(second);
      if (!Number.isInteger(days) || days < 1 || days > MAX_AUDIT_DAYS) {
        return err('INVALID_DAYS', { input: second, max: MAX_AUDIT_DAYS });
      }
      return ok({ kind: 'audit', days });
    }
    default: {
      // `--break-glass` may stand anywhere after the resource; it is a flag, not part of the reason.
      const flag = /(^|\s)--break-glass(?=\s|$)/i;
      const breakGlass = flag.test(trimmed);
      return parseRequest(breakGlass ? trimmed.replace(flag, ' ').trim() : trimmed, breakGlass);
    }
  }
}

function parseRequest(text: string, breakGlass: boolean): Result<Command, CommandError> {
  // Walk the text token by token but keep the reason's own spacing.
  const re = /\S+/g;
  const next = (): { token: string; end: number } | undefined => {
    const m = re.exec(text);
    return m === null ? undefined : { token: m[0], end: m.index + m[0].length };
  };
  const resource = next();
  if (resource === undefined) return err('MISSING_REASON');
  const resourceId = resource.token.toLowerCase();
  if (!RESOURCE_ID.test(resourceId)) return err('INVALID_RESOURCE_NAME', { input: resource.token });

  let cursor = resource.end;
  let durationMs: number | undefined;
  let address: string | undefined;
  let tok = next();
  if (tok !== undefined && looksLikeDuration(tok.token)) {
    durationMs = parseDuration(tok.token);
    if (durationMs === undefined) return err('INVALID_DURATION', { input: tok.token });
    if (durationMs === 0) return err('ZERO_DURATION', { input: tok.token });
    cursor = tok.end;
    tok = next();
  }
  if (tok !== undefined && tok.token.toLowerCase() === 'from') {
    const addr = next();
    if (addr === undefined) return err('MISSING_ADDRESS');
    address = addr.token;
    cursor = addr.end;
  }
  const reason = text.slice(cursor).trim();
  if (reason === '') return err('MISSING_REASON', { resourceId });
  if (reason.length > MAX_REASON_LENGTH)
    return err('REASON_TOO_LONG', { length: reason.length, max: MAX_REASON_LENGTH });
  return ok({ kind: 'request', resourceId, durationMs, address, reason, breakGlass });
}

const TOKEN_NAME_RE = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** `/access token …` (the words after `token`). Durations are checked for form here, for bounds by the use case. */
function parseTokenCommand(words: readonly string[]): Result<Command, CommandError> {
  const [verb = '', ...rest] = words;
  const usageOf = (v: keyof typeof TOKEN_USAGE) => (problem: string) =>
    err('TOKEN_USAGE', { usage: TOKEN_USAGE[v], problem });
  const all = `${TOKEN_USAGE.create}\n${TOKEN_USAGE.list}\n${TOKEN_USAGE.revoke}\n${TOKEN_USAGE.rotate}`;
  const v = verb.toLowerCase();
  if (v !== 'create' && v !== 'list' && v !== 'revoke' && v !== 'rotate') {
    return err('TOKEN_USAGE', {
      usage: all,
      problem:
        verb === '' ? 'say what to do with tokens' : `${JSON.stringify(verb)} is not a token subcommand`,
    });
  }
  const usage = usageOf(v);
  // Flags (`--x <value>`) apart from positional words.
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i] ?? '';
    if (!w.startsWith('--')) {
      positional.push(w);
      continue;
    }
    const value = rest[i + 1];
    if (value === undefined || value.startsWith('--')) return usage(`${w} needs a value`);
    if (flags.has(w)) return usage(`${w} is given twice`);
    flags.set(w.toLowerCase(), value);
    i++;
  }
  const allowed: Record<typeof v, readonly string[]> = {
    create: ['--auto-approve-within', '--expires'],
    list: [],
    revoke: [],
    rotate: ['--overlap'],
  };
  for (const f of flags.keys()) if (!allowed[v].includes(f)) return usage(`${f} is not an option here`);
  const durationFlag = (flag: string): Result<number | undefined, CommandError> => {
    const raw = flags.get(flag);
    if (raw === undefined) return ok(undefined);
    const ms = parseDuration(raw);
    if (ms === undefined || ms === 0)
      return usage(`${flag} ${JSON.stringify(raw)} is not a duration (e.g. 15m, 90d)`);
    return ok(ms);
  };
  if (v === 'list')
    return positional.length === 0 ? ok({ kind: 'token-list' }) : usage('list takes no arguments');
  const [name, ...others] = positional;
  if (name === undefined) return usage('name the token');
  if (!TOKEN_NAME_RE.test(name))
    return usage(`${JSON.stringify(name)} is not a token name: lowercase letters, digits and -, at most 40`);
  if (v === 'revoke')
    return others.length === 0 ? ok({ kind: 'token-revoke', name }) : usage('too many words');
  if (v === 'rotate') {
    if (others.length > 0) return usage('too many words');
    const overlap = durationFlag('--overlap');
    return overlap.ok ? ok({ kind: 'token-rotate', name, overlapMs: overlap.value }) : overlap;
  }
  const [list, ...extra] = others;
  if (list === undefined) return usage('list the resources it may ask for, separated by commas');
  if (extra.length > 0)
    return usage(`unexpected ${JSON.stringify(extra.join(' '))} (resources are one comma-separated list)`);
  const resources = list
    .split(',')
    .map((r) => r.trim().toLowerCase())
    .filter((r) => r !== '');
  const bad = resources.find((r) => !RESOURCE_ID.test(r));
  if (resources.length === 0 || bad !== undefined)
    return usage(`${JSON.stringify(bad ?? list)} is not a resource id`);
  const within = durationFlag('--auto-approve-within');
  if (!within.ok) return within;
  const ttl = durationFlag('--expires');
  if (!ttl.ok) return ttl;
  return ok({
    kind: 'token-create',
    name,
    resources: [...new Set(resources)],
    autoApproveWithinMs: within.value,
    ttlMs: ttl.value,
  });
}
