import { formatDuration, looksLikeDuration, parseDuration } from '../../../src/domain/duration';

const S = 1_000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('parseDuration', () => {
  it.each([
    ['90s', 90 * S],
    ['15m', 15 * M],
    ['1h', H],
    ['1h30m', H + 30 * M],
    ['2d', 2 * D],
    ['1d2h3m4s', D + 2 * H + 3 * M + 4 * S],
    ['1h15s', H + 15 * S],
    ['1H30M', H + 30 * M],
    ['  15m\t', 15 * M],
    ['0m', 0],
    ['999999s', 999_999 * S],
  ])('reads %j as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ['an unknown unit', '30x'],
    ['a unit without a number', 'm'],
    ['a number without a unit', '30'],
    ['a fraction', '1.5h'],
    ['units in the wrong order', '30m1h'],
    ['a unit given twice', '1h1h'],
    ['an empty string', ''],
    ['only spaces', '   '],
    ['a negative duration', '-5m'],
    ['an explicit plus sign', '+5m'],
    ['spaces between parts', '1h 30m'],
    ['a number of more than six digits', '1234567h'],
    ['absurdly long input', `${'1h'.repeat(20)}`],
    ['trailing junk', '15mx'],
    ['leading junk', 'x15m'],
    ['a word', 'soon'],
    ['exponent notation', '1e3s'],
  ])('refuses %s (%j)', (_name, text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('is not confused by a refused input before it (no state carried between calls)', () => {
    expect(parseDuration('30m1h')).toBeUndefined();
    expect(parseDuration('1h')).toBe(H);
  });
});

describe('formatDuration', () => {
  it.each([
    [90 * S, '1m30s'],
    [15 * M, '15m'],
    [H, '1h'],
    [H + 30 * M, '1h30m'],
    [2 * D, '2d'],
    [D + S, '1d1s'],
    [0, '0s'],
    [999, '0s'],
    [1_500, '1s'],
    [-5 * M, '0s'],
  ])('writes %d ms as %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each([[S], [90 * S], [15 * M], [H + 30 * M], [2 * D + 3 * H + 4 * M + 5 * S], [7 * D]])(
    'round-trips %d ms through parseDuration',
    (ms) => {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    },
  );

  it.each([['15m'], ['1h'], ['1h30m'], ['2d'], ['1d2h3m4s']])(
    'writes back the canonical form %j it was given',
    (text) => {
      const ms = parseDuration(text);
      expect(ms).toBeDefined();
      expect(formatDuration(ms ?? Number.NaN)).toBe(text);
    },
  );
});

describe('looksLikeDuration', () => {
  it.each([
    ['30m', true],
    ['30x', true],
    ['1.5h', true],
    ['debugging', false],
    ['from', false],
    ['-5m', false],
  ])('%j looks like a duration: %s', (token, expected) => {
    expect(looksLikeDuration(token)).toBe(expected);
  });
});
