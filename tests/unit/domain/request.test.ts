import { type RequestEvent, type RequestState, transition } from '../../../src/domain/request';

const STATES: readonly RequestState[] = ['pending', 'approved', 'denied', 'cancelled', 'timed_out', 'failed'];
const EVENTS: readonly RequestEvent[] = ['approve', 'deny', 'cancel', 'time_out', 'fail'];

/** Every legal move; anything not listed here must be refused. */
const LEGAL: ReadonlyArray<[RequestState, RequestEvent, RequestState]> = [
  ['pending', 'approve', 'approved'],
  ['pending', 'deny', 'denied'],
  ['pending', 'cancel', 'cancelled'],
  ['pending', 'time_out', 'timed_out'],
  ['pending', 'fail', 'failed'],
  ['approved', 'fail', 'failed'],
];

const isLegal = (state: RequestState, event: RequestEvent): boolean =>
  LEGAL.some(([s, e]) => s === state && e === event);

const ILLEGAL = STATES.flatMap((state) =>
  EVENTS.filter((event) => !isLegal(state, event)).map((event): [RequestState, RequestEvent] => [
    state,
    event,
  ]),
);

describe('transition', () => {
  it.each(LEGAL)('moves a %s request on %s to %s', (state, event, next) => {
    expect(transition(state, event)).toEqual({ ok: true, value: next });
  });

  it('refuses every other (state, event) pair: all 30 pairs are covered', () => {
    expect(LEGAL.length + ILLEGAL.length).toBe(STATES.length * EVENTS.length);
    expect(ILLEGAL).toHaveLength(24);
  });

  it.each(ILLEGAL)('refuses %s on %s with INVALID_TRANSITION', (state, event) => {
    expect(transition(state, event)).toEqual({
      ok: false,
      error: 'INVALID_TRANSITION',
      detail: { state, event },
    });
  });

  it.each([
    ['approving a request that was already approved (double click)', 'approved', 'approve'],
    ['approving a denied request', 'denied', 'approve'],
    ['approving a cancelled request', 'cancelled', 'approve'],
    ['approving a request that timed out', 'timed_out', 'approve'],
    ['denying an approved request', 'approved', 'deny'],
    ['cancelling an approved request', 'approved', 'cancel'],
  ] as const)('security: refuses %s', (_name, state, event) => {
    expect(transition(state, event).ok).toBe(false);
  });
});
