import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Clock, Logger } from '../src/app/ports';
import { type Hallpass, startHallpass } from '../src/compose';
import { loadEnv } from '../src/config';
import { parsePolicy } from '../src/config/policy';
import type { Grant } from '../src/domain/grant';
import { type FakeEc2, type FakeEc2Call, startFakeEc2 } from '../tests/support/fake-ec2';
import { type SlackStandIn, startSlackStandIn } from '../tests/support/slack-stand-in';

export const SIGNING_SECRET = 'bench-signing-secret-0123456789abcdef';
export const BOT_TOKEN = 'xoxb-bench-token';
export const GROUP_ID = 'sg-0fedcba987654321';
export const CHANNEL = 'C0BENCH01';
export const RESOURCE_ID = 'bench-db';
/** With `approval`: a resource that waits for an approver's click, on a group of its own. */
export const APPROVAL_RESOURCE_ID = 'bench-approve';
export const APPROVAL_GROUP_ID = 'sg-0a5a5a5a5a5a5a5a5';
/** The one member of `@sre`, who approves `APPROVAL_RESOURCE_ID`. */
export const APPROVER = 'UAPPROVER1';

/**
 * Auto-approved resources, so grants open without a click; `minDuration: 1s` allows second-long grants.
 * The first is `RESOURCE_ID` on `GROUP_ID`; with `groups` > 1, `bench-db-<i>` on a group of its own each
 * (EC2 holds at most 1,000 rules per group, so thousands of grants at once live on several).
 */
function policyFor(groups: readonly string[], approval: boolean): string {
  const resource = (groupId: string, i: number) => `
  - id: ${i === 0 ? RESOURCE_ID : `${RESOURCE_ID}-${i}`}
    description: Benchmark database
    kind: security-group
    region: us-east-1
    securityGroupId: ${groupId}
    protocol: tcp
    ports: [5432]
    minDuration: 1s
    maxDuration: 1h
    maxPrefix: 32
    channel: ${CHANNEL}
    approvers: ["@sre"]
    autoApprove: true`;
  const approved = `
  - id: ${APPROVAL_RESOURCE_ID}
    description: Benchmark database behind an approval
    kind: security-group
    region: us-east-1
    securityGroupId: ${APPROVAL_GROUP_ID}
    protocol: tcp
    ports: [5432]
    minDuration: 1s
    maxDuration: 1h
    maxPrefix: 32
    channel: ${CHANNEL}
    approvers: ["@sre"]`;
  return `
admins: ["@security"]
approvalTimeout: 30m
resources:${groups.map(resource).join('')}${approval ? approved : ''}
`;
}

/** The security group of resource `i`. */
const groupOf = (i: number): string => (i === 0 ? GROUP_ID : `sg-0fedcba98760${String(i).padStart(4, '0')}`);

/**
 * Drops every line (a logger that kept lines would grow with the run and distort the memory figure),
 * counting only the closes of replica `i` into `closes[i]`.
 */
const countingCloses = (closes: number[], i: number): Logger => ({
  info: (_fields, msg) => {
    if (msg === 'grant closed') closes[i] = (closes[i] ?? 0) + 1;
  },
  warn: () => {},
  error: () => {},
});

/** A RevokeSecurityGroupIngress call as the fake EC2 received it, with its real arrival time. */
export type RevokeSeen = { readonly at: number; readonly ruleIds: readonly string[] };

/**
 * Watches the fake EC2's revoke calls as they arrive. The fake records calls without a time, so the
 * arrival is stamped by wrapping `push` on its (mutable) call list: the fake pushes a call when its
 * HTTP handler receives the request, before acting on it, which is exactly the moment wanted.
 */
export class RevokeWatch {
  readonly seen: RevokeSeen[] = [];
  private rules = 0;
  private waiters: { count: number; resolve: () => void }[] = [];

