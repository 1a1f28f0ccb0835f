import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as ec2 from '@aws-sdk/client-ec2';

/**
 * An in-memory Amazon EventBridge Scheduler served over HTTP and speaking the REST-JSON protocol the real
 * SDK sends (`POST /schedules/{Name}` with a JSON body, timestamps as epoch seconds, errors named by the
 * `x-amzn-errortype` header). Point a real `SchedulerClient` at `url` (or set `AWS_ENDPOINT_URL_SCHEDULER`).
 * Signatures are not checked. Supported actions: CreateSchedule, UpdateSchedule, GetSchedule,
 * DeleteSchedule, ListSchedules, CreateScheduleGroup.
 *
 * Nothing fires by itself: `runDue(now)` fires the one-time (`at(…)`) schedules that are due, calling
 * the universal target (`arn:aws:scheduler:::aws-sdk:ec2:<apiAction>`) with a real `EC2Client`
 * pointed at `ec2Url` (a fake EC2, see fake-ec2.ts).
 */

/** A schedule's target as stored (templated-target parameters, if any, are kept as sent). */
export type FakeScheduleTarget = {
  readonly Arn: string;
  readonly RoleArn: string;
  /** The raw string, as sent: for a universal target, the API call's parameters as JSON. */
  readonly Input?: string | undefined;
  readonly RetryPolicy?:
    | { readonly MaximumEventAgeInSeconds?: number; readonly MaximumRetryAttempts?: number }
    | undefined;
  readonly DeadLetterConfig?: { readonly Arn?: string } | undefined;
  readonly [templated: string]: unknown;
};

/** A schedule's full definition, as GetSchedule answers it (dates as `Date`). */
export type FakeSchedule = {
  readonly Arn: string;
  readonly Name: string;
  readonly GroupName: string;
  readonly ScheduleExpression: string;
  readonly ScheduleExpressionTimezone?: string | undefined;
  readonly FlexibleTimeWindow: {
    readonly Mode: 'OFF' | 'FLEXIBLE';
    readonly MaximumWindowInMinutes?: number | undefined;
  };
  readonly Target: FakeScheduleTarget;
  readonly State: 'ENABLED' | 'DISABLED';
  readonly ActionAfterCompletion: 'NONE' | 'DELETE';
  readonly Description?: string | undefined;
  readonly StartDate?: Date | undefined;
  readonly EndDate?: Date | undefined;
  readonly KmsKeyArn?: string | undefined;
  readonly CreationDate: Date;
  readonly LastModificationDate: Date;
};

/** One request the fake received (including those answered with an injected fault). */
export type FakeSchedulerCall = {
  readonly action: string;
  /** The schedule (or schedule group) name from the path; absent for ListSchedules. */
  readonly name?: string | undefined;
  /** The group the call is about: body `GroupName`, query `groupName` or `ScheduleGroup`. */
  readonly group?: string | undefined;
  /** The parsed JSON body (`{}` for GET and DELETE). */
  readonly body: Readonly<Record<string, unknown>>;
  readonly query: Readonly<Record<string, string>>;
};

/** One target invocation made by `runDue`. */
export type FakeInvocation = {
  readonly name: string;
  readonly group: string;
  /** The target ARN, e.g. `arn:aws:scheduler:::aws-sdk:ec2:revokeSecurityGroupIngress`. */
  readonly target: string;
  /** The parsed `Target.Input` sent as the API call's input. */
  readonly input: unknown;
  readonly ok: boolean;
  /** The AWS error code of a failed call (e.g. `InvalidSecurityGroupRuleId.NotFound`); `SyntaxError` for an Input that is not JSON. */
  readonly error?: string | undefined;
  readonly errorMessage?: string | undefined;
  /** The execution role the schedule names (not assumed: the fake signs with dummy credentials). */
  readonly roleArn: string;
};

export type SchedulerFailOptions = {
  /** Carry out the action, then answer with the error anyway: a response lost after the change. */
  readonly afterApply?: boolean;
  /** Let this many calls of the action through first. */
  readonly skip?: number;
};

