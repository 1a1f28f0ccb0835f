import {
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  CreateScheduleGroupCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  ListSchedulesCommand,
  paginateListSchedules,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { type FakeEc2, startFakeEc2 } from '../../support/fake-ec2';
import { type FakeScheduler, startFakeScheduler } from '../../support/fake-scheduler';

const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' };
const ROLE = 'arn:aws:iam::123456789012:role/HallpassScheduler';
const REVOKE = 'arn:aws:scheduler:::aws-sdk:ec2:revokeSecurityGroupIngress';
const GROUP_A = 'sg-0123456789abcdef0';
const GROUP_B = 'sg-0fedcba9876543210';

/** A valid one-time schedule calling `RevokeSecurityGroupIngress`; `overrides` replace members. */
const schedule = (
  name: string,
  overrides: Partial<CreateScheduleCommandInput> = {},
): CreateScheduleCommandInput => ({
  Name: name,
  ScheduleExpression: 'at(2026-11-25T12:30:00)',
  FlexibleTimeWindow: { Mode: 'OFF' },
  Target: {
    Arn: REVOKE,
    RoleArn: ROLE,
    Input: JSON.stringify({ GroupId: GROUP_A, SecurityGroupRuleIds: ['sgr-0123456789abcdef0'] }),
  },
  ...overrides,
});

/** The error a call fails with (the test fails if it succeeds). */
async function rejection(
  promise: Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

let fake: FakeScheduler;
let client: SchedulerClient;

beforeEach(async () => {
  fake = await startFakeScheduler();
  client = new SchedulerClient({ region: 'us-east-1', endpoint: fake.url, credentials });
});

afterEach(async () => {
  client.destroy();
  await fake.close();
});

describe('the fake Scheduler through the real SchedulerClient', () => {
  it('creates a schedule in the default group and answers its ARN', async () => {
    const created = await client.send(new CreateScheduleCommand(schedule('hp-grt_1')));

    expect(created.ScheduleArn).toBe('arn:aws:scheduler:us-east-1:123456789012:schedule/default/hp-grt_1');
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]).toMatchObject({
      action: 'CreateSchedule',
      name: 'hp-grt_1',
      body: { ScheduleExpression: 'at(2026-11-25T12:30:00)', FlexibleTimeWindow: { Mode: 'OFF' } },
    });
    // The SDK fills in the idempotency token itself.
    expect(fake.calls[0]?.body['ClientToken']).toEqual(expect.any(String));
  });

  it('answers the full definition with GetSchedule, dates as Dates', async () => {
    const before = Date.now();
    await client.send(
      new CreateScheduleCommand(
        schedule('hp-grt_1', {
          Description: 'revoke grt_1',
          ActionAfterCompletion: 'DELETE',
          ScheduleExpressionTimezone: 'UTC',
          StartDate: new Date('2026-11-25T00:00:00.000Z'),
          EndDate: new Date('2026-11-26T00:00:00.000Z'),
        }),
      ),
    );

    const got = await client.send(new GetScheduleCommand({ Name: 'hp-grt_1' }));

    expect(got).toMatchObject({
      Arn: 'arn:aws:scheduler:us-east-1:123456789012:schedule/default/hp-grt_1',
      Name: 'hp-grt_1',
      GroupName: 'default',
      ScheduleExpression: 'at(2026-11-25T12:30:00)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: REVOKE,
        RoleArn: ROLE,
        Input: '{"GroupId":"sg-0123456789abcdef0","SecurityGroupRuleIds":["sgr-0123456789abcdef0"]}',
      },
      State: 'ENABLED',
      ActionAfterCompletion: 'DELETE',
      Description: 'revoke grt_1',
      StartDate: new Date('2026-11-25T00:00:00.000Z'),
      EndDate: new Date('2026-11-26T00:00:00.000Z'),
    });
    expect(got.CreationDate?.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(got.LastModificationDate).toEqual(got.CreationDate);
    expect(fake.schedules()).toEqual([
      {
        Arn: got.Arn,
        Name: 'hp-grt_1',
        GroupName: 'default',
        ScheduleExpression: 'at(2026-11-25T12:30:00)',
        ScheduleExpressionTimezone: 'UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: got.Target,
        State: 'ENABLED',
        ActionAfterCompletion: 'DELETE',
        Description: 'revoke grt_1',
        StartDate: new Date('2026-11-25T00:00:00.000Z'),
        EndDate: new Date('2026-11-26T00:00:00.000Z'),
        CreationDate: got.CreationDate,
        LastModificationDate: got.LastModificationDate,
      },
    ]);
    expect(fake.calls[1]).toMatchObject({ action: 'GetSchedule', name: 'hp-grt_1', group: undefined });
  });

  it('replaces the whole definition on UpdateSchedule, resetting what is not given', async () => {
    await client.send(
      new CreateScheduleCommand(
        schedule('hp-grt_1', { Description: 'first', State: 'DISABLED', ActionAfterCompletion: 'DELETE' }),
      ),
    );
    const created = fake.schedules()[0];
    await new Promise((resolve) => setTimeout(resolve, 5));

    const updated = await client.send(
      new UpdateScheduleCommand({
        Name: 'hp-grt_1',
        ScheduleExpression: 'at(2026-11-25T13:00:00)',
        FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 5 },
        Target: { Arn: REVOKE, RoleArn: ROLE },
      }),
    );

    expect(updated.ScheduleArn).toBe(created?.Arn);
    const got = await client.send(new GetScheduleCommand({ Name: 'hp-grt_1', GroupName: 'default' }));
    expect(got.ScheduleExpression).toBe('at(2026-11-25T13:00:00)');
    expect(got.FlexibleTimeWindow).toEqual({ Mode: 'FLEXIBLE', MaximumWindowInMinutes: 5 });
    expect(got.Target).toEqual({ Arn: REVOKE, RoleArn: ROLE });
    expect(got.Description).toBeUndefined();
    expect(got.State).toBe('ENABLED');
    expect(got.ActionAfterCompletion).toBe('NONE');
    expect(got.CreationDate).toEqual(created?.CreationDate);
    expect(got.LastModificationDate?.getTime()).toBeGreaterThan(created?.CreationDate.getTime() ?? 0);
    expect(fake.calls[1]).toMatchObject({ action: 'UpdateSchedule', name: 'hp-grt_1' });
  });

  it('deletes a schedule, after which it is not found', async () => {
    await client.send(new CreateScheduleCommand(schedule('hp-grt_1')));

    await client.send(new DeleteScheduleCommand({ Name: 'hp-grt_1', GroupName: 'default' }));

    expect(fake.schedules()).toEqual([]);
    expect(fake.calls[1]).toMatchObject({ action: 'DeleteSchedule', name: 'hp-grt_1', group: 'default' });
    const error = await rejection(client.send(new GetScheduleCommand({ Name: 'hp-grt_1' })));
    expect(error.name).toBe('ResourceNotFoundException');
  });

  it('lists schedules by name prefix, sorted by name, a page at a time', async () => {
    for (const name of ['hp-e', 'hp-b', 'other-a', 'hp-d', 'hp-a', 'hp-c']) {
      await client.send(new CreateScheduleCommand(schedule(name)));
    }

    const first = await client.send(new ListSchedulesCommand({ NamePrefix: 'hp-', MaxResults: 2 }));
    expect(first.Schedules?.map((s) => s.Name)).toEqual(['hp-a', 'hp-b']);
    expect(first.NextToken).toEqual(expect.any(String));
    expect(first.Schedules?.[0]).toEqual({
      Arn: 'arn:aws:scheduler:us-east-1:123456789012:schedule/default/hp-a',
      Name: 'hp-a',
      GroupName: 'default',
      State: 'ENABLED',
      CreationDate: expect.any(Date),
      LastModificationDate: expect.any(Date),
      Target: { Arn: REVOKE },
    });
    expect(fake.calls.at(-1)).toMatchObject({
      action: 'ListSchedules',
      query: { NamePrefix: 'hp-', MaxResults: '2' },
    });

    const names: string[] = [];
    const pages: number[] = [];
    for await (const page of paginateListSchedules({ client, pageSize: 2 }, { NamePrefix: 'hp-' })) {
      pages.push(page.Schedules?.length ?? 0);
      names.push(...(page.Schedules ?? []).map((s) => s.Name ?? ''));
    }
    expect(names).toEqual(['hp-a', 'hp-b', 'hp-c', 'hp-d', 'hp-e']);
    expect(pages).toEqual([2, 2, 1]);

    const all = await client.send(new ListSchedulesCommand({}));
    expect(all.Schedules).toHaveLength(6);
    expect(all.NextToken).toBeUndefined();
  });

  it('lists by group and by state', async () => {
    await client.send(new CreateScheduleGroupCommand({ Name: 'hallpass' }));
    await client.send(new CreateScheduleCommand(schedule('a', { GroupName: 'hallpass' })));
    await client.send(new CreateScheduleCommand(schedule('b', { GroupName: 'hallpass', State: 'DISABLED' })));
    await client.send(new CreateScheduleCommand(schedule('c')));

    const inGroup = await client.send(new ListSchedulesCommand({ GroupName: 'hallpass' }));
    expect(inGroup.Schedules?.map((s) => s.Name)).toEqual(['a', 'b']);
    const disabled = await client.send(new ListSchedulesCommand({ State: 'DISABLED' }));
    expect(disabled.Schedules?.map((s) => `${s.GroupName}/${s.Name}`)).toEqual(['hallpass/b']);
    expect(fake.calls.at(-2)).toMatchObject({ action: 'ListSchedules', group: 'hallpass' });
  });

  it('keeps schedules of the same name apart in different groups', async () => {
    const group = await client.send(new CreateScheduleGroupCommand({ Name: 'hallpass' }));
    expect(group.ScheduleGroupArn).toBe('arn:aws:scheduler:us-east-1:123456789012:schedule-group/hallpass');

    const created = await client.send(new CreateScheduleCommand(schedule('same', { GroupName: 'hallpass' })));
    await client.send(new CreateScheduleCommand(schedule('same')));

    expect(created.ScheduleArn).toBe('arn:aws:scheduler:us-east-1:123456789012:schedule/hallpass/same');
    expect(fake.schedules('hallpass').map((s) => s.Arn)).toEqual([created.ScheduleArn]);
    expect(fake.calls[1]).toMatchObject({ action: 'CreateSchedule', name: 'same', group: 'hallpass' });
    await client.send(new DeleteScheduleCommand({ Name: 'same', GroupName: 'hallpass' }));
    expect(fake.schedules().map((s) => s.GroupName)).toEqual(['default']);
  });

  it('works through AWS_ENDPOINT_URL_SCHEDULER too', async () => {
    const saved = process.env['AWS_ENDPOINT_URL_SCHEDULER'];
    process.env['AWS_ENDPOINT_URL_SCHEDULER'] = fake.url;
    const fromEnv = new SchedulerClient({ region: 'us-east-1', credentials });
    try {
      await fromEnv.send(new CreateScheduleCommand(schedule('hp-env')));
      expect(fake.schedules().map((s) => s.Name)).toEqual(['hp-env']);
    } finally {
      fromEnv.destroy();
      if (saved === undefined) delete process.env['AWS_ENDPOINT_URL_SCHEDULER'];
      else process.env['AWS_ENDPOINT_URL_SCHEDULER'] = saved;
    }
  });
});

