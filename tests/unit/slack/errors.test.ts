import { errorText, type UseCaseErrorCode } from '../../../src/adapters/slack/views/errors';
import type { CidrError } from '../../../src/domain/cidr';
import type { CommandError } from '../../../src/domain/command';

/**
 * Each code with a typical detail. Typed as complete records, so a code added to CommandError or
 * CidrError without a case here fails to compile.
 */
const COMMAND: Record<CommandError['error'], Record<string, unknown>> = {
  INVALID_DURATION: { input: '30x' },
  ZERO_DURATION: { input: '0m' },
  MISSING_ADDRESS: {},
  MISSING_REASON: { resourceId: 'prod-db' },
  REASON_TOO_LONG: { length: 1200, max: 1000 },
  MISSING_ID: { command: 'revoke' },
  MISSING_DURATION: {},
  INVALID_RESOURCE_NAME: { input: 'Prod_DB' },
  INVALID_DAYS: { input: 'lots', max: 366 },
};
const CIDR: Record<CidrError['error'], Record<string, unknown>> = {
  INVALID_ADDRESS: { input: '300.1.2.3' },
  ADDRESS_HOST_BITS_SET: { input: '203.0.113.7/24', suggestion: '203.0.113.0/24' },
  ADDRESS_TOO_WIDE: { cidr: '10.0.0.0/8', prefix: 8, required: 32, family: 4 },
};
const USE_CASE: Record<UseCaseErrorCode, Record<string, unknown>> = {
  UNKNOWN_RESOURCE: { resourceId: 'prod-dbb' },
  NOT_REQUESTER: { resourceId: 'prod-db' },
  DURATION_TOO_SHORT: { min: 60_000, requested: 30_000 },
  DURATION_TOO_LONG: { max: 3_600_000, requested: 7_200_000 },
  DURATION_REQUIRED: { resourceId: 'prod-db' },
  ADDRESS_REQUIRED: { resourceId: 'prod-db', example: '/access prod-db 30m from 203.0.113.7 …' },
  ADDRESS_NOT_APPLICABLE: { resourceId: 'prod-readonly' },
  UNKNOWN_REQUEST: { requestId: 'req_nope' },
  NOT_APPROVER: { resourceId: 'prod-db' },
  SELF_APPROVAL: {},
  ALREADY_APPROVED: {},
  NOT_PENDING: { state: 'approved' },
  UNKNOWN_GRANT: { grantId: 'grt_nope' },
  NOT_ALLOWED_TO_REVOKE: { grantId: 'grt_someone', resourceId: 'prod-db' },
  CLOSE_PENDING: { grantId: 'grt_x', resourceId: 'prod-db', error: 'InfraError: LimitExceeded' },
  GRANT_NOT_ACTIVE: { grantId: 'grt_done', state: 'closed' },
  NOT_YET_AVAILABLE: { feature: '/access extend' },
  RATE_LIMITED: {},
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
  ACCOUNT_DEACTIVATED: {},
  IDENTITY_UNVERIFIED: {},
  REQUESTER_NO_LONGER_ALLOWED: { resourceId: 'prod-db', why: 'NOT_REQUESTER' },
  RIGHTS_UNVERIFIED: { resourceId: 'prod-db', who: 'requester' },
  VOTES_WITHDRAWN: { resourceId: 'prod-web', count: 1, have: 1, need: 2 },
};
const ALL = [...Object.entries(COMMAND), ...Object.entries(CIDR), ...Object.entries(USE_CASE)];

const FALLBACK = errorText('SOMETHING_NEW');

