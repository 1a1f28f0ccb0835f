import type { types } from '@slack/bolt';
import { HOME_ITEMS_PER_LIST, homeView } from '../../../src/adapters/slack/views/home';
import { viewProblems } from '../../../src/adapters/slack/views/limits';
import { buildGrant, buildRequest, T0 } from '../../support/builders';

const MIN = 60_000;
const now = new Date(T0.getTime() + 10 * MIN);

const text = (v: types.HomeView): string =>
  (v.blocks as types.KnownBlock[])
    .flatMap((b) => {
      if (b.type === 'section') return [b.text?.text ?? ''];
      if (b.type === 'context') return b.elements.map((e) => ('text' in e ? e.text : ''));
      if (b.type === 'header') return [b.text.text];
      return [];
    })
    .join('\n');

describe('homeView', () => {
  it('explains how to use hallpass even when the user has nothing open', () => {
    const view = homeView({ userId: 'U_ME', pending: [], active: [], now });
    const t = text(view);
    expect(view.type).toBe('home');
    expect(t).toContain('/access');
    expect(t).toContain('Nothing pending.');
    expect(t).toContain('Nothing open right now.');
    expect(t).toContain(now.toISOString());
    expect(viewProblems(view)).toEqual([]);
  });

  it("shows the user's own pending requests and active grants", () => {
    const request = buildRequest({ id: 'req_h1', requesterId: 'U_ME' });
    const grant = buildGrant({
      id: 'grt_h1',
      requesterId: 'U_ME',
      state: 'active',
      expiresAt: new Date(T0.getTime() + 40 * MIN),
    });
    const t = text(homeView({ userId: 'U_ME', pending: [request], active: [{ grant, request }], now }));
    expect(t).toContain('`req_h1`');
    expect(t).toContain('`grt_h1`');
    expect(t).toContain(grant.expiresAt.toISOString());
    expect(t).toContain('(30m left)');
  });

  it("leaves out other people's requests and grants", () => {
    const theirs = buildRequest({ id: 'req_theirs', requesterId: 'U_OTHER' });
    const grant = buildGrant({ id: 'grt_theirs', requesterId: 'U_OTHER', state: 'active' });
    const t = text(
      homeView({ userId: 'U_ME', pending: [theirs], active: [{ grant, request: theirs }], now }),
    );
    expect(t).not.toContain('req_theirs');
    expect(t).not.toContain('grt_theirs');
  });

  it('stays within 100 blocks with 500 pending and 500 active, saying how many more', () => {
    const pending = Array.from({ length: 500 }, (_, i) =>
      buildRequest({ id: `req_h${i}`, requesterId: 'U_ME' }),
    );
    const active = pending.map((request, i) => ({
      request,
      grant: buildGrant({ id: `grt_h${i}`, requesterId: 'U_ME', state: 'active' }),
    }));
    const view = homeView({ userId: 'U_ME', pending, active, now });
    expect(viewProblems(view)).toEqual([]);
    expect(view.blocks.length).toBeLessThanOrEqual(100);
    expect(text(view)).toContain(`and ${500 - HOME_ITEMS_PER_LIST} more`);
    expect(text(view)).toContain('(500)');
  });
});
