import {
  type DetailOf,
  errorText,
  type Failure,
  type FailureCode,
} from '../../../src/adapters/slack/views/errors';
import { err } from '../../../src/domain/result';

/**
 * Each code with a typical detail. Typed as a complete record over every code that reaches Slack,
 * so a code a use case, a parser or the adapter starts returning without a case here fails to compile.
 */
const TYPICAL: { [C in FailureCode]: DetailOf<C> } = {
  INVALID_DURATION: { input: '30x' },
  ZERO_DURATION: { input: '0m' },
  MISSING_ADDRESS: undefined,
  MISSING_REASON: { resourceId: 'prod-db' },
  REASON_TOO_LONG: { length: 1200, max: 1000 },
  MISSING_ID: { command: 'revoke' },
  MISSING_DURATION: undefined,
  INVALID_RESOURCE_NAME: { input: 'Prod_DB' },
  INVALID_DAYS: { input: 'lots', max: 366 },
  TOKEN_USAGE: { usage: '/access token revoke <name>', problem: 'name the token' },
  INVALID_ADDRESS: { input: '300.1.2.3' },
  ADDRESS_HOST_BITS_SET: { input: '203.0.113.7/24', suggestion: '203.0.113.0/24' },
  ADDRESS_TOO_WIDE: { cidr: '10.0.0.0/8', prefix: 8, required: 32, family: 4 },
  UNKNOWN_RESOURCE: { resourceId: 'prod-dbb' },
  NOT_REQUESTER: { resourceId: 'prod-db' },
  DURATION_TOO_SHORT: { resourceId: 'prod-db', min: 60_000, requested: 30_000 },
  DURATION_TOO_LONG: { resourceId: 'prod-db', max: 3_600_000, requested: 7_200_000 },
  DURATION_REQUIRED: { resourceId: 'prod-db' },
  ADDRESS_REQUIRED: { resourceId: 'prod-db', example: '/access prod-db 30m from 203.0.113.7 …' },
  ADDRESS_NOT_APPLICABLE: { resourceId: 'prod-readonly' },
  UNKNOWN_REQUEST: { requestId: 'req_nope' },
  NOT_APPROVER: { resourceId: 'prod-db' },
  SELF_APPROVAL: undefined,
  ALREADY_APPROVED: undefined,
  NOT_PENDING: { requestId: 'req_x', state: 'approved' },
  UNKNOWN_GRANT: { grantId: 'grt_nope' },
  NOT_ALLOWED_TO_REVOKE: { grantId: 'grt_someone', resourceId: 'prod-db' },
  CLOSE_PENDING: { grantId: 'grt_x', resourceId: 'prod-db', error: 'InfraError: LimitExceeded' },
  GRANT_NOT_ACTIVE: { grantId: 'grt_done', state: 'closed' },
  SEARCH_UNKNOWN_FILTER: { input: 'colour:red' },
  SEARCH_REPEATED_FILTER: { filter: 'resource' },
  SEARCH_EMPTY_VALUE: { filter: 'who' },
  SEARCH_INVALID_WHO: { input: 'alice smith' },
  SEARCH_UNKNOWN_USER: { handle: 'nobody' },
  SEARCH_INVALID_RESOURCE: { input: 'Prod_DB' },
  SEARCH_INVALID_ADDRESS: { input: '10.0.0.1/8', suggestion: '10.0.0.0/8' },
  SEARCH_INVALID_DATE: { filter: 'from', input: 'yesterday' },
  SEARCH_INVALID_END_REASON: { input: 'exploded' },
  SEARCH_EMPTY_RANGE: { from: '2026-11-14T03:00:00.000Z', to: '2026-11-14T02:00:00.000Z' },
  NOT_ADMIN: { userId: 'U_DEV' },
  RATE_LIMITED: undefined,
  NOT_YOUR_REQUEST: { requestId: 'req_theirs' },
  NOT_YOUR_GRANT: { grantId: 'grt_theirs' },
  NOT_EXTENDABLE: { resourceId: 'prod-readonly' },
  EXTENSION_PENDING: { grantId: 'grt_mine', requestId: 'req_more' },
  EXTENSION_TOO_LONG: { resourceId: 'prod-db', max: 3_600_000, used: 3_000_000, available: 600_000 },
  BREAK_GLASS_NOT_ALLOWED: { resourceId: 'prod-db' },
  BREAK_GLASS_REASON_TOO_SHORT: { min: 20, length: 8 },
  ALREADY_REVIEWED: { grantId: 'grt_bg' },
  NOT_BREAK_GLASS: { grantId: 'grt_plain' },
  GUEST_NOT_ALLOWED: { resourceId: 'prod-db' },
  EXTERNAL_NOT_ALLOWED: { resourceId: 'prod-db' },
  ACCOUNT_DEACTIVATED: undefined,
  IDENTITY_UNVERIFIED: undefined,
  REQUESTER_NO_LONGER_ALLOWED: { resourceId: 'prod-db', requesterId: 'U_DEV', why: 'NOT_REQUESTER' },
  RIGHTS_UNVERIFIED: { resourceId: 'prod-db', who: 'requester' },
  VOTES_WITHDRAWN: { resourceId: 'prod-web', count: 1, have: 1, need: 2 },
};
// The record pairs each code with its own detail, so each entry is that code's failure.
const ALL = Object.entries(TYPICAL).map(
  ([code, detail]) => [code, { ok: false, error: code, detail } as Failure] as const,
);

