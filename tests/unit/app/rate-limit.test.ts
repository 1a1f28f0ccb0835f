import { RateLimiter } from '../../../src/app/rate-limit';
import { FakeClock } from '../../support/fake-clock';

describe('RateLimiter', () => {
  it('admits up to the limit in a window, refuses the next, and admits again once the window slides', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter(clock, 3, 60_000);
    expect([1, 2, 3, 4].map(() => limiter.admit('U1'))).toEqual([true, true, true, false]);
    clock.advance(59_999);
    expect(limiter.admit('U1')).toBe(false);
    clock.advance(1);
    expect(limiter.admit('U1')).toBe(true);
  });

  it('counts each user separately', () => {
    const limiter = new RateLimiter(new FakeClock(), 1, 60_000);
    expect(limiter.admit('U1')).toBe(true);
    expect(limiter.admit('U2')).toBe(true);
    expect(limiter.admit('U1')).toBe(false);
  });

  it('does not count refused attempts, so a flood does not extend the wait', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter(clock, 1, 10_000);
    limiter.admit('U1');
    for (let i = 0; i < 50; i++) limiter.admit('U1');
    clock.advance(10_000);
    expect(limiter.admit('U1')).toBe(true);
  });

  it('survives a clock that goes backwards without admitting a flood', () => {
    const clock = new FakeClock('2026-11-25T12:00:00Z');
    const limiter = new RateLimiter(clock, 2, 60_000);
    limiter.admit('U1');
    limiter.admit('U1');
    clock.set('2026-11-25T11:59:00Z');
    expect(limiter.admit('U1')).toBe(true);
    expect(limiter.admit('U1')).toBe(true);
    expect(limiter.admit('U1')).toBe(false);
  });
});
