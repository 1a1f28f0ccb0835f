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
const BOT_TOKEN = 'xoxb-bench-token';
export const GROUP_ID = 'sg-0fedcba987654321';
export const CHANNEL = 'C0BENCH01';
export const RESOURCE_ID = 'bench-db';

/** One auto-approved resource, so grants open without a click; `minDuration: 1s` allows second-long grants. */
const POLICY = `
admins: ["@security"]
approvalTimeout: 30m
resources:
  - id: ${RESOURCE_ID}
    description: Benchmark database
    kind: security-group
    region: us-east-1
    securityGroupId: ${GROUP_ID}
    protocol: tcp
    ports: [5432]
    minDuration: 1s
    maxDuration: 1h
    maxPrefix: 32
    channel: ${CHANNEL}
    approvers: ["@sre"]
    autoApprove: true
`;

/** Drops every line: a logger that kept lines would grow with the run and distort the memory figure. */
const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

/** A RevokeSecurityGroupIngress call as the fake EC2 received it, with its real arrival time. */
export type RevokeSeen = { readonly at: number; readonly ruleIds: readonly string[] };

/**
 * Watches the fake EC2's revoke calls as they arrive. The fake records calls without a time, so the
 * arrival is stamped by wrapping `push` on its (mutable) call list: the fake pushes a call when its
 * HTTP handler receives the request, before acting on it, which is exactly the moment wanted.
 */
export class RevokeWatch {
  readonly seen: RevokeSeen[] = [];
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
      }
      this.waiters = this.waiters.filter((w) => {
        if (this.seen.length < w.count) return true;
        w.resolve();
        return false;
      });
      return push(...items);
    };
  }

  /** Resolves once `count` revoke calls have arrived in all; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs: number): Promise<void> {
    if (this.seen.length >= count) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${this.seen.length} of ${count} revokes after ${timeoutMs} ms`)),
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

  /** Real arrival time of the revoke of each rule id. */
  byRule(): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.seen) for (const id of s.ruleIds) out.set(id, s.at);
    return out;
  }
}

export type Submitted = { readonly requestId: string; readonly grantId: string };

/** The real bot (Bolt over HTTP, SQLite on a temp file, the real EC2 adapter) against the local stand-ins. */
export type BenchStack = {
  readonly hallpass: Hallpass;
  readonly slack: SlackStandIn;
  readonly ec2: FakeEc2;
  readonly revokes: RevokeWatch;
  /** `POST /slack/events` of the running bot. */
  readonly url: string;
  /** Asks for `durationMs` of access from `address` through the use case; resolves once the grant is open. */
  submit(address: string, durationMs: number, userId?: string): Promise<Submitted>;
  /** The grant of a request as it stands now (closed grants included). */
  grantOf(requestId: string): Promise<Grant | undefined>;
  /** EC2 rule id → grant id, from the `hallpass:grant-id` tag of the rules open now. */
  ruleOwners(): Map<string, string>;
  /** Stops the bot and the stand-ins and deletes the temporary database. */
  close(): Promise<void>;
};

/**
 * Starts the stack. Without `clock`, hallpass runs on the system clock and timers, exactly as in
 * production; with one, timers are still the real ones (only the origin of time is injected).
 */
export async function startBenchStack(opts: { clock?: Clock } = {}): Promise<BenchStack> {
  const slack = await startSlackStandIn();
  slack.setGroups([{ id: 'S0SRE', handle: 'sre', users: ['UAPPROVER1'] }]);
  const ec2 = await startFakeEc2({ groups: [GROUP_ID] });
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
    HALLPASS_DB: path.join(dir, 'hallpass.db'),
    LOG_LEVEL: 'silent',
  });
  if (!env.ok) throw new Error(env.section.problems.join('\n'));
  const hallpass = await startHallpass({
    env: env.value,
    policy: parsePolicy(POLICY),
    logger: silentLogger,
    ...(opts.clock === undefined ? {} : { clock: opts.clock }),
  });

  return {
    hallpass,
    slack,
    ec2,
    revokes,
    url: `http://127.0.0.1:${hallpass.port}/slack/events`,
    async submit(address, durationMs, userId = 'UBENCH0001') {
      const result = await hallpass.useCases.submitRequest({
        actor: { userId, groups: new Set(), standing: 'member' },
        resourceId: RESOURCE_ID,
        durationMs,
        address,
        reason: 'benchmark',
      });
      if (!result.ok) throw new Error(`request refused: ${result.error}`);
      const requestId = result.value.request.id;
      const grant = (await hallpass.useCases.cardOf(requestId))?.grant;
      if (grant === undefined || grant.state === 'failed') {
        throw new Error(`request ${requestId} did not open a grant (${grant?.state ?? 'none'})`);
      }
      return { requestId, grantId: grant.id };
    },
    grantOf: async (requestId) => (await hallpass.useCases.cardOf(requestId))?.grant,
    ruleOwners() {
      const out = new Map<string, string>();
      for (const rule of ec2.rules(GROUP_ID)) {
        const grantId = rule.tags['hallpass:grant-id'];
        if (grantId !== undefined) out.set(rule.id, grantId);
      }
      return out;
    },
    async close() {
      try {
        await hallpass.stop();
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
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** `count` distinct IPv4 host addresses (private 10/8 space), one /32 each. */
export function addresses(count: number, block = 0): string[] {
  return Array.from({ length: count }, (_, i) => `10.${block}.${Math.floor(i / 250)}.${(i % 250) + 1}`);
}
