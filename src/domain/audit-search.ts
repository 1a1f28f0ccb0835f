/**
 * Searching the audit record: the filters an auditor or a responder asks with —
 * who, what, from where, when, and how it ended — parsed from `/access audit search key:value …` (and
 * built by the CLI from its flags), and the pure rules that decide whether a request matches them.
 * Rows themselves are the app's; this module sees only the facts a filter reads.
 */
import ipaddr from 'ipaddr.js';
import { parseSourceAddress, type SourceCidr } from './cidr';
import type { EndReason } from './grant';
import { type Err, err, ok, type Result } from './result';

/** Whose activity: a Slack user id, or a handle (`@alice`) the Slack adapter resolves to one. */
export type WhoFilter = { readonly userId: string } | { readonly handle: string };

export type AuditSearchFilters = {
  /** Requester, approver, decider, whoever ended or reviewed it. */
  readonly who?: WhoFilter | undefined;
  readonly resourceId?: string | undefined;
  /** Matches a request whose source covers it or is covered by it. */
  readonly address?: SourceCidr | undefined;
  /** `[from, to)`: grants whose access overlapped it, requests without access made in it. */
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
  readonly endReason?: EndReason | undefined;
};

/** The filter names `/access audit search` takes, in the order help lists them. */
export const SEARCH_FILTERS = ['who', 'resource', 'address', 'from', 'to', 'end'] as const;
export type SearchFilterName = (typeof SEARCH_FILTERS)[number];

/** An address filter that is no host or network; `suggestion` when it only had host bits set. */
export type AddressFilterError = Err<
  'SEARCH_INVALID_ADDRESS',
  { readonly input: string; readonly suggestion?: string | undefined }
>;

export type AuditSearchError =
  | Err<'SEARCH_UNKNOWN_FILTER', { readonly input: string }>
  | Err<'SEARCH_REPEATED_FILTER' | 'SEARCH_EMPTY_VALUE', { readonly filter: SearchFilterName }>
  | Err<
      'SEARCH_INVALID_WHO' | 'SEARCH_INVALID_RESOURCE' | 'SEARCH_INVALID_END_REASON',
      { readonly input: string }
    >
  | AddressFilterError
  | Err<'SEARCH_INVALID_DATE', { readonly filter: 'from' | 'to'; readonly input: string }>
  | Err<'SEARCH_EMPTY_RANGE', { readonly from: string; readonly to: string }>;

export const END_REASON_WORDS: readonly EndReason[] = ['expired', 'revoked', 'done', 'failed'];

/** The forms a date filter accepts, for error messages. */
export const AUDIT_DATE_FORMS =
  '2026-11-01 (midnight UTC) or ISO-8601 with an offset, like 2026-11-01T09:30:00Z or 2026-11-01T09:30:00.000+01:00';

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

/** Date.UTC of the parts, or undefined when they name no real instant (2026-02-30, 24:00, …). */
function utc(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number | undefined {
  if (mo < 1 || mo > 12 || h > 23 || mi > 59 || s > 59) return undefined;
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const back = new Date(t);
  return back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d
    ? t
    : undefined;
}

/**
 * A date as the audit commands take it: `YYYY-MM-DD` (midnight UTC), or a full ISO-8601 date-time
 * with `Z` or a `±HH:MM` offset (seconds and milliseconds optional). A date-time without an offset is
 * refused: which instant it meant would depend on the machine's time zone.
 */
export function parseAuditDate(input: string): Date | undefined {
  const n = (s: string | undefined): number => (s === undefined ? 0 : Number(s));
  const day = DATE_ONLY.exec(input);
  if (day !== null) {
    const t = utc(n(day[1]), n(day[2]), n(day[3]));
    return t === undefined ? undefined : new Date(t);
  }
  const m = DATE_TIME.exec(input);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac, z, sign, oh, om] = m;
  const t = utc(n(y), n(mo), n(d), n(h), n(mi), n(s), frac === undefined ? 0 : Number(frac.padEnd(3, '0')));
  if (t === undefined) return undefined;
  if (z !== undefined) return new Date(t);
  if (n(oh) > 23 || n(om) > 59) return undefined;
  const offsetMs = (n(oh) * 60 + n(om)) * 60_000 * (sign === '-' ? -1 : 1);
  return new Date(t - offsetMs);
}

const USER_ID = /^[UW][A-Z0-9]{2,}$/;
/** `<@U123>` or `<@U123|alice>`: a mention as Slack writes it. */
const MENTION = /^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$/;
const HANDLE = /^@([a-z0-9][a-z0-9._-]{0,79})$/i;
const RESOURCE_ID = /^[a-z0-9-]{1,64}$/;

/** `U123`, `<@U123|alice>` or `@alice` as a person to search for; `hallpass` for what the bot did itself. */
export function parseWho(input: string): WhoFilter | undefined {
  const mention = MENTION.exec(input);
  if (mention?.[1] !== undefined) return { userId: mention[1] };
  if (USER_ID.test(input) || input === 'hallpass') return { userId: input };
  const handle = HANDLE.exec(input);
  return handle?.[1] === undefined ? undefined : { handle: handle[1].toLowerCase() };
}

/** An address filter: a host or a network, host bits clear (a host is its /32 or /128). */
export function parseAddressFilter(input: string): Result<SourceCidr, AddressFilterError> {
  const parsed = parseSourceAddress(input);
  if (parsed.ok) return parsed;
  return parsed.error === 'ADDRESS_HOST_BITS_SET'
    ? err('SEARCH_INVALID_ADDRESS', { input, suggestion: parsed.detail.suggestion })
    : err('SEARCH_INVALID_ADDRESS', { input });
}