export interface FakeScheduler {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Every request received, oldest first. */
  readonly calls: FakeSchedulerCall[];
  /** Every target invocation made by `runDue`, oldest first. */
  readonly invocations: FakeInvocation[];
  /** A snapshot of the stored schedules, optionally of one group, in creation order. */
  schedules(group?: string): FakeSchedule[];
  /** When an `at(…)` schedule fires. Throws for a missing schedule, another expression, or a zone other than UTC. */
  at(name: string, group?: string): Date;
  /**
   * Fires every ENABLED one-time schedule due at `now` that has not fired yet, earliest first, and
   * answers this call's invocations. Afterwards a schedule is deleted (ActionAfterCompletion DELETE)
   * or kept and never fired again, whether the call succeeded or not (retries are not modelled).
   * Throws, before firing anything, for a due target it cannot call (only `aws-sdk:ec2:*` is supported).
   */
  runDue(now: Date): Promise<FakeInvocation[]>;
  /** Makes a schedule group exist (no call recorded), as CreateScheduleGroup does. */
  addGroup(name: string): void;
  /** Answers the next `times` calls of `action` (e.g. `CreateSchedule`) with this error code and HTTP status. */
  failNext(
    action: string,
    code: string,
    httpStatus?: number,
    times?: number,
    options?: SchedulerFailOptions,
  ): void;
  /** Forgets every queued fault. */
  clearFaults(): void;
  /** Stops the server, dropping keep-alive connections. */
  close(): Promise<void>;
}

export type FakeSchedulerOptions = {
  /** The EC2 endpoint universal `aws-sdk:ec2:*` targets are sent to (e.g. a fake EC2's `url`). */
  readonly ec2Url?: string;
  /** Region in ARNs and of the EC2 client (default us-east-1). */
  readonly region?: string;
  /** Account in ARNs (default 123456789012). */
  readonly accountId?: string;
};

/** The largest `Target.Input` accepted, in characters. */
const MAX_INPUT_CHARS = 8192;
const NAME = /^[0-9a-zA-Z_.-]{1,64}$/;
const ROLE_ARN = /^arn:aws(-[a-z]+)?:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const SQS_ARN = /^arn:aws(-[a-z]+)?:sqs:[a-z0-9-]+:\d{12}:[a-zA-Z0-9_-]+$/;
const AT = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/;
const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\((.*)\)$/;
const UNIVERSAL_TARGET = /^arn:aws:scheduler:::aws-sdk:([a-z0-9]+):([a-zA-Z0-9]+)$/;

class SchedulerError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const invalid = (message: string) => new SchedulerError('ValidationException', message, 400);
const notFound = (message: string) => new SchedulerError('ResourceNotFoundException', message, 404);

type Json = Record<string, unknown>;
type Request = { name?: string | undefined; body: Json; query: URLSearchParams };
type Handler = (request: Request) => Json;
type Fault = { code: string; status: number; remaining: number; afterApply: boolean; skip: number };
type Stored = { definition: FakeSchedule; clientToken?: string | undefined; fired: boolean };
type Ec2Command = Parameters<ec2.EC2Client['send']>[0];
type Ec2CommandClass = new (input: unknown) => Ec2Command;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A string member of `body`; `label` names it in messages (e.g. `Target.Arn`). */
function optionalString(
  body: Json,
  key: string,
  min = 1,
  max = Number.POSITIVE_INFINITY,
  label = key,
): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(`${label} must be a string`);
  if (value.length < min) throw invalid(`${label} must be at least ${min} characters long`);
  if (value.length > max) throw invalid(`${label} must be at most ${max} characters long`);
  return value;
}

function requiredString(body: Json, key: string, min: number, max: number, label = key): string {
  const value = optionalString(body, key, min, max, label);
  if (value === undefined) throw invalid(`${label} is required`);
  return value;
}