  constructor(ec2: FakeEc2) {
    const calls = ec2.calls;
    const push = calls.push.bind(calls);
    calls.push = (...items: FakeEc2Call[]): number => {
      const at = Date.now();
      for (const call of items) {
        if (call.action !== 'RevokeSecurityGroupIngress') continue;
        const ruleIds = Object.entries(call.params)
          .filter(([key]) => key.startsWith('SecurityGroupRuleId.'))
          .map(([, value]) => value);
        this.seen.push({ at, ruleIds });
        this.rules += ruleIds.length;
      }
      this.waiters = this.waiters.filter((w) => {
        if (this.rules < w.count) return true;
        w.resolve();
        return false;
      });
      return push(...items);
    };
  }

  /** Rule ids named by the revoke calls so far (one call may name several). */
  rulesSeen(): number {
    return this.rules;
  }

  /** Resolves once revoke calls have named `count` rule ids in all; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs: number): Promise<void> {
    if (this.rules >= count) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${this.rules} of ${count} rules revoked after ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Forgets what was seen (a long run drops its records between rounds). */
  reset(): void {
    this.seen.length = 0;
    this.rules = 0;
  }

  /** Real arrival time of the revoke of each rule id. */
  byRule(): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.seen) for (const id of s.ruleIds) out.set(id, s.at);
    return out;
  }
}

export type Submitted = { readonly requestId: string; readonly grantId: string };

/** The real bot (Bolt over HTTP, SQLite on a temp file or PostgreSQL, the real EC2 adapter) against the local stand-ins. */
export type BenchStack = {
  /** The first (or only) replica. */
  readonly hallpass: Hallpass;
  /** Every replica, all in this process, on one database, sharing the stand-ins (and the clock). */
  readonly replicas: readonly Hallpass[];
  readonly slack: SlackStandIn;
  readonly ec2: FakeEc2;
  readonly revokes: RevokeWatch;
  /** `POST /slack/events` of the first replica. */
  readonly url: string;
  /**
   * Asks for `durationMs` of access from `address` to resource `group` (0: `RESOURCE_ID`) through the use
   * case, on the replicas in turn; resolves once the grant is open.
   */
  submit(
    address: string,
    durationMs: number,
    options?: { userId?: string; group?: number },
  ): Promise<Submitted>;
  /** The grant of a request as it stands now (closed grants included). */
  grantOf(requestId: string): Promise<Grant | undefined>;
  /** EC2 rule id → grant id, from the `hallpass:grant-id` tag of the rules open now (every group). */
  ruleOwners(): Map<string, string>;
  /** Security groups (resources) in the policy. */
  readonly groups: number;
  /** Wakes every replica's scheduler (after the clock moved). */
  wake(): void;
  /** Resolves when no replica's scheduler is running. */
  idle(): Promise<void>;
  /** Resolves when no replica has anything in progress: scheduler, outbox deliveries, Home refreshes. */
  settle(): Promise<void>;
  /** How many grants each replica closed so far (its "grant closed" log lines). */
  closedBy(): number[];
  /** Stops the bots and the stand-ins and deletes the temporary database. */
  close(): Promise<void>;
};

export type BenchStackOptions = {
  /** Without one, hallpass runs on the system clock; with one, timers are still the real ones (only the origin of time is injected). */
  readonly clock?: Clock;
  /** `HALLPASS_DB`: a `postgres://` URL (an empty database); a SQLite file in a temporary directory without. */
  readonly db?: string;
  /** How many hallpass instances to start on the database (default 1; more need PostgreSQL). */
  readonly replicas?: number;
  /** How many security groups (one resource each) the policy has (default 1). */
  readonly groups?: number;
  /** Adds `APPROVAL_RESOURCE_ID`, which `APPROVER` approves by clicking (default none). */
  readonly approval?: boolean;
  /** How long the EC2 stand-in takes over each call, in ms (default 0). */
  readonly ec2LatencyMs?: number;
};

/**
 * Starts the stack. Replicas start one after another (the first migrates), each with its own HTTP
 * port, database pools, change-feed connection and scheduler, exactly as separate processes would
 * have — but in one process, so they share its two cores' worth of event loop with the stand-ins.
 */
