import type { AuditSearchError } from '../../../domain/audit-search';
import type { CidrError } from '../../../domain/cidr';
import type { CommandError } from '../../../domain/command';
import { formatDuration } from '../../../domain/duration';
import type { StandingRefusal } from '../../../domain/standing';
import { safeCode, safeText } from '../escape';

/** Error codes the use cases return (see src/app/*); each has its own sentence below. */
export type UseCaseErrorCode =
  | 'UNKNOWN_RESOURCE'
  | 'NOT_REQUESTER'
  | 'DURATION_TOO_SHORT'
  | 'DURATION_TOO_LONG'
  | 'DURATION_REQUIRED'
  | 'ADDRESS_REQUIRED'
  | 'ADDRESS_NOT_APPLICABLE'
  | 'UNKNOWN_REQUEST'
  | 'NOT_APPROVER'
  | 'SELF_APPROVAL'
  | 'ALREADY_APPROVED'
  | 'NOT_PENDING'
  | 'UNKNOWN_GRANT'
  | 'NOT_ALLOWED_TO_REVOKE'
  | 'GRANT_NOT_ACTIVE'
  | 'CLOSE_PENDING'
  | 'NOT_YET_AVAILABLE'
  | 'RATE_LIMITED'
  | 'NOT_YOUR_REQUEST'
  | 'NOT_YOUR_GRANT'
  | 'NOT_EXTENDABLE'
  | 'EXTENSION_PENDING'
  | 'EXTENSION_TOO_LONG'
  | 'BREAK_GLASS_NOT_ALLOWED'
  | 'BREAK_GLASS_REASON_TOO_SHORT'
  | 'ALREADY_REVIEWED'
  | 'NOT_BREAK_GLASS'
  | StandingRefusal
  | 'REQUESTER_NO_LONGER_ALLOWED'
  | 'RIGHTS_UNVERIFIED'
  | 'VOTES_WITHDRAWN';

/** How a grant's state reads in a refusal. */
const GRANT_STATE_WORDS: Record<string, string> = {
  opening: 'still opening',
  closing: 'already closing',
  closed: 'already closed',
  failed: 'a grant that failed to open',
};

/** Error codes of the audit export and search (src/app/export-audit.ts, search-audit.ts, domain/audit-search.ts). */
export type AuditErrorCode = 'NOT_ADMIN' | AuditSearchError['error'] | 'SEARCH_UNKNOWN_USER';

/** Every code with a specific sentence. */
export type KnownErrorCode = CommandError['error'] | CidrError['error'] | UseCaseErrorCode | AuditErrorCode;

type Detail = Record<string, unknown>;