function optionalInteger(body: Json, key: string, min: number, max: number, label = key): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${label} must be an integer between ${min} and ${max}`);
  }
  return value;
}

/** A timestamp member: epoch seconds on the wire. */
function optionalDate(body: Json, key: string): Date | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${key} must be a timestamp`);
  return new Date(value * 1000);
}

function oneOf<T extends string>(body: Json, key: string, allowed: readonly T[], label = key): T | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(`${label} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function checkName(value: string | undefined, what: string): string {
  if (value === undefined || !NAME.test(value)) {
    throw invalid(`${what} must be 1 to 64 characters of [0-9a-zA-Z-_.]`);
  }
  return value;
}

/** `at(2026-01-01T12:00:00)` as a UTC wall-clock instant, or undefined for another expression. */
function atInstant(expression: string): Date | undefined {
  const match = AT.exec(expression);
  if (match === null) return undefined;
  const [y, mo, d, h, mi, s] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  const real =
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s;
  if (!real) throw invalid(`Invalid Schedule Expression ${expression}.`);
  return date;
}

function checkExpression(expression: string): void {
  if (atInstant(expression) !== undefined) return;
  const rate = RATE.exec(expression);
  if (rate !== null && Number(rate[1]) >= 1) return;
  const cron = CRON.exec(expression);
  if (cron !== null) {
    const fields = (cron[1] ?? '').trim().split(/\s+/);
    // minutes hours day-of-month month day-of-week year; one of the two day fields must be `?`.
    if (fields.length === 6 && (fields[2] === '?') !== (fields[4] === '?')) return;
  }
  throw invalid(`Invalid Schedule Expression ${expression}.`);
}

function checkTimezone(zone: string | undefined): void {
  if (zone === undefined) return;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw invalid(`Invalid ScheduleExpressionTimezone ${zone}.`);
  }
}

function parseFlexibleTimeWindow(value: unknown): FakeSchedule['FlexibleTimeWindow'] {
  if (!isObject(value)) throw invalid('FlexibleTimeWindow is required');
  const mode = oneOf(value, 'Mode', ['OFF', 'FLEXIBLE'] as const, 'FlexibleTimeWindow.Mode');
  if (mode === undefined) throw invalid('FlexibleTimeWindow.Mode is required');
  const window = optionalInteger(
    value,
    'MaximumWindowInMinutes',
    1,
    1440,
    'FlexibleTimeWindow.MaximumWindowInMinutes',
  );
  if (mode === 'FLEXIBLE' && window === undefined) {
    throw invalid('FlexibleTimeWindow.MaximumWindowInMinutes is required when Mode is FLEXIBLE');
  }
  return window === undefined ? { Mode: mode } : { Mode: mode, MaximumWindowInMinutes: window };
}

function parseTarget(value: unknown): FakeScheduleTarget {
  if (!isObject(value)) throw invalid('Target is required');
  const arn = requiredString(value, 'Arn', 1, 1600, 'Target.Arn');
  const roleArn = requiredString(value, 'RoleArn', 1, 1600, 'Target.RoleArn');
  if (!ROLE_ARN.test(roleArn)) throw invalid(`Invalid RoleArn ${roleArn}: not an IAM role ARN`);
  const input = optionalString(value, 'Input', 1, MAX_INPUT_CHARS, 'Target.Input');
  const target: Record<string, unknown> = { ...value, Arn: arn, RoleArn: roleArn };
  if (input !== undefined) target['Input'] = input;
  const retry = value['RetryPolicy'];
  if (retry !== undefined && retry !== null) {
    if (!isObject(retry)) throw invalid('Target.RetryPolicy must be an object');
    optionalInteger(retry, 'MaximumEventAgeInSeconds', 60, 86400, 'RetryPolicy.MaximumEventAgeInSeconds');
    optionalInteger(retry, 'MaximumRetryAttempts', 0, 185, 'RetryPolicy.MaximumRetryAttempts');
  }
  const deadLetter = value['DeadLetterConfig'];
  if (deadLetter !== undefined && deadLetter !== null) {
    if (!isObject(deadLetter)) throw invalid('DeadLetterConfig must be an object');
    const queue = optionalString(deadLetter, 'Arn', 1, 1600, 'DeadLetterConfig.Arn');
    if (queue !== undefined && !SQS_ARN.test(queue)) throw invalid(`Invalid DeadLetterConfig.Arn ${queue}`);
  }
  return target as FakeScheduleTarget;
}

/** Drops absent members, so a snapshot equals what GetSchedule answers. */
function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

const copySchedule = (s: FakeSchedule): FakeSchedule =>
  compact({
    ...s,
    FlexibleTimeWindow: { ...s.FlexibleTimeWindow },
    Target: JSON.parse(JSON.stringify(s.Target)) as FakeScheduleTarget,
  });

const epochSeconds = (date: Date | undefined): number | undefined =>
  date === undefined ? undefined : date.getTime() / 1000;

const upperFirst = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

/** The AWS error code and message of a failed SDK call. */
function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof Error) return { code: error.name, message: error.message };
  return { code: 'Unknown', message: String(error) };
}

/** Starts the fake on an ephemeral port of 127.0.0.1. */
export async function startFakeScheduler(opts: FakeSchedulerOptions = {}): Promise<FakeScheduler> {
  const region = opts.region ?? 'us-east-1';
  const accountId = opts.accountId ?? '123456789012';
  const groups = new Set<string>(['default']);
  const store = new Map<string, Stored>();
  const calls: FakeSchedulerCall[] = [];
  const invocations: FakeInvocation[] = [];
  const faults = new Map<string, Fault[]>();

  const key = (group: string, name: string) => `${group}/${name}`;
  const scheduleArn = (group: string, name: string) =>
    `arn:aws:scheduler:${region}:${accountId}:schedule/${group}/${name}`;
  const find = (group: string, name: string): Stored => {
    const stored = store.get(key(group, name));
    if (stored === undefined) throw notFound(`Schedule ${name} does not exist.`);
    return stored;
  };
  const requireGroup = (group: string): void => {
    if (!groups.has(group)) throw notFound(`Schedule group ${group} does not exist.`);
  };

  /** Validates a Create/UpdateSchedule body into a definition (a full replacement, defaults applied). */
  const definitionOf = (name: string | undefined, body: Json, now: Date): FakeSchedule => {
    const scheduleName = checkName(name, 'Name');
    const group = checkName(optionalString(body, 'GroupName') ?? 'default', 'GroupName');
    const expression = requiredString(body, 'ScheduleExpression', 1, 256);
    checkExpression(expression);
    const timezone = optionalString(body, 'ScheduleExpressionTimezone', 1, 50);
    checkTimezone(timezone);
    const flexibleTimeWindow = parseFlexibleTimeWindow(body['FlexibleTimeWindow']);
    const target = parseTarget(body['Target']);
    const startDate = optionalDate(body, 'StartDate');
    const endDate = optionalDate(body, 'EndDate');
    if (startDate !== undefined && endDate !== undefined && endDate <= startDate) {
      throw invalid('The EndDate you specify must be after the StartDate.');
    }
    return compact({
      Arn: scheduleArn(group, scheduleName),
      Name: scheduleName,
      GroupName: group,
      ScheduleExpression: expression,
      ScheduleExpressionTimezone: timezone,
      FlexibleTimeWindow: flexibleTimeWindow,
      Target: target,
      State: oneOf(body, 'State', ['ENABLED', 'DISABLED'] as const) ?? 'ENABLED',
      ActionAfterCompletion: oneOf(body, 'ActionAfterCompletion', ['NONE', 'DELETE'] as const) ?? 'NONE',
      Description: optionalString(body, 'Description', 0, 512),
      StartDate: startDate,
      EndDate: endDate,
      KmsKeyArn: optionalString(body, 'KmsKeyArn', 1, 2048),
      CreationDate: now,
      LastModificationDate: now,
    });
  };

  const createSchedule: Handler = ({ name, body }) => {
    const definition = definitionOf(name, body, new Date());
    requireGroup(definition.GroupName);
    const clientToken = optionalString(body, 'ClientToken', 1, 64);
    const existing = store.get(key(definition.GroupName, definition.Name));
    if (existing !== undefined) {
      // The same request again (an SDK retry carries the same ClientToken): the first answer again.
      if (clientToken !== undefined && existing.clientToken === clientToken) {
        return { ScheduleArn: existing.definition.Arn };
      }
      throw new SchedulerError('ConflictException', `Schedule ${definition.Name} already exists.`, 409);
    }
    store.set(key(definition.GroupName, definition.Name), { definition, clientToken, fired: false });
    return { ScheduleArn: definition.Arn };
  };

  const updateSchedule: Handler = ({ name, body }) => {
    const replacement = definitionOf(name, body, new Date());
    const stored = find(replacement.GroupName, replacement.Name);
    const definition = { ...replacement, CreationDate: stored.definition.CreationDate };
    // A new definition is a new schedule as far as firing goes (a new at() time fires again).
    store.set(key(definition.GroupName, definition.Name), { ...stored, definition, fired: false });
    return { ScheduleArn: definition.Arn };
  };

  const getSchedule: Handler = ({ name, query }) => {
    const group = checkName(query.get('groupName') ?? 'default', 'GroupName');
    const s = find(group, checkName(name, 'Name')).definition;
    return {
      ...s,
      StartDate: epochSeconds(s.StartDate),
      EndDate: epochSeconds(s.EndDate),
      CreationDate: epochSeconds(s.CreationDate),
      LastModificationDate: epochSeconds(s.LastModificationDate),
    };
  };

  const deleteSchedule: Handler = ({ name, query }) => {
    const group = checkName(query.get('groupName') ?? 'default', 'GroupName');
    const scheduleName = checkName(name, 'Name');
    find(group, scheduleName);
    store.delete(key(group, scheduleName));
    return {};
  };

  const listSchedules: Handler = ({ query }) => {
    const group = query.get('ScheduleGroup') ?? undefined;
    if (group !== undefined) checkName(group, 'ScheduleGroup');
    const prefix = query.get('NamePrefix') ?? undefined;
    if (prefix !== undefined) checkName(prefix, 'NamePrefix');
    const state = query.get('State') ?? undefined;
    if (state !== undefined && state !== 'ENABLED' && state !== 'DISABLED') {
      throw invalid('State must be one of ENABLED, DISABLED');
    }
    const maxText = query.get('MaxResults');
    const max = maxText === null ? 100 : Number(maxText);
    if (!Number.isInteger(max) || max < 1 || max > 100) {
      throw invalid('MaxResults must be an integer between 1 and 100');
    }
    const token = query.get('NextToken');
    const start = token === null ? 0 : Number(Buffer.from(token, 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw invalid('Invalid NextToken');
    const selected = [...store.values()]
      .map((s) => s.definition)
      .filter((s) => group === undefined || s.GroupName === group)
      .filter((s) => prefix === undefined || s.Name.startsWith(prefix))
      .filter((s) => state === undefined || s.State === state)
      .sort((a, b) => a.Name.localeCompare(b.Name, 'en') || a.GroupName.localeCompare(b.GroupName, 'en'));
    const page = selected.slice(start, start + max);
    const next =
      start + max < selected.length ? Buffer.from(String(start + max)).toString('base64url') : undefined;
    return {
      Schedules: page.map((s) => ({
        Arn: s.Arn,
        Name: s.Name,
        GroupName: s.GroupName,
        State: s.State,
        CreationDate: epochSeconds(s.CreationDate),
        LastModificationDate: epochSeconds(s.LastModificationDate),
        Target: { Arn: s.Target.Arn },
      })),
      NextToken: next,
    };
  };

  const createScheduleGroup: Handler = ({ name }) => {
    const group = checkName(name, 'Name');
    if (groups.has(group)) {
      throw new SchedulerError('ConflictException', `Schedule group ${group} already exists.`, 409);
    }
    groups.add(group);
    return { ScheduleGroupArn: `arn:aws:scheduler:${region}:${accountId}:schedule-group/${group}` };
  };

  /** The action a method and path name, and the name label in the path. */
  const route = (method: string, path: string): { action: string; name?: string } => {
    if (path === '/schedules' && method === 'GET') return { action: 'ListSchedules' };
    const schedule = /^\/schedules\/([^/]+)$/.exec(path);
    if (schedule !== null) {
      const name = decodeURIComponent(schedule[1] ?? '');
      const action = { POST: 'CreateSchedule', PUT: 'UpdateSchedule', GET: 'GetSchedule' }[method];
      if (action !== undefined) return { action, name };
      if (method === 'DELETE') return { action: 'DeleteSchedule', name };
    }
    const group = /^\/schedule-groups\/([^/]+)$/.exec(path);
    if (group !== null && method === 'POST') {
      return { action: 'CreateScheduleGroup', name: decodeURIComponent(group[1] ?? '') };
    }
    return { action: '' };
  };

  const handlers = new Map<string, Handler>([
    ['CreateSchedule', createSchedule],
    ['UpdateSchedule', updateSchedule],
    ['GetSchedule', getSchedule],
    ['DeleteSchedule', deleteSchedule],
    ['ListSchedules', listSchedules],
    ['CreateScheduleGroup', createScheduleGroup],
  ]);

  const send = (res: ServerResponse, status: number, body: Json, requestId: string, errorType?: string) => {
    res.writeHead(status, {
      'content-type': 'application/json',
      'x-amzn-requestid': requestId,
      ...(errorType === undefined ? {} : { 'x-amzn-errortype': errorType }),
    });
    res.end(JSON.stringify(body));
  };

  const takeFault = (action: string): Fault | undefined => {
    const queue = faults.get(action) ?? [];
    const fault = queue[0];
    if (fault === undefined) return undefined;
    if (fault.skip > 0) {
      fault.skip -= 1;
      return undefined;
    }
    fault.remaining -= 1;
    if (fault.remaining <= 0) queue.shift();
    return fault;
  };

  const handle = (req: IncomingMessage, raw: string, res: ServerResponse) => {
    const requestId = randomUUID();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const { action, name } = route(req.method ?? 'GET', url.pathname);
    let body: Json = {};
    let malformed = false;
    try {
      const parsed: unknown = raw.trim() === '' ? {} : JSON.parse(raw);
      if (isObject(parsed)) body = parsed;
      else malformed = true;
    } catch {
      malformed = true;
    }
    const groupInBody = body['GroupName'];
    const group =
      (typeof groupInBody === 'string' ? groupInBody : undefined) ??
      url.searchParams.get('groupName') ??
      url.searchParams.get('ScheduleGroup') ??
      undefined;
    calls.push({ action, name, group, body, query: Object.fromEntries(url.searchParams) });

    const handler = handlers.get(action);
    try {
      if (handler === undefined) {
        throw new SchedulerError(
          'UnknownOperationException',
          `fake-scheduler: no operation for ${req.method} ${url.pathname}`,
          404,
        );
      }
      if (malformed) throw new SchedulerError('SerializationException', 'Malformed JSON body', 400);
      const fault = takeFault(action);
      if (fault !== undefined && !fault.afterApply) {
        throw new SchedulerError(fault.code, `Injected fault: ${fault.code}`, fault.status);
      }
      const result = handler({ name, body, query: url.searchParams });
      if (fault !== undefined)
        throw new SchedulerError(fault.code, `Injected fault: ${fault.code}`, fault.status);
      send(res, 200, result, requestId);
    } catch (error) {
      const e =
        error instanceof SchedulerError
          ? error
          : new SchedulerError('InternalServerException', `fake-scheduler: ${String(error)}`, 500);
      send(res, e.status, { Message: e.message }, requestId, e.code);
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const fireTime = (s: FakeSchedule): Date => {
    const zone = s.ScheduleExpressionTimezone ?? 'UTC';
    if (zone !== 'UTC') {
      throw new Error(`fake-scheduler: only UTC is supported, ${s.Name} is in ${zone}`);
    }
    const instant = atInstant(s.ScheduleExpression);
    if (instant === undefined) {
      throw new Error(`fake-scheduler: ${s.Name} is not a one-time schedule (${s.ScheduleExpression})`);
    }
    return instant;
  };

  /** The SDK command a universal target calls, or a thrown Error naming what is unsupported. */
  const commandFor = (s: FakeSchedule): Ec2CommandClass => {
    const match = UNIVERSAL_TARGET.exec(s.Target.Arn);
    if (match === null) throw new Error(`fake-scheduler: ${s.Name}: not a universal target: ${s.Target.Arn}`);
    const [, service, apiAction] = match;
    if (service !== 'ec2') throw new Error(`fake-scheduler: ${s.Name}: service ${service} is not supported`);
    if (opts.ec2Url === undefined) throw new Error('fake-scheduler: an ec2 target needs the ec2Url option');
    const command = (ec2 as unknown as Record<string, unknown>)[`${upperFirst(apiAction ?? '')}Command`];
    if (typeof command !== 'function') {
      throw new Error(`fake-scheduler: ${s.Name}: ec2 has no action ${apiAction}`);
    }
    return command as Ec2CommandClass;
  };

  const runDue = async (now: Date): Promise<FakeInvocation[]> => {
    const due = [...store.values()]
      .filter((s) => !s.fired && s.definition.State === 'ENABLED' && AT.test(s.definition.ScheduleExpression))
      .map((s) => ({ stored: s, when: fireTime(s.definition) }))
      .filter(({ when }) => when.getTime() <= now.getTime())
      .sort((a, b) => a.when.getTime() - b.when.getTime())
      .map(({ stored }) => ({ stored, Command: commandFor(stored.definition) }));
    if (due.length === 0) return [];
    const client = new ec2.EC2Client({
      region,
      endpoint: opts.ec2Url,
      credentials: { accessKeyId: 'AKIDSCHEDULER', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    const fired: FakeInvocation[] = [];
    try {
      for (const { stored, Command } of due) {
        const s = stored.definition;
        const base = { name: s.Name, group: s.GroupName, target: s.Target.Arn, roleArn: s.Target.RoleArn };
        let input: unknown;
        let invocation: FakeInvocation;
        try {
          input = JSON.parse(s.Target.Input ?? '{}');
          await client.send(new Command(input));
          invocation = { ...base, input, ok: true };
        } catch (error) {
          const { code, message } = describeError(error);
          invocation = { ...base, input, ok: false, error: code, errorMessage: message };
        }
        fired.push(invocation);
        invocations.push(invocation);
        // Unless the schedule was replaced or deleted while its target ran.
        if (store.get(key(s.GroupName, s.Name)) !== stored) continue;
        if (s.ActionAfterCompletion === 'DELETE') store.delete(key(s.GroupName, s.Name));
        else stored.fired = true;
      }
    } finally {
      client.destroy();
    }
    return fired;
  };

  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    invocations,
    schedules: (group) =>
      [...store.values()]
        .map((s) => s.definition)
        .filter((s) => group === undefined || s.GroupName === group)
        .map(copySchedule),
    at(name, group = 'default') {
      const stored = store.get(key(group, name));
      if (stored === undefined) throw new Error(`fake-scheduler: no schedule ${group}/${name}`);
      return fireTime(stored.definition);
    },
    runDue,
    addGroup(name) {
      groups.add(name);
    },
    failNext(action, code, httpStatus = 400, times = 1, options = {}) {
      const queue = faults.get(action) ?? [];
      queue.push({
        code,
        status: httpStatus,
        remaining: times,
        afterApply: options.afterApply === true,
        skip: options.skip ?? 0,
      });
      faults.set(action, queue);
    },
    clearFaults() {
      faults.clear();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      }),
  };
}
