import { CreateScheduleCommand, DeleteScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { ACTION } from '../../src/adapters/slack/ids';
import {
  APPROVER,
  APPROVER_2,
  GROUP_ID,
  type Harness,
  OWN_ACCOUNT,
  REQUESTER,
  startHarness,
} from '../support/harness';
import { allText, approvalPosts, dmsTo, lastRequestId } from '../support/slack-queries';

const MINUTE = 60_000;
const ADDRESS = '203.0.113.7';
const BACKSTOP_ROLE = `arn:aws:iam::${OWN_ACCOUNT}:role/hallpass-backstop`;
const BACKSTOP_ENV = { HALLPASS_BACKSTOP_ROLE_ARN: BACKSTOP_ROLE };
const GRACE = 2 * MINUTE;

async function askAndApprove(h: Harness, requester: string, text: string, approver: string): Promise<string> {
  const before = approvalPosts(h.slack).length;
  await h.command(requester, text);
  await h.slack.waitFor(() => approvalPosts(h.slack).length > before);
  const requestId = lastRequestId(h);
  await h.click(approver, ACTION.approveRequest, requestId);
  return requestId;
}

const grantOf = async (h: Harness, requestId: string) => (await h.hallpass.useCases.cardOf(requestId))?.grant;

/** The backstops in AWS, as `rule id → when it fires`. */
const backstops = (h: Harness): Record<string, string> =>
  Object.fromEntries(
    h.scheduler
      .schedules()
      .map((s) => [s.Name.replace(/^hallpass-/, ''), h.scheduler.at(s.Name).toISOString()]),
  );

/** What a person with the console would do: the same SDK, straight at Scheduler. */
function console_(h: Harness): SchedulerClient {
  return new SchedulerClient({
    region: 'us-east-1',
    endpoint: h.scheduler.url,
    credentials: { accessKeyId: 'AKIDCONSOLE', secretAccessKey: 'x' },
  });
}

describe('the backstop in AWS: EventBridge Scheduler revokes a rule if hallpass has not', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ env: BACKSTOP_ENV });
  });
  afterEach(async () => {
    await h.close();
  });

  it('schedules, for each rule a grant opens, a revoke of exactly that rule by id at its end plus the grace', async () => {
    const requestId = await askAndApprove(h, REQUESTER, `prod-web 30m from ${ADDRESS} two ports`, APPROVER);
    await h.click(APPROVER_2, ACTION.approveRequest, requestId);
    const grant = await grantOf(h, requestId);
    expect(grant?.state).toBe('active');
    const rules = h.ec2.rules(GROUP_ID);
    expect(rules).toHaveLength(2);
    const fireAt = new Date((grant?.expiresAt.getTime() ?? 0) + GRACE);
    expect(
      h.scheduler
        .schedules()
        .map((s) => s.Name)
        .sort(),
    ).toEqual(rules.map((r) => `hallpass-${r.id}`).sort());
    for (const rule of rules) {
      const schedule = h.scheduler.schedules().find((s) => s.Name === `hallpass-${rule.id}`);
      expect(schedule).toMatchObject({
        GroupName: 'default',
        ScheduleExpression: `at(${fireAt.toISOString().slice(0, 19)})`,
        ScheduleExpressionTimezone: 'UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        ActionAfterCompletion: 'DELETE',
        State: 'ENABLED',
        Target: {
          Arn: 'arn:aws:scheduler:::aws-sdk:ec2:revokeSecurityGroupIngress',
          RoleArn: BACKSTOP_ROLE,
        },
      });
      expect(JSON.parse(schedule?.Target.Input ?? '{}')).toEqual({
        GroupId: GROUP_ID,
        SecurityGroupRuleIds: [rule.id],
      });
    }
  });

  it('closes the rule when every hallpass process and the database vanish right after it opened', async () => {
    const requestId = await askAndApprove(
      h,
      REQUESTER,
      `prod-db 30m from ${ADDRESS} then disaster`,
      APPROVER,
    );
    const expiresAt = (await grantOf(h, requestId))?.expiresAt.getTime() ?? 0;
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    // Gone: the process, and the database with every record of the grant.
    await h.stopBot();
    await h.db.lose();

    // Not before its end plus the grace…
    expect(await h.scheduler.runDue(new Date(expiresAt + GRACE - 1_000))).toEqual([]);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    // …and at that moment AWS itself revokes exactly that rule, then deletes the schedule.
    const ran = await h.scheduler.runDue(new Date(expiresAt + GRACE));
    expect(ran).toMatchObject([{ ok: true, roleArn: BACKSTOP_ROLE }]);
    expect(h.ec2.rules(GROUP_ID)).toEqual([]);
    expect(h.scheduler.schedules()).toEqual([]);
  });

  it('never targets a rule hallpass did not create: an identical hand-made rule adopted unmanaged has no backstop', async () => {
    const handMade = h.ec2.addRule({
      groupId: GROUP_ID,
      protocol: 'tcp',
      fromPort: 5432,
      cidr: `${ADDRESS}/32`,
    });
    const requestId = await askAndApprove(h, REQUESTER, `prod-db 30m from ${ADDRESS} adopted`, APPROVER);
    const expiresAt = (await grantOf(h, requestId))?.expiresAt.getTime() ?? 0;
    expect((await grantOf(h, requestId))?.state).toBe('active');
    expect(h.scheduler.schedules()).toEqual([]);
    await h.stopBot();
    await h.scheduler.runDue(new Date(expiresAt + GRACE + MINUTE));
    expect(h.ec2.rules(GROUP_ID)).toEqual([handMade]);
  });

  it('leaves no schedule after a normal close, at expiry or by revoke', async () => {
    const expiring = await askAndApprove(h, REQUESTER, `prod-db 30m from ${ADDRESS} expiring`, APPROVER);
    const revoked = await askAndApprove(h, REQUESTER, `prod-db 45m from 198.51.100.9 revoked`, APPROVER);
    expect(h.scheduler.schedules()).toHaveLength(2);
    await h.command(REQUESTER, `revoke ${(await grantOf(h, revoked))?.id}`);
    expect((await grantOf(h, revoked))?.state).toBe('closed');
    expect(h.scheduler.schedules()).toHaveLength(1);
    await h.advance(30 * MINUTE);
    expect((await grantOf(h, expiring))?.state).toBe('closed');
    expect(h.scheduler.schedules()).toEqual([]);
    expect(h.scheduler.calls.filter((c) => c.action === 'DeleteSchedule')).toHaveLength(2);
  });

  it('moves the backstop with an extension, so the old end plus the grace cuts nothing', async () => {
    const requestId = await askAndApprove(h, REQUESTER, `prod-db 30m from ${ADDRESS} long job`, APPROVER);
    const grant = await grantOf(h, requestId);
    const ruleId = h.ec2.rules(GROUP_ID)[0]?.id ?? '';
    await h.advance(10 * MINUTE);
    await askAndApprove(h, REQUESTER, `extend ${grant?.id} 20m`, APPROVER);
    const newEnd = new Date((grant?.expiresAt.getTime() ?? 0) + 20 * MINUTE);
    expect((await grantOf(h, requestId))?.expiresAt).toEqual(newEnd);
    expect(backstops(h)).toEqual({ [ruleId]: new Date(newEnd.getTime() + GRACE).toISOString() });
    // Everything gone right after: at the old end plus the grace nothing runs; at the new one, the rule goes.
    await h.stopBot();
    expect(await h.scheduler.runDue(new Date((grant?.expiresAt.getTime() ?? 0) + GRACE))).toEqual([]);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    await h.scheduler.runDue(new Date(newEnd.getTime() + GRACE));
    expect(h.ec2.rules(GROUP_ID)).toEqual([]);
  });

  it('keeps a shared rule’s backstop at the end of whichever live holder ends last', async () => {
    const long = await askAndApprove(h, REQUESTER, `prod-db 1h from ${ADDRESS} long`, APPROVER);
    const ruleId = h.ec2.rules(GROUP_ID)[0]?.id ?? '';
    const longEnd = (await grantOf(h, long))?.expiresAt.getTime() ?? 0;
    await h.advance(5 * MINUTE);
    const short = await askAndApprove(h, APPROVER, `prod-db 10m from ${ADDRESS} short`, APPROVER_2);
    const shortEnd = (await grantOf(h, short))?.expiresAt.getTime() ?? 0;
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    // A shorter holder never pulls it earlier.
    expect(backstops(h)).toEqual({ [ruleId]: new Date(longEnd + GRACE).toISOString() });
    // The longer one revoked early: the rule stays for the shorter one, and so does its backstop, moved
    // to the shorter one's end.
    await h.command(REQUESTER, `revoke ${(await grantOf(h, long))?.id}`);
    expect(h.ec2.rules(GROUP_ID)).toHaveLength(1);
    expect(backstops(h)).toEqual({ [ruleId]: new Date(shortEnd + GRACE).toISOString() });
    await h.advance(10 * MINUTE);
    expect(h.ec2.rules(GROUP_ID)).toEqual([]);
    expect(backstops(h)).toEqual({});
  });

  it('opens nothing when the backstop cannot be set, and says why', async () => {
    h.scheduler.failNext('CreateSchedule', 'AccessDeniedException', 403);
    const requestId = await askAndApprove(h, REQUESTER, `prod-db 30m from ${ADDRESS} no backstop`, APPROVER);
    expect((await grantOf(h, requestId))?.state).toBe('failed');
    expect(h.ec2.rules(GROUP_ID)).toEqual([]);
    expect(h.scheduler.schedules()).toEqual([]);
    await h.slack.waitFor(() =>
      dmsTo(h.slack, REQUESTER).some((c) =>
        /backstop .*could not be set.*AccessDeniedException/.test(allText(c)),
      ),
    );
  });

  it('reconciliation removes schedules of its own rules no live grant wants, leaves every other alone, and puts back missing ones', async () => {
    // A grant whose close went through, but whose schedule a crash left behind (put back below).
    const closedId = await askAndApprove(h, REQUESTER, `prod-db 30m from 198.51.100.80 done`, APPROVER);
    const closedRule = h.ec2.rules(GROUP_ID)[0]?.id ?? '';
    await h.command(REQUESTER, `revoke ${(await grantOf(h, closedId))?.id}`);
    expect((await grantOf(h, closedId))?.state).toBe('closed');
    const requestId = await askAndApprove(h, REQUESTER, `prod-db 30m from ${ADDRESS} watched`, APPROVER);
    const ruleId = h.ec2.rules(GROUP_ID)[0]?.id ?? '';
    const fireAt = new Date(((await grantOf(h, requestId))?.expiresAt.getTime() ?? 0) + GRACE).toISOString();
    const schedule = (rule: string) =>
      new CreateScheduleCommand({
        Name: `hallpass-${rule}`,
        ScheduleExpression: 'at(2026-11-25T13:00:00)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: {
          Arn: 'arn:aws:scheduler:::aws-sdk:ec2:revokeSecurityGroupIngress',
          RoleArn: BACKSTOP_ROLE,
          Input: JSON.stringify({ GroupId: GROUP_ID, SecurityGroupRuleIds: [rule] }),
        },
      });
    const client = console_(h);
    try {
      // Someone deletes the grant's schedule; the closed grant's schedule is left over from a crash; and
      // another deployment sharing the schedule group holds a schedule for a rule of its own.
      await client.send(new DeleteScheduleCommand({ Name: `hallpass-${ruleId}`, GroupName: 'default' }));
      await client.send(schedule(closedRule));
      await client.send(schedule('sgr-0000000000000dead'));
    } finally {
      client.destroy();
    }
    const result = await h.hallpass.useCases.reconcile();
    expect(result).toMatchObject({
      backstopOrphansRemoved: 1,
      backstopsOfOthersLeft: 1,
      backstopsRestored: 1,
      failed: 0,
    });
    expect(backstops(h)).toEqual({ [ruleId]: fireAt, 'sgr-0000000000000dead': '2026-11-25T13:00:00.000Z' });
    // Every later pass leaves it too.
    await h.hallpass.useCases.reconcile();
    expect(Object.keys(backstops(h))).toContain('sgr-0000000000000dead');
    expect(
      h.scheduler.calls.filter(
        (c) => c.action === 'DeleteSchedule' && c.name === 'hallpass-sgr-0000000000000dead',
      ),
    ).toEqual([]);
  });

  it('says in /healthz that the backstop is on', async () => {
    const res = await fetch(`${h.url.replace('/slack/events', '')}/healthz`);
    expect(await res.json()).toMatchObject({ ok: true, backstop: 'on' });
  });
});

describe('without the backstop settings', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('runs as before, schedules nothing, and says plainly at start-up and in /healthz that no backstop is configured', async () => {
    const requestId = await askAndApprove(h, REQUESTER, `prod-db 30m from ${ADDRESS} as before`, APPROVER);
    expect((await grantOf(h, requestId))?.state).toBe('active');
    expect(h.scheduler.calls).toEqual([]);
    expect(h.logger.lines.some((e) => e.level === 'warn' && /no backstop is configured/.test(e.msg))).toBe(
      true,
    );
    const res = await fetch(`${h.url.replace('/slack/events', '')}/healthz`);
    expect(await res.json()).toMatchObject({ ok: true, backstop: 'off' });
  });
});
