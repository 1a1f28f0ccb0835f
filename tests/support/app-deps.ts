import { createLocalLocks } from '../../src/adapters/db/local/locks';
import { createLocalRateLimits } from '../../src/adapters/db/local/rate-limits';
import type { AppDeps } from '../../src/app/deps';
import { InfraError } from '../../src/app/infra-error';
import {
  type Directory,
  type ManagedRule,
  type NetworkAccess,
  type NetworkAcls,
  type Notifier,
  noFaults,
  type RuleKey,
  type RuleTarget,
} from '../../src/app/ports';
import { createUseCases, type UseCases } from '../../src/app/use-cases';
import type { Actor, Policy, Resource } from '../../src/domain/policy';
import type { AccessRequest } from '../../src/domain/request';
import { buildRoleResource, buildSgResource } from './builders';
import { FakeClock } from './fake-clock';
import { FakeRoles } from './fake-roles';
import { MemoryLogger } from './memory-logger';
import { createMemoryStores, type Stores } from './memory-stores';

/** One minute in milliseconds. */
export const MINUTE = 60_000;

/** A full member of the workspace in the given user groups (handles without `@`). */
export const member = (userId: string, ...groups: string[]): Actor => ({
  userId,
  groups: new Set(groups),
  standing: 'member',
});

/** One rule as the fake EC2 holds it. */
export type FakeRule = RuleKey & { readonly ruleId: string; readonly grantId: string };

/**
 * EC2 security-group rules in memory: one rule per key, as EC2 keeps them; every call in `calls`;
 * `failNext` makes the next call of that kind throw (a throttled or refused AWS).
 */
export class MemoryNetwork implements NetworkAccess {
  readonly rules = new Map<string, FakeRule>();
  readonly calls: string[] = [];
  /** Calls to fail: each waits `skip` calls of its kind, then fails once. */
  private failures: { op: 'authorize' | 'revoke'; skip: number; error: Error }[] = [];
  private n = 0;

  /** Fails a coming call of `op`: the next one, or the one after `skip` more succeed. */
  failNext(op: 'authorize' | 'revoke', opts: { skip?: number; error?: Error } = {}): void {
    const error =
      opts.error ?? new InfraError('throttled', true, `${op} throttled`, { providerCode: 'Throttling' });
    this.failures.push({ op, skip: opts.skip ?? 0, error });
  }

  private maybeFail(op: 'authorize' | 'revoke'): void {
    const failure = this.failures.find((f) => f.op === op);
    if (failure === undefined) return;
    if (failure.skip > 0) {
      failure.skip -= 1;
      return;
    }
    this.failures = this.failures.filter((f) => f !== failure);
    throw failure.error;
  }

  async authorize(
    target: RuleTarget,
    rule: Omit<RuleKey, 'region' | 'groupId'>,
    tags: { grantId: string },
  ): Promise<{ ruleId: string; existed: boolean; managed: boolean }> {
    this.calls.push(`authorize ${target.groupId} ${rule.fromPort}-${rule.toPort} ${rule.cidr}`);
    this.maybeFail('authorize');
    const key = { region: target.region, groupId: target.groupId, ...rule };
    const same = [...this.rules.values()].find(
      (r) =>
        r.groupId === key.groupId &&
        r.protocol === key.protocol &&
        r.fromPort === key.fromPort &&
        r.toPort === key.toPort &&
        r.cidr === key.cidr,
    );
    if (same !== undefined) return { ruleId: same.ruleId, existed: true, managed: true };
    this.n += 1;
    const ruleId = `sgr-${this.n}`;
    this.rules.set(ruleId, {
      region: key.region,
      groupId: key.groupId,
      protocol: key.protocol,
      fromPort: key.fromPort,
      toPort: key.toPort,
      cidr: key.cidr,
      ruleId,
      grantId: tags.grantId,
    });
    return { ruleId, existed: false, managed: true };
  }

  async revoke(target: RuleTarget, ruleIds: readonly string[]): Promise<void> {
    this.calls.push(`revoke ${target.groupId} ${ruleIds.join(',')}`);
    try {
      this.maybeFail('revoke');
    } catch (error) {
      // A failure naming its rules (`ruleIds`) kept only those: the others are revoked, as the port says.
      const kept = error instanceof InfraError ? error.ruleIds : undefined;
      if (kept !== undefined) for (const id of ruleIds) if (!kept.includes(id)) this.rules.delete(id);
      throw error;
    }
    for (const id of ruleIds) this.rules.delete(id);
  }

