import {
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  ListSchedulesCommand,
  type ListSchedulesCommandOutput,
  type SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import type { Backstop, Backstops, ListedBackstop, RuleTarget } from '../../app/ports';
import { hasAwsErrorCode, toInfraError } from './aws-errors';

/** Every backstop's name starts with this, then the rule id: `hallpass-sgr-0123456789abcdef0`. */
export const BACKSTOP_NAME_PREFIX = 'hallpass-';

/** The universal target that revokes security-group ingress rules by id (EC2's own API, called by Scheduler). */
export const REVOKE_TARGET_ARN = 'arn:aws:scheduler:::aws-sdk:ec2:revokeSecurityGroupIngress';

/** Dependencies of {@link createSchedulerBackstops}. */
export type SchedulerBackstopsDeps = {
  /** The Scheduler client for a rule's region and account. */
  readonly clientFor: (target: RuleTarget) => SchedulerClient;
  /** The schedule group (`HALLPASS_BACKSTOP_GROUP`). */
  readonly group: string;
};

/** The schedule's name for a rule: at most 64 of `[0-9a-zA-Z-_.]`, as Scheduler requires. */
export const backstopName = (ruleId: string): string => `${BACKSTOP_NAME_PREFIX}${ruleId}`;

/** `at(2026-11-25T12:32:00)` in UTC, rounded up to the whole second (Scheduler takes no fraction). */
export function atExpression(fireAt: Date): string {
  const whole = new Date(Math.ceil(fireAt.getTime() / 1000) * 1000);
  return `at(${whole.toISOString().slice(0, 19)})`;
}

/**
 * The whole schedule for a backstop: a one-time schedule at `fireAt` (UTC, no flexible window) whose
 * universal target calls `ec2:RevokeSecurityGroupIngress` for exactly this rule id in its group, as
 * the execution role, and which deletes itself once it has run. By id, never by address and port: a
 * rule that looks the same but is not hallpass's is never touched.
 */
export function scheduleInput(group: string, b: Backstop): CreateScheduleCommandInput {
  return {
    Name: backstopName(b.ruleId),
    GroupName: group,
    ScheduleExpression: atExpression(b.fireAt),
    ScheduleExpressionTimezone: 'UTC',
    FlexibleTimeWindow: { Mode: 'OFF' },
    ActionAfterCompletion: 'DELETE',
    State: 'ENABLED',
    Description: `hallpass backstop: revokes ${b.ruleId} in ${b.target.groupId} if hallpass has not closed it after grant ${b.grantId} ended`,
    Target: {
      Arn: REVOKE_TARGET_ARN,
      RoleArn: b.roleArn,
      Input: JSON.stringify({ GroupId: b.target.groupId, SecurityGroupRuleIds: [b.ruleId] }),
    },
  };
}

/**
 * `Backstops` on EventBridge Scheduler: one schedule per managed rule, named after it, in the rule's
 * region and account. `put` creates it and, when it exists (`ConflictException`), replaces its whole
 * definition; `remove` treats `ResourceNotFoundException` as done — so every call can be repeated
 * after a crash or a lost answer.
 */
export function createSchedulerBackstops(deps: SchedulerBackstopsDeps): Backstops {
  return {
    async put(backstop) {
      const client = deps.clientFor(backstop.target);
      const input = scheduleInput(deps.group, backstop);
      try {
        await client.send(new CreateScheduleCommand(input));
      } catch (error) {
        if (!hasAwsErrorCode(error, 'ConflictException'))
          throw toInfraError(error, 'scheduler.CreateSchedule');
        try {
          await client.send(new UpdateScheduleCommand(input));
        } catch (updateError) {
          throw toInfraError(updateError, 'scheduler.UpdateSchedule');
        }
      }
    },

    async remove(target, ruleId) {
      try {
        await deps
          .clientFor(target)
          .send(new DeleteScheduleCommand({ Name: backstopName(ruleId), GroupName: deps.group }));
      } catch (error) {
        if (hasAwsErrorCode(error, 'ResourceNotFoundException')) return;
        throw toInfraError(error, 'scheduler.DeleteSchedule');
      }
    },

    async list(target) {
      const found: ListedBackstop[] = [];
      let token: string | undefined;
      // Bounded: 100 a page, at most 10,000 pages (a million schedules, Scheduler's default quota).
      for (let page = 0; page < 10_000; page++) {
        let out: ListSchedulesCommandOutput;
        try {
          out = await deps.clientFor(target).send(
            new ListSchedulesCommand({
              GroupName: deps.group,
              NamePrefix: `${BACKSTOP_NAME_PREFIX}sgr-`,
              MaxResults: 100,
              ...(token === undefined ? {} : { NextToken: token }),
            }),
          );
        } catch (error) {
          throw toInfraError(error, 'scheduler.ListSchedules');
        }
        for (const s of out.Schedules ?? []) {
          if (s.Name?.startsWith(BACKSTOP_NAME_PREFIX) === true) {
            found.push({ ruleId: s.Name.slice(BACKSTOP_NAME_PREFIX.length) });
          }
        }
        token = out.NextToken;
        if (token === undefined || token === '') break;
      }
      return found;
    },
  };
}