describe('errors as the SDK surfaces them', () => {
  it('ConflictException (409) for a name already taken in the group', async () => {
    await client.send(new CreateScheduleCommand(schedule('hp-grt_1')));

    const error = await rejection(client.send(new CreateScheduleCommand(schedule('hp-grt_1'))));

    expect(error.name).toBe('ConflictException');
    expect(error.$metadata?.httpStatusCode).toBe(409);
    expect(fake.schedules()).toHaveLength(1);
  });

  it('ConflictException for a schedule group that exists', async () => {
    const error = await rejection(client.send(new CreateScheduleGroupCommand({ Name: 'default' })));
    expect(error.name).toBe('ConflictException');
  });

  it('ResourceNotFoundException (404) for a group that does not exist', async () => {
    const error = await rejection(
      client.send(new CreateScheduleCommand(schedule('hp-grt_1', { GroupName: 'hallpass' }))),
    );

    expect(error.name).toBe('ResourceNotFoundException');
    expect(error.$metadata?.httpStatusCode).toBe(404);
    expect(fake.schedules()).toEqual([]);
  });

  it.each<[string, () => Promise<unknown>]>([
    ['GetSchedule', () => client.send(new GetScheduleCommand({ Name: 'missing' }))],
    ['DeleteSchedule', () => client.send(new DeleteScheduleCommand({ Name: 'missing' }))],
    ['UpdateSchedule', () => client.send(new UpdateScheduleCommand(schedule('missing')))],
    [
      'GetSchedule in a group that does not exist',
      () => client.send(new GetScheduleCommand({ Name: 'missing', GroupName: 'nope' })),
    ],
  ])('ResourceNotFoundException from %s of a missing schedule', async (_label, call) => {
    const error = await rejection(call());
    expect(error.name).toBe('ResourceNotFoundException');
    expect(error.$metadata?.httpStatusCode).toBe(404);
  });

  const base = schedule('hp-grt_1');
  const target = base.Target as NonNullable<CreateScheduleCommandInput['Target']>;
  const without = (key: keyof CreateScheduleCommandInput) =>
    Object.fromEntries(Object.entries(base).filter(([k]) => k !== key)) as CreateScheduleCommandInput;
  it.each<[string, CreateScheduleCommandInput]>([
    ['a name of 65 characters', { ...base, Name: 'a'.repeat(65) }],
    ['a name with a space', { ...base, Name: 'hp grt' }],
    ['a name with a slash', { ...base, Name: 'hp/grt' }],
    ['a group name with a colon', { ...base, GroupName: 'hall:pass' }],
    ['no ScheduleExpression', without('ScheduleExpression')],
    ['no FlexibleTimeWindow', without('FlexibleTimeWindow')],
    ['no Target', without('Target')],
    ['no Target.Arn', { ...base, Target: { RoleArn: ROLE } as typeof target }],
    ['no Target.RoleArn', { ...base, Target: { Arn: REVOKE } as typeof target }],
    [
      'a FlexibleTimeWindow mode that does not exist',
      { ...base, FlexibleTimeWindow: { Mode: 'SOMETIMES' as 'OFF' } },
    ],
    ['a FLEXIBLE window without its width', { ...base, FlexibleTimeWindow: { Mode: 'FLEXIBLE' } }],
    ['an ISO date for an expression', { ...base, ScheduleExpression: '2026-11-25T12:30:00Z' }],
    ['at() with a zone suffix', { ...base, ScheduleExpression: 'at(2026-11-25T12:30:00Z)' }],
    ['at() without seconds', { ...base, ScheduleExpression: 'at(2026-11-25T12:30)' }],
    ['at() of a day that does not exist', { ...base, ScheduleExpression: 'at(2026-02-30T12:30:00)' }],
    ['rate() without a unit', { ...base, ScheduleExpression: 'rate(5)' }],
    ['cron() with five fields', { ...base, ScheduleExpression: 'cron(0 12 * * ?)' }],
    ['an unknown time zone', { ...base, ScheduleExpressionTimezone: 'Mars/Olympus_Mons' }],
    ['an Input of 8193 characters', { ...base, Target: { ...target, Input: 'x'.repeat(8193) } }],
    [
      'a user ARN for RoleArn',
      { ...base, Target: { ...target, RoleArn: 'arn:aws:iam::123456789012:user/bob' } },
    ],
    ['a role name for RoleArn', { ...base, Target: { ...target, RoleArn: 'HallpassScheduler' } }],
    ['a State that does not exist', { ...base, State: 'PAUSED' as 'ENABLED' }],
    ['an ActionAfterCompletion that does not exist', { ...base, ActionAfterCompletion: 'KEEP' as 'NONE' }],
  ])('ValidationException (400) for %s', async (_label, input) => {
    const error = await rejection(client.send(new CreateScheduleCommand(input)));

    expect(error.name).toBe('ValidationException');
    expect(error.$metadata?.httpStatusCode).toBe(400);
    expect(fake.schedules()).toEqual([]);
  });

  it.each([
    'at(2026-11-25T12:30:00)',
    'rate(1 minute)',
    'rate(12 hours)',
    'cron(30 12 25 11 ? 2026)',
    'cron(0/5 * ? * MON-FRI *)',
  ])('accepts the expression %s', async (expression) => {
    await client.send(new CreateScheduleCommand({ ...base, ScheduleExpression: expression }));
    expect(fake.schedules()[0]?.ScheduleExpression).toBe(expression);
  });

  it('accepts an Input of exactly 8192 characters', async () => {
    await client.send(new CreateScheduleCommand({ ...base, Target: { ...target, Input: 'x'.repeat(8192) } }));
    expect(fake.schedules()[0]?.Target.Input).toHaveLength(8192);
  });

  it('ValidationException for a ListSchedules page size over 100', async () => {
    const error = await rejection(client.send(new ListSchedulesCommand({ MaxResults: 101 })));
    expect(error.name).toBe('ValidationException');
  });

  it('injects faults by action name, recording the call', async () => {
    fake.failNext('CreateSchedule', 'ThrottlingException', 429);
    const noRetries = new SchedulerClient({
      region: 'us-east-1',
      endpoint: fake.url,
      credentials,
      maxAttempts: 1,
    });
    try {
      const error = await rejection(noRetries.send(new CreateScheduleCommand(schedule('hp-grt_1'))));
      expect(error.name).toBe('ThrottlingException');
      expect(error.$metadata?.httpStatusCode).toBe(429);
      expect(fake.calls).toEqual([expect.objectContaining({ action: 'CreateSchedule', name: 'hp-grt_1' })]);
      expect(fake.schedules()).toEqual([]);

      await noRetries.send(new CreateScheduleCommand(schedule('hp-grt_1')));
      expect(fake.schedules()).toHaveLength(1);
    } finally {
      noRetries.destroy();
    }
  });

  it('answers a retried create carrying the same ClientToken as the first time, not a conflict', async () => {
    // The first response is lost after the schedule was made; the SDK retries with the same token.
    fake.failNext('CreateSchedule', 'InternalServerException', 500, 1, { afterApply: true });

    const created = await client.send(new CreateScheduleCommand(schedule('hp-grt_1')));

    expect(created.ScheduleArn).toBe('arn:aws:scheduler:us-east-1:123456789012:schedule/default/hp-grt_1');
    expect(fake.calls).toHaveLength(2);
    expect(fake.calls[1]?.body['ClientToken']).toBe(fake.calls[0]?.body['ClientToken']);
    expect(fake.schedules()).toHaveLength(1);
  });
});