  async retag(target: RuleTarget, ruleId: string): Promise<void> {
    this.calls.push(`retag ${target.groupId} ${ruleId}`);
  }

  async listManaged(target: RuleTarget): Promise<ManagedRule[]> {
    // Tagged as the EC2 adapter tags them: with the grant and this deployment's name.
    return [...this.rules.values()]
      .filter((r) => r.groupId === target.groupId)
      .map((r) => ({ ...r, tags: { grantId: r.grantId, deployment: 'default' } }));
  }
}

/** Slack's directory: the people set here, anyone else a member in no group. */
export class FakeDirectory implements Directory {
  readonly people = new Map<string, Actor>();
  set(...actors: Actor[]): void {
    for (const a of actors) this.people.set(a.userId, a);
  }
  async actor(userId: string): Promise<Actor> {
    return this.people.get(userId) ?? member(userId);
  }
  groupsChanged(): void {}
  userChanged(): void {}
  async groupHandle(): Promise<string | undefined> {
    return undefined;
  }
  async emailOf(): Promise<string | undefined> {
    return undefined;
  }
}

/** What the use cases sent straight to Slack (only credentials skip the outbox), by method. */
export class RecordingNotifier implements Notifier {
  readonly sent: { method: keyof Notifier; to: string }[] = [];
  async postApprovalCard() {
    this.sent.push({ method: 'postApprovalCard', to: 'channel' });
    return { channel: 'C0123ABCD', ts: '1.1' };
  }
  async updateApprovalCard() {
    this.sent.push({ method: 'updateApprovalCard', to: 'channel' });
  }
  async notifyThread() {
    this.sent.push({ method: 'notifyThread', to: 'thread' });
  }
  async notifyUser(userId: string) {
    this.sent.push({ method: 'notifyUser', to: userId });
  }
  async sendCredentials(userId: string) {
    this.sent.push({ method: 'sendCredentials', to: userId });
  }
  async notifyChannel(channel: string) {
    this.sent.push({ method: 'notifyChannel', to: channel });
  }
}

/** Network ACLs are only reached with `cutConnections: nacl`, which these tests do not set. */
const noAcls: NetworkAcls = {
  survey: () => Promise.reject(new Error('no network ACLs in use-case tests')),
  addDeny: () => Promise.reject(new Error('no network ACLs in use-case tests')),
  removeDeny: () => Promise.reject(new Error('no network ACLs in use-case tests')),
};

/** Approvers: @sre (U_APP1, U_APP2, U_APP3); requesters: anyone; admins: @security. */
export const REQUESTER = 'U_REQ';
export const APPROVERS = ['U_APP1', 'U_APP2', 'U_APP3'] as const;

/** The resources of the default test policy: one-approval `prod-db`, two-approval `prod-web`, role `prod-readonly`. */
export const TEST_RESOURCES: readonly Resource[] = [
  buildSgResource({ id: 'prod-db' }),
  buildSgResource({
    id: 'prod-web',
    securityGroupId: 'sg-0web',
    ports: [
      { from: 443, to: 443 },
      { from: 8000, to: 8080 },
    ],
    approvals: 2,
  }),
  buildRoleResource({ id: 'prod-readonly' }),
];

export type TestApp = {
  readonly deps: AppDeps;
  readonly useCases: UseCases;
  readonly stores: Stores;
  readonly clock: FakeClock;
  readonly network: MemoryNetwork;
  readonly roles: FakeRoles;
  readonly directory: FakeDirectory;
  readonly notifier: RecordingNotifier;
  readonly logger: MemoryLogger;
  /** How often the scheduler was woken (due times changed). */
  readonly wakes: () => number;
  /** Replaces the policy as the next click reads it. */
  setPolicy(policy: Policy): void;
};

/**
 * The whole application on in-memory stores, a fake clock, an in-memory EC2 and STS/IAM, and
 * recording fakes for Slack, wired through `createUseCases` as the composition root wires it.
 */