const str = (d: Detail, key: string): string | undefined => {
  const v = d[key];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
};
const num = (d: Detail, key: string): number | undefined => {
  const v = d[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};
/** Echoed user input: escaped, bounded, in a code span. */
const echo = (d: Detail, key: string, otherwise: string): string => {
  const v = str(d, key);
  return v === undefined ? otherwise : safeCode(v, 80);
};
const ms = (d: Detail, key: string): string | undefined => {
  const v = num(d, key);
  return v === undefined ? undefined : formatDuration(v);
};
const resource = (d: Detail): string => echo(d, 'resourceId', 'that resource');
/** `grant `grt_x`` or `this grant`. */
const grantRef = (d: Detail): string => {
  const id = str(d, 'grantId');
  return id === undefined ? 'this grant' : `grant ${safeCode(id, 80)}`;
};

const DURATION_FORMS = '`90s`, `15m`, `1h` or `1h30m`';

/**
 * Who does not count as "anyone" (issue 9, item 4), said for a resource, for admin rights (`admin`),
 * or for everything at once (the request form and `/access resources` with nothing to offer).
 */
const outsider = (d: Detail, who: string, admits: string, field: string): string => {
  const id = str(d, 'resourceId');
  if (id !== undefined)
    return `${who}, and ${safeCode(id, 80)} does not admit ${admits} (its policy would need \`${field}: true\`), so nothing was changed: ask an admin if you need it.`;
  if (d['admin'] === true)
    return `${who}, and hallpass admin rights are for full members of this workspace only, so nothing was done.`;
  return `${who}, and no resource here admits ${admits}, so there is nothing you may ask for: ask an admin if you need access.`;
};

/** Why a requester may no longer ask, in words (the detail's `why`). */
const REQUESTER_WHY: Record<string, string> = {
  NOT_REQUESTER: 'they are no longer among its requesters',
  GUEST_NOT_ALLOWED: 'they are now a guest, and it does not admit guests',
  EXTERNAL_NOT_ALLOWED: 'they are no longer a member of this workspace',
  ACCOUNT_DEACTIVATED: 'their Slack account is deactivated',
};

const STATE_WORDS: Record<string, string> = {
  approved: 'it was already approved',
  denied: 'it was denied',
  cancelled: 'it was cancelled',
  timed_out: 'it timed out',
  failed: 'it failed',
};

const SENTENCES: Record<KnownErrorCode, (d: Detail) => string> = {
  // The /access grammar (src/domain/command.ts).
  INVALID_DURATION: (d) =>
    `${echo(d, 'input', 'That')} is not a duration: write it like ${DURATION_FORMS} (units in that order, each once).`,
  ZERO_DURATION: (d) =>
    `${echo(d, 'input', 'A zero duration')} would grant no time at all: ask for a positive duration, like \`30m\`.`,
  MISSING_ADDRESS: () =>
    '`from` must be followed by the address you connect from, like `from 203.0.113.7` or `from 203.0.113.0/28`.',
  MISSING_REASON: (d) => {
    const id = str(d, 'resourceId');
    const example = `/access ${id === undefined ? 'prod-db' : safeText(id, 64)} 30m from 203.0.113.7 debugging slow queries`;
    return `Say why you need access, after the duration and address: \`${example.replace(/`/g, "'")}\`.`;
  },
  REASON_TOO_LONG: (d) =>
    `Your reason is ${num(d, 'length') ?? 'too many'} characters long; keep it to ${num(d, 'max') ?? 1000} characters or fewer.`,
  MISSING_ID: (d) => {
    const command = str(d, 'command');
    if (command === 'cancel') return '`/access cancel` needs a request id, like `/access cancel req_abc123`.';
    const c = command === 'extend' ? 'extend' : 'revoke';
    const example = c === 'extend' ? '/access extend grt_abc123 30m' : '/access revoke grt_abc123';
    return `\`/access ${c}\` needs a grant id, like \`${example}\` (\`/access list\` shows your grants).`;
  },
  MISSING_DURATION: () =>
    '`/access extend` needs a grant id and how much more time, like `/access extend grt_abc123 30m`.',
  INVALID_RESOURCE_NAME: (d) =>
    `${echo(d, 'input', 'That')} is not a resource name: names use lowercase letters, digits and dashes, like \`prod-db\` (\`/access resources\` lists yours).`,

  // Source addresses (src/domain/cidr.ts).
  INVALID_ADDRESS: (d) =>
    `${echo(d, 'input', 'That')} is not an IP address or CIDR: write a single address like \`203.0.113.7\` or \`2001:db8::1\`, or a range like \`203.0.113.0/28\`.`,
  ADDRESS_HOST_BITS_SET: (d) => {
    const suggestion = str(d, 'suggestion');
    const input = echo(d, 'input', 'That range');
    return suggestion === undefined
      ? `${input} has host bits set: give the network address of the range, or a single address.`
      : `${input} has host bits set: did you mean ${safeCode(suggestion, 80)}? Or give just your own address.`;
  },
  ADDRESS_TOO_WIDE: (d) => {
    const cidr = echo(d, 'cidr', 'That range');
    const prefix = num(d, 'prefix');
    const required = num(d, 'required');
    const family = num(d, 'family') === 6 ? 'IPv6' : 'IPv4';
    if (prefix === 0) {
      return `${cidr} is the whole internet, which is never allowed: give the address you connect from, like \`203.0.113.7\`.`;
    }
    if (required === undefined)
      return `${cidr} is wider than this resource allows: give a narrower range or a single address.`;
    const single = (family === 'IPv4' && required === 32) || (family === 'IPv6' && required === 128);
    return single
      ? `${cidr} is too wide: this resource only allows single ${family} addresses (/${required}), like \`${family === 'IPv4' ? '203.0.113.7' : '2001:db8::1'}\`.`
      : `${cidr} is too wide: this resource allows ${family} ranges of /${required} or narrower (a prefix length of at least ${required}).`;
  },

  // Use cases.
  UNKNOWN_RESOURCE: (d) =>
    `There is no resource called ${resource(d)}: \`/access resources\` lists the ones you may ask for.`,
  NOT_REQUESTER: (d) =>
    `You are not on the list of people who may ask for ${resource(d)}: ask an admin, or see \`/access resources\` for what you may ask for.`,
  DURATION_TOO_SHORT: (d) =>
    `${ms(d, 'requested') ?? 'That duration'} is shorter than the minimum of ${ms(d, 'min') ?? 'this resource'}: ask for at least ${ms(d, 'min') ?? 'the minimum'}.`,
  DURATION_TOO_LONG: (d) => {
    const requested = ms(d, 'requested') ?? 'That duration';
    const max = ms(d, 'max');
    if (d['breakGlass'] === true) {
      return `${requested} is too long for break-glass: break-glass access is limited to ${max ?? 'a shorter time'} on ${resource(d)}. Ask for ${max ?? 'less'} or less, or ask for approval as usual for longer.`;
    }
    return str(d, 'role') === undefined
      ? `${requested} is longer than the maximum of ${max ?? 'this resource'}: ask for ${max ?? 'the maximum'} or less.`
      : `${requested} is longer than the role allows (its MaxSessionDuration is ${max ?? 'shorter'}): ask for ${max ?? 'the maximum'} or less.`;
  },
  DURATION_REQUIRED: (d) =>
    `${resource(d)} has no default duration: say how long you need, like \`/access ${safeText(str(d, 'resourceId') ?? 'prod-db', 64)} 30m …\`.`,
  ADDRESS_REQUIRED: (d) => {
    const example = str(d, 'example');
    const tail = example === undefined ? '`from 203.0.113.7`' : safeCode(example, 200);
    return `${resource(d)} opens a network rule, so say which address you connect from, like ${tail}.`;
  },
  ADDRESS_NOT_APPLICABLE: (d) =>
    `${resource(d)} is an AWS role, not a network rule, so it takes no \`from\` address: leave it out.`,
  UNKNOWN_REQUEST: (d) =>
    `There is no request ${echo(d, 'requestId', 'with that id')}: check the id, or see \`/access list\`.`,
  NOT_APPROVER: (d) =>
    `You are not an approver of ${resource(d)}, so nothing was changed: one of its approvers has to decide.`,
  SELF_APPROVAL: () => 'You cannot approve your own request: another approver has to approve it.',
  ALREADY_APPROVED: () => 'You have already approved this request; it is waiting for another approver.',
  NOT_PENDING: (d) => {
    const state = str(d, 'state');
    const why = state === undefined ? undefined : STATE_WORDS[state];
    return `This request is no longer waiting for a decision${why === undefined ? '' : `: ${why}`}, so nothing was changed.`;
  },
  UNKNOWN_GRANT: (d) =>
    `There is no grant ${echo(d, 'grantId', 'with that id')}: \`/access list\` shows the active ones and their ids.`,
  NOT_ALLOWED_TO_REVOKE: (d) =>
    `Only the requester, an approver of ${resource(d)} or an admin may end grant ${echo(d, 'grantId', 'this grant')}, so nothing was changed.`,
  GRANT_NOT_ACTIVE: (d) => {
    const state = str(d, 'state');
    const words = state === undefined ? 'not active' : (GRANT_STATE_WORDS[state] ?? 'not active');
    return `Grant ${echo(d, 'grantId', '')} is ${words}, so there is nothing to end: \`/access list\` shows what is active.`;
  },
  CLOSE_PENDING: (d) =>
    `Grant ${echo(d, 'grantId', '')} for ${resource(d)} is ending, but AWS has not confirmed it yet (${safeText(str(d, 'error') ?? 'AWS refused the change', 300)}). hallpass keeps retrying until AWS confirms, and tells the channel and the admins if it keeps failing; \`/access list\` shows it as closing until then.`,
  INVALID_DAYS: (d) =>
    `${echo(d, 'input', 'That')} is not a number of days: use \`/access audit 30\` (1 to ${str(d, 'max') ?? '366'}).`,
  // `/access audit search key:value …` (src/domain/audit-search.ts).
  SEARCH_UNKNOWN_FILTER: (d) =>
    `${echo(d, 'input', 'That')} is not a search filter: use \`who:\`, \`resource:\`, \`address:\`, \`from:\`, \`to:\` or \`end:\`, like \`/access audit search resource:prod-db from:2026-11-14T02:00Z to:2026-11-14T03:00Z\`.`,
  SEARCH_REPEATED_FILTER: (d) =>
    `${echo(d, 'filter', 'A filter')} is given twice: give each search filter at most once.`,
  SEARCH_EMPTY_VALUE: (d) =>
    `${echo(d, 'filter', 'A filter')} needs a value after the colon, like \`resource:prod-db\` (no space after the colon).`,
  SEARCH_INVALID_WHO: (d) =>
    `${echo(d, 'input', 'That')} is not a person to search for: mention them (\`who:@alice\`) or give their Slack user id (\`who:U0123ABCD\`).`,
  SEARCH_UNKNOWN_USER: (d) =>
    `No one in this workspace goes by ${echo(d, 'handle', 'that name')}: mention them so Slack fills in the right person, or give their user id (\`who:U0123ABCD\`).`,
  SEARCH_INVALID_RESOURCE: (d) =>
    `${echo(d, 'input', 'That')} is not a resource name to search for: names use lowercase letters, digits and dashes, like \`resource:prod-db\`.`,
  SEARCH_INVALID_ADDRESS: (d) => {
    const suggestion = str(d, 'suggestion');
    return suggestion === undefined
      ? `${echo(d, 'input', 'That')} is not an address to search for: give a host (\`address:203.0.113.7\`) or a network (\`address:203.0.113.0/24\`).`
      : `${echo(d, 'input', 'That')} has host bits set: search for the network ${safeCode(suggestion, 60)}, or a single host without the prefix.`;
  },
  SEARCH_INVALID_DATE: (d) =>
    `${echo(d, 'input', 'That')} is not a time for \`${str(d, 'filter') === 'to' ? 'to' : 'from'}:\`: use a date (\`2026-11-14\`, midnight UTC) or a time with its zone, like \`2026-11-14T02:00Z\` or \`2026-11-14T03:00+01:00\`.`,
  SEARCH_INVALID_END_REASON: (d) =>
    `${echo(d, 'input', 'That')} is not a way a grant ends: use \`end:expired\`, \`end:revoked\`, \`end:done\` or \`end:failed\`.`,
  SEARCH_EMPTY_RANGE: (d) =>
    `\`to:\` (${echo(d, 'to', 'the end')}) must be later than \`from:\` (${echo(d, 'from', 'the start')}): the window would be empty.`,
  NOT_ADMIN: () =>
    'Only hallpass admins (the `admins` list in the policy) may export the audit log, so nothing was exported: ask one of them.',
  NOT_YET_AVAILABLE: (d) =>
    `${echo(d, 'feature', 'That')} is not available yet: for now ask for a new grant with \`/access &lt;resource&gt; &lt;duration&gt; …\`.`,
  RATE_LIMITED: () => 'You are sending requests faster than hallpass accepts: wait a minute, then try again.',

  // Lifecycle: cancel, extend, done, break-glass and its review.
  NOT_YOUR_REQUEST: (d) =>
    `Request ${echo(d, 'requestId', 'this request')} is not yours: only the person who asked may cancel it, so nothing was changed.`,
  NOT_YOUR_GRANT: (d) =>
    `Grant ${echo(d, 'grantId', 'this grant')} is not yours: only its requester may extend it or mark it done, so nothing was changed (approvers and admins can end it with \`/access revoke\`).`,
  NOT_EXTENDABLE: (d) =>
    `${echo(d, 'resourceId', 'This resource')} is an AWS role, and a role session cannot be lengthened once issued: ask for a new grant when this one ends.`,
  EXTENSION_PENDING: (d) =>
    `Grant ${echo(d, 'grantId', 'this grant')} already has an extension waiting for approval (${echo(d, 'requestId', 'see `/access list`')}): wait for that decision, or withdraw it with \`/access cancel\`.`,
  EXTENSION_TOO_LONG: (d) => {
    const max = ms(d, 'max');
    const used = ms(d, 'used');
    const available = num(d, 'available');
    const limit = `${echo(d, 'resourceId', 'This resource')} allows at most ${max ?? 'its maximum'} in all from the original start`;
    const sofar = used === undefined ? '' : `; this grant has used ${used}`;
    if (available !== undefined && available < 1000) {
      return `${limit}${sofar}, so it cannot be extended any further: ask for a new grant when it ends.`;
    }
    return `${limit}${sofar}, so at most ${available === undefined ? 'what is left' : formatDuration(available)} more: ask for that or less.`;
  },
  BREAK_GLASS_NOT_ALLOWED: (d) =>
    `${echo(d, 'resourceId', 'This resource')} does not allow break-glass access: leave out \`--break-glass\` and ask for approval as usual.`,
  BREAK_GLASS_REASON_TOO_SHORT: (d) => {
    const length = num(d, 'length');
    return `Break-glass needs a reason of at least ${num(d, 'min') ?? 20} characters${length === undefined ? '' : ` (yours has ${length})`}: say what is broken and why it cannot wait for approval.`;
  },
  ALREADY_REVIEWED: (d) =>
    `The break-glass access of ${grantRef(d)} has already been reviewed, so nothing was changed.`,
  NOT_BREAK_GLASS: (d) =>
    `There is nothing to review on ${grantRef(d)}: it was approved the usual way, not opened by break-glass.`,

  // Who counts as anyone, and rights re-checked at every step (issue 9, items 4 and 5).
  GUEST_NOT_ALLOWED: (d) => outsider(d, 'You are a guest in this Slack workspace', 'guests', 'allowGuests'),
  EXTERNAL_NOT_ALLOWED: (d) =>
    outsider(
      d,
      'You are acting from outside this Slack workspace (your account, or where you typed this, belongs to another workspace or organisation)',
      'users of other workspaces',
      'allowExternal',
    ),
  ACCOUNT_DEACTIVATED: () =>
    'That Slack account is deactivated, so it may not act in hallpass: nothing was changed.',
  IDENTITY_UNVERIFIED: () =>
    'hallpass could not confirm with Slack who you are (a member of this workspace, a guest, or someone from another workspace), so nothing was changed: try again in a minute.',
  REQUESTER_NO_LONGER_ALLOWED: (d) =>
    `This request could not be approved: its requester may no longer ask for ${resource(d)} (${REQUESTER_WHY[str(d, 'why') ?? ''] ?? 'they are not allowed any more'}). It was closed as failed, and the requester and the channel were told.`,
  RIGHTS_UNVERIFIED: (d) =>
    str(d, 'who') === 'approvers'
      ? `hallpass could not confirm with Slack that the earlier approvers of this request still approve ${resource(d)}, so your approval was not recorded: try again in a minute.`
      : `hallpass could not confirm with Slack that the requester may still ask for ${resource(d)}, so your approval was not recorded: try again in a minute.`,
  VOTES_WITHDRAWN: (d) => {
    const n = num(d, 'count') ?? 1;
    const have = num(d, 'have');
    const need = num(d, 'need');
    const earlier =
      n === 1 ? 'an earlier approval no longer counts' : `${n} earlier approvals no longer count`;
    const tally =
      have === undefined || need === undefined
        ? ''
        : have >= need
          ? ` With the others it has the ${need} approval${need === 1 ? '' : 's'} it needs.`
          : ` It has ${have} of the ${need} approvals it needs, and waits for another approver.`;
    return `Your approval is recorded, but ${earlier}: ${n === 1 ? 'its approver no longer approves' : 'their approvers no longer approve'} ${resource(d)}, so ${n === 1 ? 'it was' : 'they were'} withdrawn.${tally}`;
  },
};

const isKnown = (code: string): code is KnownErrorCode => Object.hasOwn(SENTENCES, code);

/**
 * One clear sentence per error code: what was wrong and what would be right. Durations in
 * `detail` are milliseconds; echoed user input is escaped. Unknown codes get an honest,
 * generic sentence naming the code.
 */
export function errorText(code: string, detail: Record<string, unknown> = {}): string {
  if (isKnown(code)) return SENTENCES[code](detail);
  return `hallpass could not do that (error ${safeCode(code, 60)}). Try again, or ask an admin if it keeps happening; \`/access help\` shows what you can type.`;
}