describe('errorText', () => {
  it.each(ALL)('%s has its own sentence, not the fallback', (code, detail) => {
    const text = errorText(code, detail);
    expect(text).not.toBe(FALLBACK);
    expect(text).not.toContain(code);
    expect(text.length).toBeGreaterThan(30);
    expect(text.length).toBeLessThan(400);
  });

  it.each(ALL)('%s still reads as a sentence without details', (code) => {
    const text = errorText(code);
    expect(text).not.toContain('undefined');
    expect(text).not.toContain('NaN');
  });

  it.each(ALL)('%s writes no raw <…>, which Slack would read as a link or mention', (code, detail) => {
    expect(errorText(code, detail)).not.toMatch(/[<>]/);
  });

  it('gives every code a different sentence', () => {
    const sentences = ALL.map(([code, detail]) => errorText(code, detail));
    expect(new Set(sentences).size).toBe(sentences.length);
  });

  it.each([
    ['DURATION_TOO_LONG', { max: 3_600_000, requested: 7_200_000 }, ['2h', '1h']],
    ['DURATION_TOO_SHORT', { min: 60_000, requested: 30_000 }, ['30s', '1m']],
    ['ADDRESS_TOO_WIDE', { cidr: '10.0.0.0/8', prefix: 8, required: 32, family: 4 }, ['10.0.0.0/8', '/32']],
    [
      'ADDRESS_TOO_WIDE',
      { cidr: '0.0.0.0/0', prefix: 0, required: 32, family: 4 },
      ['0.0.0.0/0', 'whole internet'],
    ],
    [
      'ADDRESS_TOO_WIDE',
      { cidr: '2001:db8::/32', prefix: 32, required: 64, family: 6 },
      ['2001:db8::/32', 'IPv6', '/64'],
    ],
    ['ADDRESS_HOST_BITS_SET', { input: '203.0.113.7/24', suggestion: '203.0.113.0/24' }, ['203.0.113.0/24']],
    ['INVALID_DURATION', { input: '30x' }, ['30x', '1h30m']],
    ['UNKNOWN_RESOURCE', { resourceId: 'prod-dbb' }, ['prod-dbb', '/access resources']],
    ['NOT_PENDING', { state: 'timed_out' }, ['timed out']],
    ['MISSING_ID', { command: 'cancel' }, ['request id']],
    ['MISSING_ID', { command: 'extend' }, ['grant id', 'extend']],
    ['REASON_TOO_LONG', { length: 1200, max: 1000 }, ['1200', '1000']],
    ['NOT_YOUR_REQUEST', { requestId: 'req_theirs' }, ['req_theirs', 'not yours', 'cancel']],
    ['NOT_YOUR_GRANT', { grantId: 'grt_theirs' }, ['grt_theirs', 'not yours', '/access revoke']],
    [
      'NOT_EXTENDABLE',
      { resourceId: 'prod-readonly' },
      ['prod-readonly', 'cannot be lengthened', 'new grant'],
    ],
    ['EXTENSION_PENDING', { grantId: 'grt_mine', requestId: 'req_more' }, ['grt_mine', 'req_more', 'cancel']],
    [
      'EXTENSION_TOO_LONG',
      { resourceId: 'prod-db', max: 3_600_000, used: 3_000_000, available: 600_000 },
      [
        '`prod-db` allows at most 1h in all from the original start; this grant has used 50m, so at most 10m more',
      ],
    ],
    [
      'EXTENSION_TOO_LONG',
      { resourceId: 'prod-db', max: 3_600_000, used: 3_600_000, available: 0 },
      ['cannot be extended any further'],
    ],
    ['BREAK_GLASS_NOT_ALLOWED', { resourceId: 'prod-db' }, ['prod-db', '--break-glass']],
    ['BREAK_GLASS_REASON_TOO_SHORT', { min: 20, length: 8 }, ['at least 20 characters', 'yours has 8']],
    ['ALREADY_REVIEWED', { grantId: 'grt_bg' }, ['grt_bg', 'already been reviewed']],
    ['NOT_BREAK_GLASS', { grantId: 'grt_plain' }, ['grt_plain', 'not opened by break-glass']],
    [
      'DURATION_TOO_LONG',
      { resourceId: 'prod-db', max: 3_600_000, requested: 7_200_000, breakGlass: true },
      ['2h', 'break-glass access is limited to 1h'],
    ],
    ['GUEST_NOT_ALLOWED', { resourceId: 'prod-db' }, ['You are a guest', '`prod-db`', 'allowGuests: true']],
    ['GUEST_NOT_ALLOWED', { admin: true }, ['You are a guest', 'admin rights are for full members']],
    ['GUEST_NOT_ALLOWED', {}, ['You are a guest', 'no resource here admits guests']],
    [
      'EXTERNAL_NOT_ALLOWED',
      { resourceId: 'prod-db' },
      ['outside this Slack workspace', '`prod-db`', 'allowExternal: true'],
    ],
    ['IDENTITY_UNVERIFIED', {}, ['could not confirm with Slack', 'nothing was changed', 'try again']],
    [
      'REQUESTER_NO_LONGER_ALLOWED',
      { resourceId: 'prod-db', why: 'NOT_REQUESTER' },
      [
        'could not be approved',
        'may no longer ask for `prod-db`',
        'no longer among its requesters',
        'failed',
      ],
    ],
    [
      'RIGHTS_UNVERIFIED',
      { resourceId: 'prod-db', who: 'approvers' },
      ['earlier approvers', 'not recorded', 'try again'],
    ],
    [
      'VOTES_WITHDRAWN',
      { resourceId: 'prod-web', count: 1, have: 1, need: 2 },
      ['Your approval is recorded', 'an earlier approval no longer counts', '1 of the 2', 'another approver'],
    ],
  ] as const)('%s names what was wrong and what would be right (%j)', (code, detail, phrases) => {
    const text = errorText(code, detail);
    for (const p of phrases) expect(text).toContain(p);
  });

  it('escapes echoed user input so it cannot ping or link', () => {
    const text = errorText('INVALID_DURATION', { input: '<!channel>' });
    expect(text).toContain('&lt;!channel&gt;');
    expect(text).not.toMatch(/<[^>]*>/);
  });

  it('answers an unknown code honestly, naming it', () => {
    expect(FALLBACK).toContain('SOMETHING_NEW');
    expect(FALLBACK).toMatch(/could not/);
  });
});