describe('runDue: one-time schedules calling EC2 through a universal target', () => {
  let ec2: FakeEc2;
  let scheduler: FakeScheduler;
  let schedulerClient: SchedulerClient;

  beforeEach(async () => {
    ec2 = await startFakeEc2({ groups: [GROUP_A, GROUP_B] });
    scheduler = await startFakeScheduler({ ec2Url: ec2.url });
    schedulerClient = new SchedulerClient({ region: 'us-east-1', endpoint: scheduler.url, credentials });
  });

  afterEach(async () => {
    schedulerClient.destroy();
    await scheduler.close();
    await ec2.close();
  });

  /** Two rules that look the same (same port, protocol and source), one in each group. */
  const seedTwins = () => {
    const seed = { protocol: 'tcp', fromPort: 5432, cidr: '203.0.113.7/32' };
    return {
      mine: ec2.addRule({ ...seed, groupId: GROUP_A }),
      other: ec2.addRule({ ...seed, groupId: GROUP_B }),
    };
  };
  const revokeInput = (groupId: string, ruleId: string) =>
    JSON.stringify({ GroupId: groupId, SecurityGroupRuleIds: [ruleId] });
  const create = (name: string, ruleInput: string, overrides: Partial<CreateScheduleCommandInput> = {}) =>
    schedulerClient.send(
      new CreateScheduleCommand(
        schedule(name, { Target: { Arn: REVOKE, RoleArn: ROLE, Input: ruleInput }, ...overrides }),
      ),
    );

  it('tells when an at() schedule fires', async () => {
    await create('hp-1', '{}');
    await create('hp-zoned', '{}', { ScheduleExpressionTimezone: 'Europe/Paris' });
    await create('hp-rate', '{}', { ScheduleExpression: 'rate(5 minutes)' });

    expect(scheduler.at('hp-1')).toEqual(new Date('2026-11-25T12:30:00.000Z'));
    expect(() => scheduler.at('hp-zoned')).toThrow(/UTC/);
    expect(() => scheduler.at('hp-rate')).toThrow(/one-time/);
    expect(() => scheduler.at('hp-1', 'hallpass')).toThrow(/no schedule/);
  });

  it('revokes exactly the rule named in the Input, leaving its look-alike', async () => {
    const { mine, other } = seedTwins();
    await create('hp-grt_1', revokeInput(GROUP_A, mine.id));

    const fired = await scheduler.runDue(new Date('2026-11-25T12:30:00.000Z'));

    expect(fired).toEqual([
      {
        name: 'hp-grt_1',
        group: 'default',
        target: REVOKE,
        input: { GroupId: GROUP_A, SecurityGroupRuleIds: [mine.id] },
        ok: true,
        roleArn: ROLE,
      },
    ]);
    expect(scheduler.invocations).toEqual(fired);
    expect(ec2.rules(GROUP_A)).toEqual([]);
    expect(ec2.rules(GROUP_B)).toEqual([other]);
    expect(ec2.calls.map((c) => c.params)).toEqual([
      expect.objectContaining({
        Action: 'RevokeSecurityGroupIngress',
        GroupId: GROUP_A,
        'SecurityGroupRuleId.1': mine.id,
      }),
    ]);
    // ActionAfterCompletion NONE: kept, and never fired twice.
    expect(scheduler.schedules().map((s) => s.Name)).toEqual(['hp-grt_1']);
    expect(await scheduler.runDue(new Date('2026-11-26T00:00:00.000Z'))).toEqual([]);
    expect(ec2.calls).toHaveLength(1);
  });

  it('deletes a schedule with ActionAfterCompletion DELETE once it has run', async () => {
    const { mine } = seedTwins();
    await create('hp-grt_1', revokeInput(GROUP_A, mine.id), { ActionAfterCompletion: 'DELETE' });

    await scheduler.runDue(new Date('2026-11-25T12:31:00.000Z'));

    expect(scheduler.schedules()).toEqual([]);
    const error = await rejection(schedulerClient.send(new GetScheduleCommand({ Name: 'hp-grt_1' })));
    expect(error.name).toBe('ResourceNotFoundException');
  });

  it('does not run a schedule before it is due, nor a disabled one', async () => {
    const { mine, other } = seedTwins();
    await create('hp-grt_1', revokeInput(GROUP_A, mine.id));
    await create('hp-off', revokeInput(GROUP_B, other.id), {
      State: 'DISABLED',
      ScheduleExpression: 'at(2026-11-25T12:00:00)',
    });

    expect(await scheduler.runDue(new Date('2026-11-25T12:29:59.999Z'))).toEqual([]);

    expect(ec2.calls).toEqual([]);
    expect(ec2.rules()).toHaveLength(2);
    expect(scheduler.schedules()).toHaveLength(2);
    expect((await scheduler.runDue(new Date('2026-11-25T12:30:00.000Z'))).map((i) => i.name)).toEqual([
      'hp-grt_1',
    ]);
  });

  it('fires due schedules in time order, not creation order', async () => {
    const a = ec2.addRule({ groupId: GROUP_A, fromPort: 22, cidr: '203.0.113.1/32' });
    const b = ec2.addRule({ groupId: GROUP_A, fromPort: 22, cidr: '203.0.113.2/32' });
    await create('hp-late', revokeInput(GROUP_A, a.id), { ScheduleExpression: 'at(2026-11-25T12:40:00)' });
    await create('hp-early', revokeInput(GROUP_A, b.id), { ScheduleExpression: 'at(2026-11-25T12:20:00)' });

    const fired = await scheduler.runDue(new Date('2026-11-25T13:00:00.000Z'));

    expect(fired.map((i) => [i.name, i.ok])).toEqual([
      ['hp-early', true],
      ['hp-late', true],
    ]);
    expect(ec2.rules()).toEqual([]);
  });

  it('records a target that fails at EC2 (the rule is already gone) as not ok, and does not retry it', async () => {
    await create('hp-gone', revokeInput(GROUP_A, 'sgr-0123456789abcdef0'), {
      ActionAfterCompletion: 'DELETE',
    });
    await create('hp-gone-kept', revokeInput(GROUP_A, 'sgr-0fedcba987654321f'));

    const fired = await scheduler.runDue(new Date('2026-11-25T12:30:00.000Z'));

    expect(fired).toEqual([
      expect.objectContaining({ name: 'hp-gone', ok: false, error: 'InvalidSecurityGroupRuleId.NotFound' }),
      expect.objectContaining({
        name: 'hp-gone-kept',
        ok: false,
        error: 'InvalidSecurityGroupRuleId.NotFound',
      }),
    ]);
    expect(scheduler.schedules().map((s) => s.Name)).toEqual(['hp-gone-kept']);
    expect(await scheduler.runDue(new Date('2026-11-25T12:35:00.000Z'))).toEqual([]);
  });

  it('throws, firing nothing, for a service it cannot call', async () => {
    const { mine } = seedTwins();
    await create('hp-ec2', revokeInput(GROUP_A, mine.id));
    await schedulerClient.send(
      new CreateScheduleCommand(
        schedule('hp-sqs', {
          Target: { Arn: 'arn:aws:scheduler:::aws-sdk:sqs:sendMessage', RoleArn: ROLE, Input: '{}' },
        }),
      ),
    );

    await expect(scheduler.runDue(new Date('2026-11-25T12:30:00.000Z'))).rejects.toThrow(
      /service sqs is not supported/,
    );
    expect(ec2.calls).toEqual([]);
    expect(scheduler.invocations).toEqual([]);
  });
});
