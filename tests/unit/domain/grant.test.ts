import { type GrantState, isLive, plannedEnd } from '../../../src/domain/grant';

describe('plannedEnd', () => {
  const approvedAt = new Date('2030-01-02T03:04:05.678Z');

  it.each([
    ['30 minutes', 30 * 60_000, '2030-01-02T03:34:05.678Z'],
    ['90 seconds', 90_000, '2030-01-02T03:05:35.678Z'],
    ['one millisecond', 1, '2030-01-02T03:04:05.679Z'],
    ['across midnight', 2 * 86_400_000 - 3 * 3_600_000, '2030-01-04T00:04:05.678Z'],
    ['zero', 0, '2030-01-02T03:04:05.678Z'],
  ])('adds %s to the approval time, keeping milliseconds', (_name, ms, expected) => {
    expect(plannedEnd(approvedAt, ms).toISOString()).toBe(expected);
  });

  it('does not move the approval time it was given', () => {
    plannedEnd(approvedAt, 60_000);
    expect(approvedAt.toISOString()).toBe('2030-01-02T03:04:05.678Z');
  });
});

describe('isLive', () => {
  it.each<[GrantState, boolean]>([
    ['opening', true],
    ['active', true],
    ['closing', true],
    ['closed', false],
    ['failed', false],
  ])('a grant that is %s is live: %s', (state, expected) => {
    expect(isLive(state)).toBe(expected);
  });
});
