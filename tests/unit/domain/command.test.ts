import {
  type Command,
  type CommandError,
  MAX_REASON_LENGTH,
  parseCommand,
} from '../../../src/domain/command';

const M = 60_000;

describe('parseCommand', () => {
  describe('subcommands', () => {
    it.each<[string, string, Command]>([
      ['an empty command opens the form', '', { kind: 'form' }],
      ['whitespace alone opens the form', '   \t ', { kind: 'form' }],
      ['help', 'help', { kind: 'help' }],
      ['help in capitals', 'HELP', { kind: 'help' }],
      ['list', 'list', { kind: 'list' }],
      ['list with surrounding spaces', '  list  ', { kind: 'list' }],
      ['resources', 'resources', { kind: 'resources' }],
      ['revoke with a grant id', 'revoke grt_abc123', { kind: 'revoke', grantId: 'grt_abc123' }],
      ['Revoke in mixed case', 'Revoke grt_abc123', { kind: 'revoke', grantId: 'grt_abc123' }],
      ['cancel with a request id', 'cancel req_XyZ9', { kind: 'cancel', requestId: 'req_XyZ9' }],
      [
        'extend with an id and a duration',
        'extend grt_abc 30m',
        { kind: 'extend', grantId: 'grt_abc', durationMs: 30 * M },
      ],
      [
        'extend with a compound duration',
        'extend grt_abc 1h30m',
        { kind: 'extend', grantId: 'grt_abc', durationMs: 90 * M },
      ],
    ])('parses %s', (_name, text, expected) => {
      expect(parseCommand(text)).toEqual({ ok: true, value: expected });
    });

    it.each<[string, string, CommandError['error']]>([
      ['revoke without an id', 'revoke', 'MISSING_ID'],
      ['revoke with something that is not an id', 'revoke everything', 'MISSING_ID'],
      ['revoke with an id of the wrong shape', 'revoke grt-abc', 'MISSING_ID'],
      ['cancel without an id', 'cancel', 'MISSING_ID'],
      ['cancel with something that is not an id', 'cancel 42', 'MISSING_ID'],
      ['extend without an id', 'extend', 'MISSING_ID'],
      ['extend with a duration in place of the id', 'extend 30m', 'MISSING_ID'],
      ['extend without a duration', 'extend grt_abc', 'MISSING_DURATION'],
      ['extend with an unknown unit', 'extend grt_abc 30x', 'INVALID_DURATION'],
      ['extend with a word for a duration', 'extend grt_abc soon', 'INVALID_DURATION'],
      ['extend by nothing', 'extend grt_abc 0m', 'ZERO_DURATION'],
    ])('refuses %s with %s', (_name, text, error) => {
      const result = parseCommand(text);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toBe(error);
    });
  });

  describe('requests', () => {
    it.each<[string, string, Command]>([
      [
        'resource, duration, address and reason',
        'prod-db 30m from 203.0.113.7 debugging slow queries',
        {
          kind: 'request',
          resourceId: 'prod-db',
          durationMs: 30 * M,
          address: '203.0.113.7',
          reason: 'debugging slow queries',
          breakGlass: false,
        },
      ],
      [
        'a reason whose inner spacing is kept',
        'prod-db 30m from 203.0.113.7 debugging   slow\tqueries  ',
        {
          kind: 'request',
          resourceId: 'prod-db',
          durationMs: 30 * M,
          address: '203.0.113.7',
          reason: 'debugging   slow\tqueries',
          breakGlass: false,
        },
      ],
      [
        'no duration (the resource default decides later)',
        'prod-db from 203.0.113.7 debugging',
        {
          kind: 'request',
          resourceId: 'prod-db',
          durationMs: undefined,
          address: '203.0.113.7',
          reason: 'debugging',
          breakGlass: false,
        },
      ],
      [
        'no address (a role, or refused later for a security group)',
        'prod-readonly 1h reading logs',
        {
          kind: 'request',
          resourceId: 'prod-readonly',
          durationMs: 60 * M,
          address: undefined,
          reason: 'reading logs',
          breakGlass: false,
        },
      ],
      [
        'neither duration nor address',
        'prod-readonly reading logs',
        {
          kind: 'request',
          resourceId: 'prod-readonly',
          durationMs: undefined,
          address: undefined,
          reason: 'reading logs',
          breakGlass: false,
        },
      ],
      [
        'an uppercase resource, lowered',
        'PROD-DB 30m from 203.0.113.7 debugging',
        {
          kind: 'request',
          resourceId: 'prod-db',
          durationMs: 30 * M,
          address: '203.0.113.7',
          reason: 'debugging',
          breakGlass: false,
        },
      ],
      [
        'FROM in capitals',
        'prod-db 30m FROM 2001:db8::1 debugging',
        {
          kind: 'request',
          resourceId: 'prod-db',
          durationMs: 30 * M,
          address: '2001:db8::1',
          reason: 'debugging',
          breakGlass: false,
        },
      ],
      [
        'an address passed on as typed (checked by the use case)',
        'prod-db 30m from not-an-ip debugging',
        {
          kind: 'request',
          resourceId: 'prod-db',
          durationMs: 30 * M,
          address: 'not-an-ip',
          reason: 'debugging',
          breakGlass: false,
        },
      ],
      [
        'a reason that mentions "from" after the address',
        'prod-db 30m from 203.0.113.7 copy rows from backup',
        {
          kind: 'request',
          resourceId: 'prod-db',
          durationMs: 30 * M,
          address: '203.0.113.7',
          reason: 'copy rows from backup',
          breakGlass: false,
        },
      ],
      [
        'a reason of exactly MAX_REASON_LENGTH characters',
        `prod-db 30m from 203.0.113.7 ${'r'.repeat(MAX_REASON_LENGTH)}`,
        {
          kind: 'request',
          resourceId: 'prod-db',
          durationMs: 30 * M,
          address: '203.0.113.7',
          reason: 'r'.repeat(MAX_REASON_LENGTH),
          breakGlass: false,
        },
      ],
    ])('parses %s', (_name, text, expected) => {
      expect(parseCommand(text)).toEqual({ ok: true, value: expected });
    });

    it.each<[string, string, CommandError['error']]>([
      ['from without an address', 'prod-db 30m from', 'MISSING_ADDRESS'],
      ['a missing reason after the address', 'prod-db 30m from 203.0.113.7', 'MISSING_REASON'],
      ['a missing reason after the duration', 'prod-db 30m', 'MISSING_REASON'],
      ['a resource alone', 'prod-db', 'MISSING_REASON'],
      ['an unknown duration unit', 'prod-db 30x from 203.0.113.7 debugging', 'INVALID_DURATION'],
      ['a fractional duration', 'prod-db 1.5h from 203.0.113.7 debugging', 'INVALID_DURATION'],
      ['a zero duration', 'prod-db 0m from 203.0.113.7 debugging', 'ZERO_DURATION'],
      [
        'a resource name with an underscore',
        'prod_db 30m from 203.0.113.7 debugging',
        'INVALID_RESOURCE_NAME',
      ],
      ['a resource name with a dot', 'prod.db 30m debugging', 'INVALID_RESOURCE_NAME'],
      ['a resource name with markup', '<@U123> 30m debugging', 'INVALID_RESOURCE_NAME'],
      ['a resource name over 64 characters', `${'a'.repeat(65)} 30m debugging`, 'INVALID_RESOURCE_NAME'],
      [
        'a reason over MAX_REASON_LENGTH',
        `prod-db 30m from 203.0.113.7 ${'r'.repeat(MAX_REASON_LENGTH + 1)}`,
        'REASON_TOO_LONG',
      ],
    ])('refuses %s with %s', (_name, text, error) => {
      const result = parseCommand(text);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toBe(error);
    });

    it('reports the length and limit of a reason that is too long', () => {
      const result = parseCommand(`prod-db 30m ${'r'.repeat(MAX_REASON_LENGTH + 5)}`);
      expect(result).toEqual({
        ok: false,
        error: 'REASON_TOO_LONG',
        detail: { length: MAX_REASON_LENGTH + 5, max: MAX_REASON_LENGTH },
      });
    });
  });
});

