import { IAMClient } from '@aws-sdk/client-iam';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { STSClient } from '@aws-sdk/client-sts';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { RuleTarget } from '../../app/ports';
import { EC2Client } from './ec2-sdk';

/** Options for {@link createAwsClients}. */
export type AwsClientsOptions = {
  /**
   * Attempts per call, including the first, for the SDK's own retry of throttling, 5xx and network
   * failures. Default {@link DEFAULT_MAX_ATTEMPTS}.
   */
  readonly maxAttempts?: number;
  /**
   * The region IAM is called in. IAM is global, served from its partition's primary region:
   * `us-east-1` (the default) for `aws`; `us-gov-west-1` or `cn-north-1` in the other partitions.
   */
  readonly iamRegion?: string;
  /**
   * Lifetime of hallpass's own session in another account (`assumeRoleArn`), 900 to 3600 seconds.
   * Default 3600: the most any role allows, and the most role chaining allows, should hallpass itself
   * run on a role. The SDK renews it shortly before it ends.
   */
  readonly crossAccountSessionSeconds?: number;
  /**
   * Longest one attempt of a call may take, in ms, from the request's start (waiting for a socket
   * included) to the whole answer; then it fails with `TimeoutError`, which the SDK retries like any
   * network failure. Default {@link DEFAULT_AWS_TIMEOUT_MS}. Connecting gets at most
   * {@link MAX_CONNECT_TIMEOUT_MS} of it.
   */
  readonly timeoutMs?: number;
};

/** The AWS clients hallpass uses, each built on first use and then reused. */
export type AwsClients = {
  /** The EC2 client that reaches a target's security group: its region, and its account's role if any. */
  ec2For(target: RuleTarget): EC2Client;
  /**
   * The EventBridge Scheduler client for a rule's region and account (its backstop lives there): the
   * same credentials as `ec2For` for that target.
   */
  schedulerFor(target: RuleTarget): SchedulerClient;
  /** The STS client for a region (role sessions for `aws-role` resources). */
  stsFor(region: string): STSClient;
  /** The IAM client (global). */
  readonly iam: IAMClient;
  /** Closes every client built so far (their sockets); for shutdown and tests. */
  destroy(): void;
};

/**
 * Default attempts per call. More than the SDK's 3 because throttling is the failure hallpass meets
 * most (the account's API budget is shared with every other tool in it), and a close that waits a few
 * seconds more is better than one handed back to the scheduler's slower retry.
 */
export const DEFAULT_MAX_ATTEMPTS = 5;

/**
 * Default longest attempt of one AWS call. Without a bound an endpoint that accepts and never answers
 * (a dropped connection nobody reset, a proxy that stalls) holds the call forever — and with it its
 * security group's lock and the due-work pass that closes every grant. EC2, STS, Scheduler and IAM
 * answer hallpass's calls in well under a second; 10 s is ample for a slow day, and with
 * {@link DEFAULT_MAX_ATTEMPTS} attempts one dead endpoint holds a close for about a minute at most.
 */
export const DEFAULT_AWS_TIMEOUT_MS = 10_000;
/** Longest wait for a TCP (and TLS) connection to an AWS endpoint, within the attempt's timeout. */
export const MAX_CONNECT_TIMEOUT_MS = 5_000;

/** The session name hallpass uses for its own management sessions in other accounts (CloudTrail shows it). */
export const CROSS_ACCOUNT_SESSION_NAME = 'hallpass';

const MIN_CROSS_ACCOUNT_SECONDS = 900;
const MAX_CROSS_ACCOUNT_SECONDS = 3600;

