import {
  accessInterval,
  cidrsOverlap,
  matchesSearch,
  parseAuditDate,
  parseWho,
  type ResolvedSearchFilters,
  type SearchableRequest,
} from '../../../src/domain/audit-search';
import { parseSourceAddress, type SourceCidr } from '../../../src/domain/cidr';

const T = (iso: string) => new Date(iso);
const cidr = (text: string): SourceCidr => {
  const parsed = parseSourceAddress(text);
  if (!parsed.ok) throw new Error(`bad cidr ${text}`);
  return parsed.value;
};

/** A grant on prod-db from 203.0.113.7: started 02:45, planned to end 03:45, revoked at 02:50. */
const request = (overrides: Partial<SearchableRequest> = {}): SearchableRequest => ({
  people: ['UREQ', 'UAPP'],
  resourceId: 'prod-db',
  address: '203.0.113.7/32',
  requestedAt: T('2026-11-14T02:40:00Z'),
  startedAt: T('2026-11-14T02:45:00Z'),
  expiresAt: T('2026-11-14T03:45:00Z'),
  endedAt: T('2026-11-14T02:50:00Z'),
  closing: false,
  endReason: 'revoked',
  ...overrides,
});

const window = (from: string, to: string): ResolvedSearchFilters => ({ from: T(from), to: T(to) });

describe('who had access in a window: [started, ended-or-planned-end) overlaps [from, to)', () => {
  it.each<[string, Partial<SearchableRequest>, ResolvedSearchFilters, boolean]>([
    ['a grant inside the window', {}, window('2026-11-14T02:00Z', '2026-11-14T03:00Z'), true],
    ['a grant that ended as the window began', {}, window('2026-11-14T02:50Z', '2026-11-14T03:00Z'), false],
    ['a grant that began as the window ended', {}, window('2026-11-14T02:00Z', '2026-11-14T02:45Z'), false],
    ['a grant covering the whole window', {}, window('2026-11-14T02:46Z', '2026-11-14T02:47Z'), true],
    [
      'a live grant, by its planned end',
      { endedAt: undefined, endReason: undefined },
      window('2026-11-14T03:30Z', '2026-11-14T04:00Z'),
      true,
    ],
    [
      'a live grant past its planned end is not counted',
      { endedAt: undefined, endReason: undefined },
      window('2026-11-14T03:45Z', '2026-11-14T04:00Z'),
      false,
    ],
    [
      'a grant still closing past its planned end: open until AWS confirms',
      { endedAt: undefined, closing: true },
      window('2026-11-14T05:00Z', '2026-11-14T06:00Z'),
      true,
    ],
    [
      'a request without access, made in the window',
      { startedAt: undefined, endedAt: undefined },
      window('2026-11-14T02:30Z', '2026-11-14T02:41Z'),
      true,
    ],
    [
      'a request without access, made before the window',
      { startedAt: undefined, endedAt: undefined },
      window('2026-11-14T02:41Z', '2026-11-14T06:00Z'),
      false,
    ],
    ['only a start: from then on', {}, { from: T('2026-11-14T02:49Z') }, true],
    ['only an end: until then', {}, { to: T('2026-11-14T02:45Z') }, false],
  ])('%s', (_name, overrides, filters, expected) => {
    expect(matchesSearch(request(overrides), filters)).toBe(expected);
  });

  it('has no access interval for a request that never opened', () => {
    expect(accessInterval(request({ startedAt: undefined }))).toBeUndefined();
  });
});

describe('the other filters', () => {
  it.each<[string, ResolvedSearchFilters, boolean]>([
    ['the requester', { who: { userId: 'UREQ' } }, true],
    ['an approver', { who: { userId: 'UAPP' } }, true],
    ['someone else', { who: { userId: 'UOTHER' } }, false],
    ['the resource', { resourceId: 'prod-db' }, true],
    ['another resource', { resourceId: 'prod-web' }, false],
    ['the same host', { address: cidr('203.0.113.7') }, true],
    ['a network covering the source', { address: cidr('203.0.113.0/24') }, true],
    ['another network', { address: cidr('198.51.100.0/24') }, false],
    ['an IPv6 network', { address: cidr('2001:db8::/32') }, false],
    ['the end reason', { endReason: 'revoked' }, true],
    ['another end reason', { endReason: 'expired' }, false],
  ])('match by %s', (_name, filters, expected) => {
    expect(matchesSearch(request(), filters)).toBe(expected);
  });

  it('matches a host inside a network the request asked for', () => {
    expect(matchesSearch(request({ address: '198.51.100.0/28' }), { address: cidr('198.51.100.4') })).toBe(
      true,
    );
  });

  it('never matches an address filter on a role request', () => {
    expect(matchesSearch(request({ address: undefined }), { address: cidr('0.0.0.0/0') })).toBe(false);
  });

  it('needs every filter to match', () => {
    expect(matchesSearch(request(), { resourceId: 'prod-db', who: { userId: 'UOTHER' } })).toBe(false);
  });
});

describe('search inputs', () => {
  it.each([
    ['UALICE1', { userId: 'UALICE1' }],
    ['<@UALICE1>', { userId: 'UALICE1' }],
    ['<@UALICE1|alice>', { userId: 'UALICE1' }],
    ['@Alice.Smith', { handle: 'alice.smith' }],
    ['hallpass', { userId: 'hallpass' }],
    ['alice', undefined],
    ['<@alice>', undefined],
  ])('reads who %p', (input, expected) => {
    expect(parseWho(input)).toEqual(expected);
  });

  it('tells overlapping networks from disjoint ones, per family', () => {
    expect(cidrsOverlap(cidr('10.0.0.0/8'), cidr('10.1.2.3'))).toBe(true);
    expect(cidrsOverlap(cidr('10.1.2.3'), cidr('10.0.0.0/8'))).toBe(true);
    expect(cidrsOverlap(cidr('10.0.0.0/8'), cidr('11.0.0.0/8'))).toBe(false);
    expect(cidrsOverlap(cidr('2001:db8::/32'), cidr('2001:db8:1::1'))).toBe(true);
    expect(cidrsOverlap(cidr('::/0'), cidr('10.0.0.0/8'))).toBe(false);
  });

  it.each([
    ['2026-11-14', '2026-11-14T00:00:00.000Z'],
    ['2026-11-14T02:00Z', '2026-11-14T02:00:00.000Z'],
    ['2026-11-14T03:00+01:00', '2026-11-14T02:00:00.000Z'],
    ['2026-11-14T02:00:00.5Z', '2026-11-14T02:00:00.500Z'],
  ])('reads the date %p', (input, iso) => {
    expect(parseAuditDate(input)?.toISOString()).toBe(iso);
  });

  it.each(['2026-11-14T02:00', '2026-02-30', 'yesterday', '2026-11-14T24:00Z'])(
    'refuses the date %p',
    (input) => {
      expect(parseAuditDate(input)).toBeUndefined();
    },
  );
});