describe('parseCommand: /access audit', () => {
  it.each([
    ['audit', 30],
    ['audit 7', 7],
    ['AUDIT 366', 366],
  ])('reads %p as %p days', (text, days) => {
    expect(parseCommand(text)).toEqual({ ok: true, value: { kind: 'audit', days } });
  });

  it.each(['audit 0', 'audit -3', 'audit 1.5', 'audit lots', 'audit 367'])(
    'refuses %p with INVALID_DAYS',
    (text) => {
      expect(parseCommand(text)).toMatchObject({ ok: false, error: 'INVALID_DAYS' });
    },
  );
});

describe('parseCommand: /access audit search', () => {
  it('reads every filter, in any order, case-insensitive names', () => {
    expect(
      parseCommand(
        'audit search resource:prod-db FROM:2026-11-14T02:00Z to:2026-11-14T03:00Z who:<@UALICE1|alice> address:10.0.0.0/8 end:revoked',
      ),
    ).toEqual({
      ok: true,
      value: {
        kind: 'audit-search',
        filters: {
          resourceId: 'prod-db',
          from: new Date('2026-11-14T02:00:00.000Z'),
          to: new Date('2026-11-14T03:00:00.000Z'),
          who: { userId: 'UALICE1' },
          address: { family: 4, cidr: '10.0.0.0/8', prefix: 8 },
          endReason: 'revoked',
        },
      },
    });
  });

  it('searches everything without filters', () => {
    expect(parseCommand('audit search')).toEqual({ ok: true, value: { kind: 'audit-search', filters: {} } });
  });

  it.each([
    ['audit search colour:blue', 'SEARCH_UNKNOWN_FILTER'],
    ['audit search prod-db', 'SEARCH_UNKNOWN_FILTER'],
    ['audit search who:UAAA1 who:UBBB2', 'SEARCH_REPEATED_FILTER'],
    ['audit search resource:', 'SEARCH_EMPTY_VALUE'],
    ['audit search who:alice', 'SEARCH_INVALID_WHO'],
    ['audit search resource:Prod_DB', 'SEARCH_INVALID_RESOURCE'],
    ['audit search address:10.0.0.1/8', 'SEARCH_INVALID_ADDRESS'],
    ['audit search from:2026-11-14T02:00', 'SEARCH_INVALID_DATE'],
    ['audit search end:closed', 'SEARCH_INVALID_END_REASON'],
    ['audit search from:2026-11-14 to:2026-11-13', 'SEARCH_EMPTY_RANGE'],
  ])('refuses %p with %s', (text, error) => {
    expect(parseCommand(text)).toMatchObject({ ok: false, error });
  });

  it('still reads `audit <days>` as the export', () => {
    expect(parseCommand('audit 7')).toEqual({ ok: true, value: { kind: 'audit', days: 7 } });
  });
});

describe('parseCommand: --break-glass', () => {
  it.each([
    [
      'prod-db 30m from 203.0.113.7 --break-glass database is down, customers affected',
      'database is down, customers affected',
    ],
    [
      'prod-db 30m --break-glass from 203.0.113.7 database is down, customers affected',
      'database is down, customers affected',
    ],
    [
      'prod-db --BREAK-GLASS 30m from 203.0.113.7 outage in progress right now',
      'outage in progress right now',
    ],
  ])('takes the flag out of %p and keeps the reason', (text, reason) => {
    expect(parseCommand(text)).toMatchObject({
      ok: true,
      value: { kind: 'request', breakGlass: true, reason },
    });
  });

  it('does not treat a word containing the flag as the flag', () => {
    expect(parseCommand('prod-db 30m from 203.0.113.7 no--break-glass here')).toMatchObject({
      ok: true,
      value: { breakGlass: false, reason: 'no--break-glass here' },
    });
  });
});
