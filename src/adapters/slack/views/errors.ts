import type { validateRequest } from '../../../app/submit-request';
import type { UseCases } from '../../../app/use-cases';
import type { FormError } from '../../../app/validate-request-form';
import type { parseCommand } from '../../../domain/command';
import { formatDuration } from '../../../domain/duration';
import type { Err, FailureOf } from '../../../domain/result';
import type { StandingRefusal } from '../../../domain/standing';
import { escapeMrkdwn, safeCode, safeText } from '../escape';

/** The use cases the Slack adapter calls whose refusals it answers with a sentence. */
type Answered =
  | 'submitRequest'
  | 'approveRequest'
  | 'denyRequest'
  | 'revokeGrant'
  | 'cancelRequest'
  | 'requestExtension'
  | 'reviewGrant'
  | 'exportAudit'
  | 'searchAudit';

/** Refusals the Slack adapter makes itself, before or after a use case. */
type SlackFailure =
  | Err<'RATE_LIMITED'>
  /** Earlier votes no longer counted at the quorum (`need`: the resource's approvals, if its card is found). */
  | Err<
      'VOTES_WITHDRAWN',
      {
        readonly resourceId: string;
        readonly count: number;
        readonly have: number;
        readonly need: number | undefined;
      }
    >
  /** The Extend button of a grant that is gone (`grantId`: the button's value). */
  | Err<'UNKNOWN_GRANT', { readonly grantId: string | undefined }>
  /** Someone who may ask for nothing here at all, or who asks for admin rights. */
  | Err<StandingRefusal>
  | Err<StandingRefusal, { readonly admin: true }>;

/**
 * Every refusal that reaches a person in Slack: what the answered use cases and the parsers the
 * listeners call can return, derived from their own result types, and the adapter's own.
 */
export type Failure =
  | { [K in Answered]: FailureOf<UseCases[K]> }[Answered]
  | FailureOf<typeof parseCommand>
  | FailureOf<typeof validateRequest>
  | FormError
  | SlackFailure;

export type FailureCode = Failure['error'];

/** The detail a code comes with (a union when several places refuse with it). */
export type DetailOf<C extends FailureCode> = Extract<Failure, { readonly error: C }>['detail'];

/** One sentence per code, no more: a code without one, or one nobody produces, does not compile. */
export type Sentences = { readonly [C in FailureCode]: (d: DetailOf<C>) => string };

/** How a grant's state reads in a refusal. */
const GRANT_STATE_WORDS: Record<string, string> = {
  opening: 'still opening',
  closing: 'already closing',
  closed: 'already closed',
  failed: 'a grant that failed to open',
};

/** Echoed user input and ids: escaped, bounded, in a code span. */
const echo = (v: string): string => safeCode(v, 80);
/** As `echo`, or the words for when there is nothing to echo. */
const echoOr = (v: string | undefined, otherwise: string): string => (v === undefined ? otherwise : echo(v));

const DURATION_FORMS = '`90s`, `15m`, `1h` or `1h30m`';

/**
 * Who does not count as "anyone", said for a resource, for admin rights (`admin`), or for
 * everything at once (the request form and `/access resources` with nothing to offer).
 */