export function createTestApp(
  opts: { resources?: readonly Resource[]; policy?: Partial<Policy>; clock?: FakeClock } = {},
): TestApp {
  const clock = opts.clock ?? new FakeClock();
  const stores = createMemoryStores();
  const network = new MemoryNetwork();
  const roles = new FakeRoles(() => clock.now());
  const directory = new FakeDirectory();
  directory.set(...APPROVERS.map((id) => member(id, 'sre')), member('U_ADMIN', 'security'));
  const notifier = new RecordingNotifier();
  const logger = new MemoryLogger();
  let policy: Policy = {
    admins: ['@security'],
    approvalTimeout: 30 * MINUTE,
    warnBefore: 5 * MINUTE,
    resources: opts.resources ?? TEST_RESOURCES,
    ...opts.policy,
  };
  let wakes = 0;
  let n = 0;
  const deps: AppDeps = {
    ...stores,
    deployment: 'default',
    clock,
    ids: {
      request: () => `req_${++n}`,
      grant: () => `grt_${++n}`,
    },
    logger,
    policy: () => policy,
    auditRecord: { read: () => Promise.reject(new Error('no audit record in use-case tests')) },
    network,
    roles,
    notifier,
    directory,
    wakeup: { wake: () => void wakes++, changed: () => {} },
    deliveries: { wake: () => {} },
    locks: createLocalLocks(),
    rateLimits: createLocalRateLimits(),
    acls: noAcls,
    faults: noFaults,
  };
  return {
    deps,
    useCases: createUseCases(deps),
    stores,
    clock,
    network,
    roles,
    directory,
    notifier,
    logger,
    wakes: () => wakes,
    setPolicy: (p) => {
      policy = p;
    },
  };
}

/** Submits a request through the use case, as `requester` (a member in no group unless set), or throws. */
export async function submit(
  app: TestApp,
  resourceId = 'prod-db',
  opts: { requester?: string; address?: string; durationMs?: number } = {},
): Promise<AccessRequest> {
  const resource = app.deps.policy().resources.find((r) => r.id === resourceId);
  const submitted = await app.useCases.submitRequest({
    actor: await app.directory.actor(opts.requester ?? REQUESTER),
    resourceId,
    durationMs: opts.durationMs ?? 30 * MINUTE,
    address: resource?.kind === 'security-group' ? (opts.address ?? '203.0.113.7') : undefined,
    reason: 'debugging slow queries',
  });
  if (!submitted.ok) throw new Error(`submit refused: ${submitted.error}`);
  return submitted.value.request;
}

/** `approverId` clicks Approve, as the directory says they are now. */
export const approve = async (app: TestApp, requestId: string, approverId: string) =>
  app.useCases.approveRequest({ requestId, actor: await app.directory.actor(approverId) });

/** The earliest time the scheduler would wake for, over every kind of due work. */
export async function earliestDue(app: TestApp): Promise<Date | undefined> {
  const times = (await app.useCases.dueWork.nextDue()).flatMap((t) => (t === undefined ? [] : [t.getTime()]));
  return times.length === 0 ? undefined : new Date(Math.min(...times));
}

/** The audit event types of one request, in order. */
export const auditTypes = async (app: TestApp, requestId: string): Promise<string[]> =>
  (await app.stores.audit.list({ requestId })).map((e) => e.type);

/** Takes every queued Slack delivery out of the outbox (marking it sent): kind, recipient and notice type. */
export async function drainOutbox(
  app: TestApp,
): Promise<{ kind: string; userId?: string; notice?: string }[]> {
  const out: { kind: string; userId?: string; notice?: string }[] = [];
  for (;;) {
    const ready = await app.stores.outbox.ready(new Date(8.64e15), 100);
    if (ready.length === 0) return out;
    for (const item of ready) {
      const notice =
        item.notice === undefined ? undefined : (JSON.parse(item.notice) as { type?: string }).type;
      out.push({
        kind: item.kind,
        ...(item.userId === undefined ? {} : { userId: item.userId }),
        ...(notice === undefined ? {} : { notice }),
      });
      await app.stores.outbox.done(item.id, app.clock.now());
    }
  }
}

/**
 * A request for `resourceId` approved by U_APP1, then U_APP2 where one vote is not enough: its grant,
 * opened (or failed) by the approval. Throws when an approval is refused.
 */
export async function approved(
  app: TestApp,
  resourceId = 'prod-db',
  opts: { requester?: string } = {},
): Promise<{ requestId: string; grantId: string }> {
  const request = await submit(app, resourceId, opts);
  for (const approver of APPROVERS) {
    const r = await approve(app, request.id, approver);
    if (!r.ok) throw new Error(`approval refused: ${r.error}`);
    if (r.value.grantId !== undefined) return { requestId: request.id, grantId: r.value.grantId };
  }
  throw new Error(`${request.id} was not approved by every approver`);
}