/**
 * `key:value` tokens (`resource:prod-db from:2026-11-14T02:00Z to:2026-11-14T03:00Z who:@alice
 * address:10.0.0.0/8 end:revoked`) as filters. Each problem has its own code, naming the token.
 */
export function parseSearchFilters(tokens: readonly string[]): Result<AuditSearchFilters, AuditSearchError> {
  const seen = new Set<string>();
  const out: {
    who?: WhoFilter;
    resourceId?: string;
    address?: SourceCidr;
    from?: Date;
    to?: Date;
    endReason?: EndReason;
  } = {};
  for (const token of tokens) {
    const colon = token.indexOf(':');
    const name = (colon < 0 ? token : token.slice(0, colon)).toLowerCase();
    const value = colon < 0 ? '' : token.slice(colon + 1);
    const known = SEARCH_FILTERS.find((f) => f === name);
    if (known === undefined || colon < 0) return err('SEARCH_UNKNOWN_FILTER', { input: token });
    if (seen.has(known)) return err('SEARCH_REPEATED_FILTER', { filter: known });
    seen.add(known);
    if (value === '') return err('SEARCH_EMPTY_VALUE', { filter: known });
    switch (known) {
      case 'who': {
        const who = parseWho(value);
        if (who === undefined) return err('SEARCH_INVALID_WHO', { input: value });
        out.who = who;
        break;
      }
      case 'resource':
        if (!RESOURCE_ID.test(value.toLowerCase())) return err('SEARCH_INVALID_RESOURCE', { input: value });
        out.resourceId = value.toLowerCase();
        break;
      case 'address': {
        const address = parseAddressFilter(value);
        if (!address.ok) return address;
        out.address = address.value;
        break;
      }
      case 'from':
      case 'to': {
        const at = parseAuditDate(value);
        if (at === undefined) return err('SEARCH_INVALID_DATE', { filter: known, input: value });
        out[known] = at;
        break;
      }
      case 'end': {
        const reason = END_REASON_WORDS.find((r) => r === value.toLowerCase());
        if (reason === undefined) return err('SEARCH_INVALID_END_REASON', { input: value });
        out.endReason = reason;
        break;
      }
    }
  }
  if (out.from !== undefined && out.to !== undefined && out.to.getTime() <= out.from.getTime()) {
    return err('SEARCH_EMPTY_RANGE', { from: out.from.toISOString(), to: out.to.toISOString() });
  }
  return ok(out);
}

/** Whether two networks share an address: one covers the other (same family only). */
export function cidrsOverlap(a: SourceCidr, b: SourceCidr): boolean {
  if (a.family !== b.family) return false;
  const wider = a.prefix <= b.prefix ? a : b;
  const narrower = wider === a ? b : a;
  const [netText = ''] = narrower.cidr.split('/');
  const range = ipaddr.parseCIDR(wider.cidr);
  const addr = ipaddr.parse(netText);
  return addr.kind() === range[0].kind() && addr.match(range);
}

/** Filters with the person resolved to a user id (the Slack adapter looks handles up). */
export type ResolvedSearchFilters = Omit<AuditSearchFilters, 'who'> & {
  readonly who?: { readonly userId: string } | undefined;
};

/** The facts of one request a search reads. */
export type SearchableRequest = {
  readonly people: readonly string[];
  readonly resourceId: string;
  /** Normalized source CIDR, when the request had one. */
  readonly address?: string | undefined;
  readonly requestedAt: Date;
  /** When AWS access began; absent when it never did. */
  readonly startedAt?: Date | undefined;
  /** Planned end (after extensions). */
  readonly expiresAt?: Date | undefined;
  /** Actual end. */
  readonly endedAt?: Date | undefined;
  /** Still releasing access past its planned end: open until AWS confirms. */
  readonly closing: boolean;
  readonly endReason?: EndReason | undefined;
};

/**
 * When access was held: `[started, ended)` — or, until it has ended, `[started, planned end)`; a grant
 * still closing holds access until AWS confirms, so its end is open. Absent for a request that never
 * gave access.
 */
export function accessInterval(r: SearchableRequest): { from: number; to: number } | undefined {
  if (r.startedAt === undefined) return undefined;
  const to =
    r.endedAt?.getTime() ??
    (r.closing ? Number.POSITIVE_INFINITY : (r.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY));
  return { from: r.startedAt.getTime(), to };
}

/**
 * Whether a request matches every filter given (`who` must already be a user id). The time range
 * matches a grant whose access `[started, ended-or-planned-end)` overlaps `[from, to)` — "who had
 * access between 02:00 and 03:00" — and a request that never gave access when it was made in it.
 */
export function matchesSearch(r: SearchableRequest, f: ResolvedSearchFilters): boolean {
  if (f.who !== undefined && !r.people.includes(f.who.userId)) return false;
  if (f.resourceId !== undefined && r.resourceId !== f.resourceId) return false;
  if (f.endReason !== undefined && r.endReason !== f.endReason) return false;
  if (f.address !== undefined) {
    if (r.address === undefined) return false;
    const parsed = parseSourceAddress(r.address);
    if (!parsed.ok || !cidrsOverlap(parsed.value, f.address)) return false;
  }
  if (f.from !== undefined || f.to !== undefined) {
    const from = f.from?.getTime() ?? Number.NEGATIVE_INFINITY;
    const to = f.to?.getTime() ?? Number.POSITIVE_INFINITY;
    const held = accessInterval(r);
    if (held !== undefined) return held.from < to && held.to > from;
    const at = r.requestedAt.getTime();
    return at >= from && at < to;
  }
  return true;
}