const outsider = (
  d: { readonly resourceId?: string; readonly admin?: true } | undefined,
  who: string,
  admits: string,
  field: string,
): string => {
  if (d?.resourceId !== undefined)
    return `${who}, and ${echo(d.resourceId)} does not admit ${admits} (its policy would need \`${field}: true\`), so nothing was changed: ask an admin if you need it.`;
  if (d?.admin === true)
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

const SENTENCES: Sentences = {
  // The /access grammar (src/domain/command.ts), and the request form's fields.
  INVALID_DURATION: (d) =>
    `${echo(d.input)} is not a duration: write it like ${DURATION_FORMS} (units in that order, each once).`,
  ZERO_DURATION: (d) =>
    `${echo(d.input)} would grant no time at all: ask for a positive duration, like \`30m\`.`,
  MISSING_ADDRESS: () =>
    '`from` must be followed by the address you connect from, like `from 203.0.113.7` or `from 203.0.113.0/28`.',
  MISSING_REASON: (d) => {
    const id = d?.resourceId;
    const example = `/access ${id === undefined ? 'prod-db' : safeText(id, 64)} 30m from 203.0.113.7 debugging slow queries`;
    return `Say why you need access, after the duration and address: \`${example.replace(/`/g, "'")}\`.`;
  },
  REASON_TOO_LONG: (d) =>
    `Your reason is ${d.length} characters long; keep it to ${d.max} characters or fewer.`,
  MISSING_ID: ({ command }) => {
    if (command === 'cancel') return '`/access cancel` needs a request id, like `/access cancel req_abc123`.';
    const example = command === 'extend' ? '/access extend grt_abc123 30m' : '/access revoke grt_abc123';
    return `\`/access ${command}\` needs a grant id, like \`${example}\` (\`/access list\` shows your grants).`;
  },
  MISSING_DURATION: () =>
    '`/access extend` needs a grant id and how much more time, like `/access extend grt_abc123 30m`.',
  TOKEN_USAGE: (d) => `${safeText(d.problem, 200)}. Write it as:\n\`\`\`${escapeMrkdwn(d.usage)}\`\`\``,
  INVALID_RESOURCE_NAME: (d) =>
    `${echo(d.input)} is not a resource name: names use lowercase letters, digits and dashes, like \`prod-db\` (\`/access resources\` lists yours).`,

  // Source addresses (src/domain/cidr.ts).
  INVALID_ADDRESS: (d) =>
    `${echo(d.input)} is not an IP address or CIDR: write a single address like \`203.0.113.7\` or \`2001:db8::1\`, or a range like \`203.0.113.0/28\`.`,
  ADDRESS_HOST_BITS_SET: (d) =>
    `${echo(d.input)} has host bits set: did you mean ${echo(d.suggestion)}? Or give just your own address.`,
  ADDRESS_TOO_WIDE: ({ cidr, prefix, required, family }) => {
    const range = echo(cidr);
    if (prefix === 0) {
      return `${range} is the whole internet, which is never allowed: give the address you connect from, like \`203.0.113.7\`.`;
    }
    const name = family === 6 ? 'IPv6' : 'IPv4';
    const single = (family === 4 && required === 32) || (family === 6 && required === 128);
    return single
      ? `${range} is too wide: this resource only allows single ${name} addresses (/${required}), like \`${family === 4 ? '203.0.113.7' : '2001:db8::1'}\`.`
      : `${range} is too wide: this resource allows ${name} ranges of /${required} or narrower (a prefix length of at least ${required}).`;
  },

  // Use cases.
  UNKNOWN_RESOURCE: (d) =>
    `There is no resource called ${echo(d.resourceId)}: \`/access resources\` lists the ones you may ask for.`,
  NOT_REQUESTER: (d) =>
    `You are not on the list of people who may ask for ${echo(d.resourceId)}: ask an admin, or see \`/access resources\` for what you may ask for.`,
  DURATION_TOO_SHORT: (d) =>
    `${formatDuration(d.requested)} is shorter than the minimum of ${formatDuration(d.min)}: ask for at least ${formatDuration(d.min)}.`,
  DURATION_TOO_LONG: (d) => {
    const requested = formatDuration(d.requested);
    const max = formatDuration(d.max);
    if (d.breakGlass === true) {
      return `${requested} is too long for break-glass: break-glass access is limited to ${max} on ${echo(d.resourceId)}. Ask for ${max} or less, or ask for approval as usual for longer.`;
    }
    return d.role === undefined
      ? `${requested} is longer than the maximum of ${max}: ask for ${max} or less.`
      : `${requested} is longer than the role allows (its MaxSessionDuration is ${max}): ask for ${max} or less.`;
  },
  DURATION_REQUIRED: (d) =>
    `${echo(d.resourceId)} has no default duration: say how long you need, like \`/access ${safeText(d.resourceId, 64)} 30m …\`.`,
  ADDRESS_REQUIRED: (d) =>
    `${echo(d.resourceId)} opens a network rule, so add \`from\` and the address you connect from (an IP or a CIDR), like ${safeCode(d.example, 200)}.`,
  ADDRESS_NOT_APPLICABLE: (d) =>
    `${echo(d.resourceId)} is an AWS role, not a network rule, so it takes no \`from\` address: leave it out.`,
  UNKNOWN_REQUEST: (d) => `There is no request ${echo(d.requestId)}: check the id, or see \`/access list\`.`,
  NOT_APPROVER: (d) =>
    `You are not an approver of ${echo(d.resourceId)}, so nothing was changed: one of its approvers has to decide.`,
  SELF_APPROVAL: () => 'You cannot approve your own request: another approver has to approve it.',
  ALREADY_APPROVED: () => 'You have already approved this request; it is waiting for another approver.',
  NOT_PENDING: ({ state }) => {
    const why = state === undefined ? undefined : STATE_WORDS[state];
    return `This request is no longer waiting for a decision${why === undefined ? '' : `: ${why}`}, so nothing was changed.`;
  },
  UNKNOWN_GRANT: (d) =>
    `There is no grant ${echoOr(d.grantId, 'with that id')}: \`/access list\` shows the active ones and their ids.`,
  NOT_ALLOWED_TO_REVOKE: (d) =>
    `Only the requester, an approver of ${echo(d.resourceId)} or an admin may end grant ${echo(d.grantId)}, so nothing was changed.`,
  GRANT_NOT_ACTIVE: (d) => {
    const words = d.state === undefined ? 'not active' : (GRANT_STATE_WORDS[d.state] ?? 'not active');
    return `Grant ${echo(d.grantId)} is ${words}, so there is nothing to end: \`/access list\` shows what is active.`;
  },
  CLOSE_PENDING: (d) =>
    `Grant ${echo(d.grantId)} for ${echo(d.resourceId)} is ending, but AWS has not confirmed it yet (${safeText(d.error, 300)}). hallpass keeps retrying until AWS confirms, and tells the channel and the admins if it keeps failing; \`/access list\` shows it as closing until then.`,
  INVALID_DAYS: (d) =>
    `${echoOr(d.input, 'That')} is not a number of days: use \`/access audit 30\` (1 to ${d.max}).`,
  // `/access audit search key:value …` (src/domain/audit-search.ts).
  SEARCH_UNKNOWN_FILTER: (d) =>
    `${echo(d.input)} is not a search filter: use \`who:\`, \`resource:\`, \`address:\`, \`from:\`, \`to:\` or \`end:\`, like \`/access audit search resource:prod-db from:2026-11-14T02:00Z to:2026-11-14T03:00Z\`.`,
  SEARCH_REPEATED_FILTER: (d) => `${echo(d.filter)} is given twice: give each search filter at most once.`,
  SEARCH_EMPTY_VALUE: (d) =>
    `${echo(d.filter)} needs a value after the colon, like \`resource:prod-db\` (no space after the colon).`,
  SEARCH_INVALID_WHO: (d) =>
    `${echo(d.input)} is not a person to search for: mention them (\`who:@alice\`) or give their Slack user id (\`who:U0123ABCD\`).`,
  SEARCH_UNKNOWN_USER: (d) =>
    `No one in this workspace goes by ${echo(d.handle)}: mention them so Slack fills in the right person, or give their user id (\`who:U0123ABCD\`).`,
  SEARCH_INVALID_RESOURCE: (d) =>
    `${echo(d.input)} is not a resource name to search for: names use lowercase letters, digits and dashes, like \`resource:prod-db\`.`,
  SEARCH_INVALID_ADDRESS: (d) =>
    d.suggestion === undefined
      ? `${echo(d.input)} is not an address to search for: give a host (\`address:203.0.113.7\`) or a network (\`address:203.0.113.0/24\`).`
      : `${echo(d.input)} has host bits set: search for the network ${safeCode(d.suggestion, 60)}, or a single host without the prefix.`,
  SEARCH_INVALID_DATE: (d) =>
    `${echo(d.input)} is not a time for \`${d.filter}:\`: use a date (\`2026-11-14\`, midnight UTC) or a time with its zone, like \`2026-11-14T02:00Z\` or \`2026-11-14T03:00+01:00\`.`,
  SEARCH_INVALID_END_REASON: (d) =>
    `${echo(d.input)} is not a way a grant ends: use \`end:expired\`, \`end:revoked\`, \`end:done\` or \`end:failed\`.`,
  SEARCH_EMPTY_RANGE: (d) =>
    `\`to:\` (${echo(d.to)}) must be later than \`from:\` (${echo(d.from)}): the window would be empty.`,
  NOT_ADMIN: () =>
    'Only hallpass admins (the `admins` list in the policy) may export the audit log, so nothing was exported: ask one of them.',
  RATE_LIMITED: () => 'You are sending requests faster than hallpass accepts: wait a minute, then try again.',

  // Lifecycle: cancel, extend, done, break-glass and its review.
  NOT_YOUR_REQUEST: (d) =>
    `Request ${echo(d.requestId)} is not yours: only the person who asked may cancel it, so nothing was changed.`,
  NOT_YOUR_GRANT: (d) =>
    `Grant ${echo(d.grantId)} is not yours: only its requester may extend it or mark it done, so nothing was changed (approvers and admins can end it with \`/access revoke\`).`,
  NOT_EXTENDABLE: (d) =>
    `${echo(d.resourceId)} is an AWS role, and a role session cannot be lengthened once issued: ask for a new grant when this one ends.`,
  EXTENSION_PENDING: (d) =>
    `Grant ${echo(d.grantId)} already has an extension waiting for approval (${echo(d.requestId)}): wait for that decision, or withdraw it with \`/access cancel\`.`,
  EXTENSION_TOO_LONG: (d) => {
    const limit = `${echo(d.resourceId)} allows at most ${formatDuration(d.max)} in all from the original start; this grant has used ${formatDuration(d.used)}`;
    if (d.available < 1000) {
      return `${limit}, so it cannot be extended any further: ask for a new grant when it ends.`;
    }
    return `${limit}, so at most ${formatDuration(d.available)} more: ask for that or less.`;
  },
  BREAK_GLASS_NOT_ALLOWED: (d) =>
    `${echo(d.resourceId)} does not allow break-glass access: leave out \`--break-glass\` and ask for approval as usual.`,
  BREAK_GLASS_REASON_TOO_SHORT: (d) =>
    `Break-glass needs a reason of at least ${d.min} characters (yours has ${d.length}): say what is broken and why it cannot wait for approval.`,
  ALREADY_REVIEWED: (d) =>
    `The break-glass access of grant ${echo(d.grantId)} has already been reviewed, so nothing was changed.`,
  NOT_BREAK_GLASS: (d) =>
    `There is nothing to review on grant ${echo(d.grantId)}: it was approved the usual way, not opened by break-glass.`,

  // Who counts as anyone, and rights re-checked at every step.
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
    `This request could not be approved: its requester may no longer ask for ${echo(d.resourceId)} (${REQUESTER_WHY[d.why] ?? 'they are not allowed any more'}). It was closed as failed, and the requester and the channel were told.`,
  RIGHTS_UNVERIFIED: (d) =>
    d.who === 'approvers'
      ? `hallpass could not confirm with Slack that the earlier approvers of this request still approve ${echo(d.resourceId)}, so your approval was not recorded: try again in a minute.`
      : `hallpass could not confirm with Slack that the requester may still ask for ${echo(d.resourceId)}, so your approval was not recorded: try again in a minute.`,
  VOTES_WITHDRAWN: ({ resourceId, count: n, have, need }) => {
    const earlier =
      n === 1 ? 'an earlier approval no longer counts' : `${n} earlier approvals no longer count`;
    const tally =
      need === undefined
        ? ''
        : have >= need
          ? ` With the others it has the ${need} approval${need === 1 ? '' : 's'} it needs.`
          : ` It has ${have} of the ${need} approvals it needs, and waits for another approver.`;
    return `Your approval is recorded, but ${earlier}: ${n === 1 ? 'its approver no longer approves' : 'their approvers no longer approve'} ${echo(resourceId)}, so ${n === 1 ? 'it was' : 'they were'} withdrawn.${tally}`;
  },
};

/**
 * One clear sentence per refusal: what was wrong and what would be right. Durations in the detail
 * are milliseconds; echoed user input is escaped.
 */
export function errorText(failure: Failure): string {
  // SENTENCES is keyed by code, so the sentence found is the one written for this failure's detail.
  const sentence = SENTENCES[failure.error] as (d: Failure['detail']) => string;
  return sentence(failure.detail);
}
