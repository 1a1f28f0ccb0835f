import type { types } from '@slack/bolt';
import { HOME_LIMITS, type HomeInput, homeView } from '../../../src/adapters/slack/views/home';
import type { ApprovalCard } from '../../../src/app/notices';
import type { ActiveEntry } from '../../../src/app/queries';
import type { AwsRoleResource, SecurityGroupResource } from '../../../src/domain/policy';
import { viewProblems } from '../../support/block-kit';
import { buildGrant, buildRequest, buildRoleResource, buildSgResource, T0 } from '../../support/builders';

const MIN = 60_000;
const now = new Date(T0.getTime() + 10 * MIN);

const prodDb: SecurityGroupResource = buildSgResource({ approvals: 2, breakGlass: true });

const readonlyRole: AwsRoleResource = buildRoleResource();

const entry = (id: string, over: { requesterId?: string; breakGlass?: boolean } = {}): ActiveEntry => {
  const requesterId = over.requesterId ?? 'U_ME';
  const request = buildRequest({ id: `req_${id}`, requesterId, breakGlass: over.breakGlass ?? false });
  return {
    request,
    shown: { address: true, reason: true },
    grant: buildGrant({
      id: `grt_${id}`,
      requestId: request.id,
      requesterId,
      state: 'active',
      startsAt: T0,
      expiresAt: new Date(T0.getTime() + 40 * MIN),
      breakGlass: over.breakGlass ?? false,
    }),
  };
};

const approvalCard = (id: string, reason = 'debugging slow queries'): ApprovalCard => ({
  request: buildRequest({ id: `req_${id}`, requesterId: 'U_OTHER', reason }),
  resource: prodDb,
  approvals: [],
});

const input = (over: Partial<HomeInput> = {}): HomeInput => ({
  userId: 'U_ME',
  now,
  mine: [],
  minePending: [],
  awaitingMe: [],
  everyone: [],
  unreviewed: [],
  canReview: false,
  ...over,
});

const blocksOf = (v: types.HomeView): types.KnownBlock[] => v.blocks as types.KnownBlock[];

const text = (v: types.HomeView): string =>
  blocksOf(v)
    .flatMap((b) => {
      if (b.type === 'section') return [b.text?.text ?? ''];
      if (b.type === 'context') return b.elements.map((e) => ('text' in e ? e.text : ''));
      if (b.type === 'header') return [b.text.text];
      return [];
    })
    .join('\n');

/** Every button as `action_id=value`, in order. */
const buttons = (v: types.HomeView): string[] =>
  blocksOf(v)
    .filter((b): b is types.ActionsBlock => b.type === 'actions')
    .flatMap((b) => b.elements.map((e) => `${e.action_id}=${e.type === 'button' ? e.value : ''}`));