/**
 * Builds the AWS clients lazily and caches them: EC2 per region (and per role for cross-account
 * targets), STS per region, one IAM. Clients get only `region`, `maxAttempts`, `retryMode` and the
 * bound on each attempt (`timeoutMs`), so everything else comes from the SDK's standard chain:
 * credentials from the environment, profile, SSO or instance role, and endpoints from
 * `AWS_ENDPOINT_URL_EC2` / `_STS` / `_IAM` / `_SCHEDULER` (or `AWS_ENDPOINT_URL`), read when a client
 * first sends.
 *
 * Retry mode is `standard` (exponential backoff with full jitter, a longer base for throttling, capped
 * at 20 s), not `adaptive`: adaptive adds a client-side rate limiter that the SDK still calls
 * experimental, built for a high-volume caller that is itself the cause of its throttling. hallpass
 * makes a handful of calls per grant; when it is throttled the account's shared budget is the cause,
 * and a limiter on our client would then also slow unrelated calls, such as another grant's close.
 *
 * A target with `assumeRoleArn` gets its own EC2 client whose credentials come from `AssumeRole` on
 * that role (session name `hallpass`), made with the standard chain's credentials through the regional
 * STS endpoint; the SDK renews them before they expire. One client per (region, role).
 */
export function createAwsClients(options: AwsClientsOptions = {}): AwsClients {
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_AWS_TIMEOUT_MS;
  // Every client, the STS one behind a cross-account role's credentials included: the same retries,
  // and the same bound on each attempt (`throwOnRequestTimeout`: without it the SDK only logs a warning).
  const retry = {
    maxAttempts,
    retryMode: 'standard',
    requestHandler: {
      requestTimeout: timeoutMs,
      throwOnRequestTimeout: true,
      connectionTimeout: Math.min(timeoutMs, MAX_CONNECT_TIMEOUT_MS),
    },
  } as const;
  const sessionSeconds = Math.min(
    MAX_CROSS_ACCOUNT_SECONDS,
    Math.max(
      MIN_CROSS_ACCOUNT_SECONDS,
      Math.round(options.crossAccountSessionSeconds ?? MAX_CROSS_ACCOUNT_SECONDS),
    ),
  );
  const ec2Clients = new Map<string, EC2Client>();
  const stsClients = new Map<string, STSClient>();
  const schedulerClients = new Map<string, SchedulerClient>();
  let iam: IAMClient | undefined;

  /** The client options for a target: its region, and its account's role as credentials if any. */
  const configFor = (target: RuleTarget) => {
    const roleArn = target.assumeRoleArn === '' ? undefined : target.assumeRoleArn;
    // A newline cannot occur in a region or an ARN, so the key is unambiguous.
    const key = roleArn === undefined ? target.region : `${target.region}\n${roleArn}`;
    const config =
      roleArn === undefined
        ? { region: target.region, ...retry }
        : {
            region: target.region,
            ...retry,
            credentials: fromTemporaryCredentials({
              params: {
                RoleArn: roleArn,
                RoleSessionName: CROSS_ACCOUNT_SESSION_NAME,
                DurationSeconds: sessionSeconds,
              },
              clientConfig: { region: target.region, ...retry },
            }),
          };
    return { key, config };
  };

  const ec2For = (target: RuleTarget): EC2Client => {
    const { key, config } = configFor(target);
    const existing = ec2Clients.get(key);
    if (existing !== undefined) return existing;
    const client = new EC2Client(config);
    ec2Clients.set(key, client);
    return client;
  };

  const schedulerFor = (target: RuleTarget): SchedulerClient => {
    const { key, config } = configFor(target);
    const existing = schedulerClients.get(key);
    if (existing !== undefined) return existing;
    const client = new SchedulerClient(config);
    schedulerClients.set(key, client);
    return client;
  };

  const stsFor = (region: string): STSClient => {
    const existing = stsClients.get(region);
    if (existing !== undefined) return existing;
    const client = new STSClient({ region, ...retry });
    stsClients.set(region, client);
    return client;
  };

  return {
    ec2For,
    schedulerFor,
    stsFor,
    get iam() {
      iam ??= new IAMClient({ region: options.iamRegion ?? 'us-east-1', ...retry });
      return iam;
    },
    destroy() {
      for (const client of ec2Clients.values()) client.destroy();
      for (const client of stsClients.values()) client.destroy();
      for (const client of schedulerClients.values()) client.destroy();
      iam?.destroy();
      ec2Clients.clear();
      stsClients.clear();
      schedulerClients.clear();
      iam = undefined;
    },
  };
}