export async function startBenchStack(opts: BenchStackOptions = {}): Promise<BenchStack> {
  const slack = await startSlackStandIn();
  slack.setGroups([{ id: 'S0SRE', handle: 'sre', users: [APPROVER] }]);
  const groups = Array.from({ length: opts.groups ?? 1 }, (_, i) => groupOf(i));
  const ec2 = await startFakeEc2({
    groups: opts.approval === true ? [...groups, APPROVAL_GROUP_ID] : groups,
    latencyMs: opts.ec2LatencyMs ?? 0,
  });
  const revokes = new RevokeWatch(ec2);
  const dir = mkdtempSync(path.join(tmpdir(), 'hallpass-bench-'));
  // The SDK reads the endpoint when a client sends its first request; stacks never run side by side.
  // Its warning that future releases need Node 22 is for the project, not a figure: kept out of the table.
  Object.assign(process.env, {
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_ACCESS_KEY_ID: 'AKIDBENCHEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'bench-secret-access-key',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_EC2: ec2.url,
  });
  const env = loadEnv({
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    PORT: '0',
    HALLPASS_DB: opts.db ?? path.join(dir, 'hallpass.db'),
    LOG_LEVEL: 'silent',
    ...(process.env['BENCH_RECONCILE'] === undefined
      ? {}
      : { HALLPASS_RECONCILE_INTERVAL: process.env['BENCH_RECONCILE'] }),
  });
  if (!env.ok) throw new Error(env.section.problems.join('\n'));
  const closes: number[] = [];
  const replicas: Hallpass[] = [];
  for (let i = 0; i < (opts.replicas ?? 1); i++) {
    closes.push(0);
    replicas.push(
      await startHallpass({
        env: env.value,
        policy: parsePolicy(policyFor(groups, opts.approval === true)),
        logger: countingCloses(closes, i),
        ...(opts.clock === undefined ? {} : { clock: opts.clock }),
      }),
    );
  }
  const [hallpass] = replicas;
  if (hallpass === undefined) throw new Error('a stack needs at least one replica');
  let turn = 0;

  return {
    hallpass,
    replicas,
    slack,
    ec2,
    revokes,
    url: `http://127.0.0.1:${hallpass.port}/slack/events`,
    async submit(address, durationMs, options = {}) {
      const replica = replicas[turn++ % replicas.length] ?? hallpass;
      const group = options.group ?? 0;
      const result = await replica.useCases.submitRequest({
        actor: { userId: options.userId ?? 'UBENCH0001', groups: new Set(), standing: 'member' },
        resourceId: group === 0 ? RESOURCE_ID : `${RESOURCE_ID}-${group}`,
        durationMs,
        address,
        reason: 'benchmark',
      });
      if (!result.ok) throw new Error(`request refused: ${result.error}`);
      const requestId = result.value.request.id;
      const grant = (await replica.useCases.cardOf(requestId))?.grant;
      if (grant === undefined || grant.state === 'failed') {
        throw new Error(`request ${requestId} did not open a grant (${grant?.state ?? 'none'})`);
      }
      return { requestId, grantId: grant.id };
    },
    grantOf: async (requestId) => (await hallpass.useCases.cardOf(requestId))?.grant,
    ruleOwners() {
      const out = new Map<string, string>();
      for (const groupId of groups) {
        for (const rule of ec2.rules(groupId)) {
          const grantId = rule.tags['hallpass:grant-id'];
          if (grantId !== undefined) out.set(rule.id, grantId);
        }
      }
      return out;
    },
    groups: groups.length,
    wake() {
      for (const r of replicas) r.scheduler.wake();
    },
    async idle() {
      for (const r of replicas) await r.scheduler.idle();
    },
    async settle() {
      for (const r of replicas) await r.settled();
    },
    closedBy: () => [...closes],
    async close() {
      try {
        for (const r of replicas) await r.stop();
      } finally {
        await slack.close();
        await ec2.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Runs `task` over `items` with at most `limit` in flight; results in input order. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** `count` distinct IPv4 host addresses (private 10/8 space), one /32 each. */
export function addresses(count: number, block = 0): string[] {
  return Array.from({ length: count }, (_, i) => `10.${block}.${Math.floor(i / 250)}.${(i % 250) + 1}`);
}