describe('errorText', () => {
  it.each(ALL)('%s has its own sentence', (code, failure) => {
    const text = errorText(failure);
    expect(text).not.toContain(code);
    expect(text).not.toContain('undefined');
    expect(text).not.toContain('NaN');
    expect(text.length).toBeGreaterThan(30);
    expect(text.length).toBeLessThan(400);
  });

  it.each(ALL)('%s writes no raw <…>, which Slack would read as a link or mention', (_code, failure) => {
    expect(errorText(failure)).not.toMatch(/[<>]/);
  });

  it('gives every code a different sentence', () => {
    const sentences = ALL.map(([, failure]) => errorText(failure));
    expect(new Set(sentences).size).toBe(sentences.length);
  });

  it.each<[Failure, readonly string[]]>([
    [err('DURATION_TOO_LONG', { resourceId: 'prod-db', max: 3_600_000, requested: 7_200_000 }), ['2h', '1h']],
    [err('DURATION_TOO_SHORT', { resourceId: 'prod-db', min: 60_000, requested: 30_000 }), ['30s', '1m']],
    [
      err('ADDRESS_TOO_WIDE', { cidr: '10.0.0.0/8', prefix: 8, required: 32, family: 4 }),
      ['10.0.0.0/8', '/32'],
    ],
    [
      err('ADDRESS_TOO_WIDE', { cidr: '0.0.0.0/0', prefix: 0, required: 32, family: 4 }),
      ['0.0.0.0/0', 'whole internet'],
    ],
    [
      err('ADDRESS_TOO_WIDE', { cidr: '2001:db8::/32', prefix: 32, required: 64, family: 6 }),
      ['2001:db8::/32', 'IPv6', '/64'],
    ],
    [
      err('ADDRESS_HOST_BITS_SET', { input: '203.0.113.7/24', suggestion: '203.0.113.0/24' }),
      ['203.0.113.0/24'],
    ],
    [err('INVALID_DURATION', { input: '30x' }), ['30x', '1h30m']],
    [err('UNKNOWN_RESOURCE', { resourceId: 'prod-dbb' }), ['prod-dbb', '/access resources']],
    [err('NOT_PENDING', { requestId: 'req_x', state: 'timed_out' }), ['timed out']],
    [err('MISSING_ID', { command: 'cancel' }), ['request id']],
    [err('MISSING_ID', { command: 'extend' }), ['grant id', 'extend']],
    [err('REASON_TOO_LONG', { length: 1200, max: 1000 }), ['1200', '1000']],
    [err('NOT_YOUR_REQUEST', { requestId: 'req_theirs' }), ['req_theirs', 'not yours', 'cancel']],
    [err('NOT_YOUR_GRANT', { grantId: 'grt_theirs' }), ['grt_theirs', 'not yours', '/access revoke']],
    [
      err('NOT_EXTENDABLE', { resourceId: 'prod-readonly' }),
      ['prod-readonly', 'cannot be lengthened', 'new grant'],
    ],
    [
      err('EXTENSION_PENDING', { grantId: 'grt_mine', requestId: 'req_more' }),
      ['grt_mine', 'req_more', 'cancel'],
    ],
    [
      err('EXTENSION_TOO_LONG', {
        resourceId: 'prod-db',
        max: 3_600_000,
        used: 3_000_000,
        available: 600_000,
      }),
      [
        '`prod-db` allows at most 1h in all from the original start; this grant has used 50m, so at most 10m more',
      ],
    ],
    [
      err('EXTENSION_TOO_LONG', { resourceId: 'prod-db', max: 3_600_000, used: 3_600_000, available: 0 }),
      ['cannot be extended any further'],
    ],
    [err('BREAK_GLASS_NOT_ALLOWED', { resourceId: 'prod-db' }), ['prod-db', '--break-glass']],
    [err('BREAK_GLASS_REASON_TOO_SHORT', { min: 20, length: 8 }), ['at least 20 characters', 'yours has 8']],
    [err('ALREADY_REVIEWED', { grantId: 'grt_bg' }), ['grt_bg', 'already been reviewed']],
    [err('NOT_BREAK_GLASS', { grantId: 'grt_plain' }), ['grt_plain', 'not opened by break-glass']],
    [
      err('DURATION_TOO_LONG', {
        resourceId: 'prod-db',
        max: 3_600_000,
        requested: 7_200_000,
        breakGlass: true,
      }),
      ['2h', 'break-glass access is limited to 1h'],
    ],
    [
      err('GUEST_NOT_ALLOWED', { resourceId: 'prod-db' }),
      ['You are a guest', '`prod-db`', 'allowGuests: true'],
    ],
    [err('GUEST_NOT_ALLOWED', { admin: true }), ['You are a guest', 'admin rights are for full members']],
    [err('GUEST_NOT_ALLOWED'), ['You are a guest', 'no resource here admits guests']],
    [
      err('EXTERNAL_NOT_ALLOWED', { resourceId: 'prod-db' }),
      ['outside this Slack workspace', '`prod-db`', 'allowExternal: true'],
    ],
    [err('IDENTITY_UNVERIFIED'), ['could not confirm with Slack', 'nothing was changed', 'try again']],
    [
      err('REQUESTER_NO_LONGER_ALLOWED', {
        resourceId: 'prod-db',
        requesterId: 'U_DEV',
        why: 'NOT_REQUESTER',
      }),
      [
        'could not be approved',
        'may no longer ask for `prod-db`',
        'no longer among its requesters',
        'failed',
      ],
    ],
    [
      err('RIGHTS_UNVERIFIED', { resourceId: 'prod-db', who: 'approvers' }),
      ['earlier approvers', 'not recorded', 'try again'],
    ],
    [
      err('VOTES_WITHDRAWN', { resourceId: 'prod-web', count: 1, have: 1, need: 2 }),
      ['Your approval is recorded', 'an earlier approval no longer counts', '1 of the 2', 'another approver'],
    ],
  ])('%o names what was wrong and what would be right', (failure, phrases) => {
    const text = errorText(failure);
    for (const p of phrases) expect(text).toContain(p);
  });

  it('escapes echoed user input so it cannot ping or link', () => {
    const text = errorText(err('INVALID_DURATION', { input: '<!channel>' }));
    expect(text).toContain('&lt;!channel&gt;');
    expect(text).not.toMatch(/<[^>]*>/);
  });
});
