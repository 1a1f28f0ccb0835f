import { TIMED_OUT_NOTE } from '../../../../src/app/due-work';
import {
  approve,
  auditTypes,
  createTestApp,
  MINUTE,
  member,
  REQUESTER,
  submit,
  type TestApp,
} from '../../../support/app-deps';

describe('approveRequest: the vote tally', () => {
  let app: TestApp;
  beforeEach(() => {
    app = createTestApp();
  });

  it('opens nothing at the first of two required approvals, and opens at the second', async () => {
    const request = await submit(app, 'prod-web');

    const first = await approve(app, request.id, 'U_APP1');
    expect(first).toMatchObject({ ok: true, value: { grantId: undefined, withdrawn: [] } });
    expect(first.ok && first.value.approvals.map((a) => a.approverId)).toEqual(['U_APP1']);
    expect((await app.stores.requests.get(request.id))?.state).toBe('pending');
    expect(await app.stores.grants.byRequest(request.id)).toBeUndefined();
    expect(app.network.calls).toEqual([]);

    const second = await approve(app, request.id, 'U_APP2');
    expect(second.ok && second.value.approvals.map((a) => a.approverId)).toEqual(['U_APP1', 'U_APP2']);
    const grantId = second.ok ? second.value.grantId : undefined;
    expect(await app.stores.requests.get(request.id)).toMatchObject({
      state: 'approved',
      decidedBy: 'U_APP2',
    });
    expect((await app.stores.grants.get(grantId ?? '?'))?.state).toBe('active');
    expect(app.network.rules.size).toBe(2);
    expect(await auditTypes(app, request.id)).toEqual([
      'request.submitted',
      'request.approval_recorded',
      'request.approval_recorded',
      'request.approved',
      'grant.opened',
    ]);
  });

  it('refuses a second vote by the same approver, and counts it once', async () => {
    const request = await submit(app, 'prod-web');
    await approve(app, request.id, 'U_APP1');

    expect(await approve(app, request.id, 'U_APP1')).toEqual({ ok: false, error: 'ALREADY_APPROVED' });
    expect((await app.stores.requests.approvals(request.id)).map((a) => a.approverId)).toEqual(['U_APP1']);
    expect((await app.stores.requests.get(request.id))?.state).toBe('pending');
    expect((await auditTypes(app, request.id)).filter((t) => t === 'request.approval_recorded')).toHaveLength(
      1,
    );
  });

  it('refuses the requester approving their own request, though they are an approver', async () => {
    app.directory.set(member(REQUESTER, 'sre'));
    const request = await submit(app, 'prod-db');

    expect(await approve(app, request.id, REQUESTER)).toEqual({ ok: false, error: 'SELF_APPROVAL' });
    expect(await app.stores.requests.approvals(request.id)).toEqual([]);
    expect((await app.stores.requests.get(request.id))?.state).toBe('pending');
  });

  it('refuses someone who is not an approver of the resource', async () => {
    const request = await submit(app, 'prod-db');
    expect(await approve(app, request.id, 'U_STRANGER')).toMatchObject({ ok: false, error: 'NOT_APPROVER' });
    expect(await app.stores.requests.approvals(request.id)).toEqual([]);
  });

  it('withdraws, at the quorum, an earlier vote whose approver left the approvers, and waits for another', async () => {
    const request = await submit(app, 'prod-web');
    await approve(app, request.id, 'U_APP1');
    app.directory.set(member('U_APP1'));

    const atQuorum = await approve(app, request.id, 'U_APP2');
    expect(atQuorum).toMatchObject({
      ok: true,
      value: { grantId: undefined, withdrawn: [{ approverId: 'U_APP1', why: 'NOT_APPROVER' }] },
    });
    expect((await app.stores.requests.approvals(request.id)).map((a) => a.approverId)).toEqual(['U_APP2']);
    expect((await app.stores.requests.get(request.id))?.state).toBe('pending');
    expect(await app.stores.grants.byRequest(request.id)).toBeUndefined();
    expect((await app.stores.audit.lastOfType('request.approval_withdrawn'))?.details).toEqual({
      approverId: 'U_APP1',
      why: 'NOT_APPROVER',
    });

    const third = await approve(app, request.id, 'U_APP3');
    expect(third.ok && third.value.grantId).toEqual(expect.stringMatching(/^grt_/));
    expect(await app.stores.requests.get(request.id)).toMatchObject({
      state: 'approved',
      decidedBy: 'U_APP3',
    });
  });
});

describe('approveRequest: a request already decided', () => {
  it.each([
    ['approving a request already approved (a double click)', 'approved'],
    ['approving a denied request', 'denied'],
    ['approving a cancelled request', 'cancelled'],
  ] as const)('security: refuses %s, changing nothing', async (_name, state) => {
    const app = createTestApp();
    const request = await submit(app, 'prod-db');
    await app.stores.requests.decide(request.id, state, 'U_APP2', app.clock.now());

    expect(await approve(app, request.id, 'U_APP1')).toEqual({
      ok: false,
      error: 'NOT_PENDING',
      detail: { requestId: request.id, state },
    });
    expect(await app.stores.requests.get(request.id)).toMatchObject({ state, decidedBy: 'U_APP2' });
    expect(await app.stores.requests.approvals(request.id)).toEqual([]);
    expect(await app.stores.grants.byRequest(request.id)).toBeUndefined();
    expect(app.network.calls).toEqual([]);
  });
  it('security: refuses denying a request once it is approved, and its grant stays open', async () => {
    const app = createTestApp();
    const request = await submit(app, 'prod-db');
    await approve(app, request.id, 'U_APP1');

    const denied = await app.useCases.denyRequest({ requestId: request.id, actor: member('U_APP2', 'sre') });
    expect(denied).toMatchObject({ ok: false, error: 'NOT_PENDING', detail: { state: 'approved' } });
    expect((await app.stores.requests.get(request.id))?.state).toBe('approved');
    expect((await app.stores.grants.byRequest(request.id))?.state).toBe('active');
  });
});

describe('approveRequest: a lapsed deadline', () => {
  it('answers a click at the deadline with NOT_PENDING (timed_out), and times the request out there and then', async () => {
    const app = createTestApp();
    const request = await submit(app, 'prod-db');
    app.clock.advance(30 * MINUTE);

    expect(await approve(app, request.id, 'U_APP1')).toEqual({
      ok: false,
      error: 'NOT_PENDING',
      detail: { requestId: request.id, state: 'timed_out' },
    });
    expect(await app.stores.requests.get(request.id)).toMatchObject({
      state: 'timed_out',
      decidedBy: 'hallpass',
      note: TIMED_OUT_NOTE,
    });
    expect(await app.stores.requests.approvals(request.id)).toEqual([]);
    expect(await app.stores.grants.byRequest(request.id)).toBeUndefined();
    expect(await auditTypes(app, request.id)).toEqual(['request.submitted', 'request.timed_out']);
    // Nothing is left for the scheduler: the request is no longer due, and a run times out nothing.
    expect(await app.stores.requests.timeouts.next()).toBeUndefined();
    expect(await app.useCases.dueWork.run(app.clock.now())).toMatchObject({ timedOut: 0 });
  });

  it('still counts a click a millisecond before the deadline', async () => {
    const app = createTestApp();
    const request = await submit(app, 'prod-db');
    app.clock.advance(30 * MINUTE - 1);

    const approved = await approve(app, request.id, 'U_APP1');
    expect(approved.ok && approved.value.grantId).toEqual(expect.stringMatching(/^grt_/));
    expect((await app.stores.requests.get(request.id))?.state).toBe('approved');
  });
});