describe('homeView', () => {
  it('explains how to use hallpass and says briefly that each list is empty', () => {
    const view = homeView(input());
    const t = text(view);
    expect(view.type).toBe('home');
    expect(t).toContain('/access');
    expect(t).toContain('/access extend');
    expect(t).toContain('Nothing open right now.');
    expect(t).toContain('Nothing pending.');
    expect(t).toContain('Nothing waits for you.');
    expect(t).toContain('Nothing is open anywhere.');
    expect(t).toContain('every break-glass grant has been reviewed');
    expect(t).toContain(now.toISOString());
    expect(buttons(view)).toEqual([]);
    expect(viewProblems(view)).toEqual([]);
  });

  it('shows each of your grants with what, since, until and time left, and Extend and Done', () => {
    const mine = entry('h1');
    const view = homeView(input({ mine: [mine], resources: [prodDb] }));
    const t = text(view);
    expect(t).toContain('*Your access* (1)');
    expect(t).toContain('*prod-db* from 203.0.113.7/32 (tcp 5432)');
    expect(t).toContain(`since <!date^${Math.floor(T0.getTime() / 1000)}`);
    expect(t).toContain(mine.grant.expiresAt.toISOString());
    expect(t).toContain('(30m left)');
    expect(t).toContain('`grt_h1`');
    expect(buttons(view)).toEqual(['extend_grant=grt_h1', 'done_grant=grt_h1']);
  });

  it('marks a grant inside the warning window as ending soon', () => {
    const t = (warnBefore: number): string => text(homeView(input({ mine: [entry('h1')], warnBefore })));
    expect(t(30 * MIN)).toContain('ends soon');
    expect(t(5 * MIN)).not.toContain('ends soon');
  });

  it('leaves Extend off a role grant and all buttons off a grant that is not active yet', () => {
    const role = entry('role');
    const roleEntry: ActiveEntry = {
      shown: role.shown,
      request: { ...role.request, resourceId: 'prod-readonly', source: undefined },
      grant: { ...role.grant, resourceId: 'prod-readonly' },
    };
    const opening: ActiveEntry = { ...entry('op'), grant: { ...entry('op').grant, state: 'opening' } };
    const view = homeView(input({ mine: [roleEntry, opening], resources: [prodDb, readonlyRole] }));
    expect(buttons(view)).toEqual(['done_grant=grt_role']);
    expect(text(view)).toContain('as role arn:aws:iam::123456789012:role/ProdReadOnly');
    expect(text(view)).toContain('opening…');
  });

  it('shows your pending requests, extensions included, each with Cancel', () => {
    const access = buildRequest({ id: 'req_p1', requesterId: 'U_ME' });
    const extension = buildRequest({
      id: 'req_p2',
      requesterId: 'U_ME',
      kind: 'extension',
      extendsGrantId: 'grt_h1',
      durationMs: 15 * MIN,
    });
    const view = homeView(input({ minePending: [access, extension] }));
    const t = text(view);
    expect(t).toContain('*Your pending requests* (2)');
    expect(t).toContain('`req_p1`');
    expect(t).toContain('15m more on grant `grt_h1`');
    expect(t).toContain(access.approvalDeadline.toISOString());
    expect(buttons(view)).toEqual(['cancel_request=req_p1', 'cancel_request=req_p2']);
  });

  it('summarises each request waiting for your approval, with Approve and Deny', () => {
    const view = homeView(input({ awaitingMe: [approvalCard('a1', 'need it <!channel> & now')] }));
    const t = text(view);
    expect(t).toContain('*Waiting for your approval* (1)');
    expect(t).toContain('<@U_OTHER> asks for *30m* of *prod-db* from 203.0.113.7/32 (tcp 5432)');
    expect(t).toContain('need it &lt;!channel&gt; &amp; now');
    expect(t).not.toContain('<!channel>');
    expect(t).toContain('0 of 2 approvals');
    expect(buttons(view)).toEqual(['approve_request=req_a1', 'deny_request=req_a1']);
  });

  it('bounds a long reason in the approval summary', () => {
    const view = homeView(input({ awaitingMe: [approvalCard('a1', 'x'.repeat(1000))] }));
    expect(text(view)).not.toContain('x'.repeat(301));
    expect(viewProblems(view)).toEqual([]);
  });

  it('shows who has what across the workspace, without buttons', () => {
    const view = homeView(
      input({ everyone: [entry('w1', { requesterId: 'U_OTHER' })], resources: [prodDb] }),
    );
    const t = text(view);
    expect(t).toContain('*Active across the workspace* (1)');
    expect(t).toContain('<@U_OTHER> · *prod-db* from 203.0.113.7/32 (tcp 5432)');
    expect(buttons(view)).toEqual([]);
  });

  it('lists unreviewed break-glass grants, with Review only for those who may review', () => {
    const bg = entry('bg', { requesterId: 'U_OTHER', breakGlass: true });
    const t = text(homeView(input({ unreviewed: [bg] })));
    expect(t).toContain('*Break-glass grants to review* (1)');
    expect(t).toContain('<@U_OTHER> opened *prod-db*');
    expect(t).toContain('without approval');
    expect(buttons(homeView(input({ unreviewed: [bg], canReview: true })))).toEqual(['review_grant=grt_bg']);
    expect(buttons(homeView(input({ unreviewed: [bg], canReview: false })))).toEqual([]);
  });

  it('gives each item its own actions block, so the same action ids never share a block', () => {
    const bg = entry('bg', { breakGlass: true });
    const view = homeView(
      input({
        mine: [entry('m1'), entry('m2'), bg],
        minePending: [buildRequest({ id: 'req_p1', requesterId: 'U_ME' })],
        awaitingMe: [approvalCard('a1'), approvalCard('a2')],
        unreviewed: [bg],
        canReview: true,
      }),
    );
    const ids = blocksOf(view)
      .filter((b) => b.type === 'actions')
      .map((b) => b.block_id);
    expect(ids).toEqual([
      'my_grant:grt_m1',
      'my_grant:grt_m2',
      'my_grant:grt_bg',
      'my_request:req_p1',
      'to_approve:req_a1',
      'to_approve:req_a2',
      'to_review:grt_bg',
    ]);
    expect(viewProblems(view)).toEqual([]);
  });

  it('shows an item given twice only once (a repeated block_id would void the whole view)', () => {
    const view = homeView(input({ awaitingMe: [approvalCard('a1'), approvalCard('a1')] }));
    expect(buttons(view)).toEqual(['approve_request=req_a1', 'deny_request=req_a1']);
    expect(viewProblems(view)).toEqual([]);
  });

  it('stays within 100 blocks with 500 items in every list, saying how many more', () => {
    const many = (prefix: string, over: { breakGlass?: boolean } = {}): ActiveEntry[] =>
      Array.from({ length: 500 }, (_, i) => entry(`${prefix}${i}`, over));
    const view = homeView(
      input({
        mine: many('m'),
        minePending: Array.from({ length: 500 }, (_, i) =>
          buildRequest({ id: `req_p${i}`, requesterId: 'U_ME' }),
        ),
        awaitingMe: Array.from({ length: 500 }, (_, i) => approvalCard(`a${i}`, 'r'.repeat(1000))),
        everyone: many('w'),
        unreviewed: many('u', { breakGlass: true }),
        canReview: true,
        resources: [prodDb],
      }),
    );
    expect(viewProblems(view)).toEqual([]);
    expect(view.blocks.length).toBeLessThanOrEqual(100);
    const t = text(view);
    expect(t).toContain(`and ${500 - HOME_LIMITS.mine} more`);
    expect(t).toContain(`and ${500 - HOME_LIMITS.unreviewed} more`);
    expect(t.match(/\(500\)/g)).toHaveLength(5);
  });
});
