/**
 * `hallpass run <resource> <duration> --reason "…" -- <command> [args…]`: asks hallpass for a window
 * through the API, waits for approval (a progress line on stderr), runs the command with what it needs
 * in its environment only, and ends the grant the moment the command exits — success, failure, Ctrl-C.
 *
 * A lease holds the grant by default: while this process lives it renews the lease every ttl/3; if it
 * dies (kill -9, a crashed machine, a lost network) the renewals stop and hallpass ends the grant within
 * the lease's time. Exit codes: see RUN_EXIT and docs/run-and-mcp.md.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import { formatDuration, parseDuration } from '../domain/duration';
import {
  ApiClient,
  ApiError,
  type ApiRequest,
  ApiUnreachableError,
  ClientSettingError,
  type Credentials,
  clientSettingsFrom,
  isFinal,
} from './api-client';
import type { Io } from './cli-support';
import { isParseArgsError, UsageError } from './cli-support';
import { LeaseKeeper } from './lease-keeper';

/** Exit codes of `hallpass run` before or instead of the command's own. */
export const RUN_EXIT = {
  /** Bad arguments, or HALLPASS_URL / HALLPASS_TOKEN missing. */
  usage: 2,
  /** The request was denied, timed out, failed or was cancelled. */
  notGranted: 3,
  /** Still not approved when `--timeout` ran out (the request is cancelled). */
  waitTimedOut: 4,
  /** The API refused (bad or expired token, out of scope, bad input) or could not be reached. */
  apiError: 5,
  /** The grant ended before the command did (expired, revoked, lease refused): the command was stopped. */
  grantEnded: 6,
  /** The command could not be started (not found, not executable). */
  notStarted: 127,
  sigint: 130,
  sigterm: 143,
} as const;

export const RUN_USAGE = `Usage:
  hallpass run <resource> <duration> --reason "<why>" [--from <ip|cidr>] [--lease <ttl> | --no-lease]
               [--timeout <duration>] -- <command> [args…]

  Asks hallpass (HALLPASS_URL, with the API token HALLPASS_TOKEN) for <resource> for <duration>, waits
  for approval, runs <command> with the grant in its environment, and ends the grant when it exits.
    --reason    why (shown on the channel card and in the audit record); required
    --from      the address to open a security group to (ip or cidr), when the resource needs one
    --lease     the lease's time-to-live (default 30s): renewed every ttl/3 while this runs; if this
                process dies, hallpass ends the grant within the ttl
    --no-lease  no lease: the grant lasts until the command exits or <duration> runs out
    --timeout   how long to wait for approval before giving up and cancelling (default 30m)
  The command gets HALLPASS_REQUEST_ID, HALLPASS_GRANT_ID, HALLPASS_EXPIRES_AT, and
  HALLPASS_ADDRESS / HALLPASS_PROTOCOL / HALLPASS_PORTS (security group) or AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_DEFAULT_REGION (role); not HALLPASS_TOKEN.
  Exit codes: the command's own; 2 usage, 3 not granted, 4 --timeout, 5 API error, 6 grant ended first
  (the command was stopped), 127 the command could not start, 130 / 143 interrupted.`;

export const DEFAULT_LEASE_TTL = '30s';
const DEFAULT_TIMEOUT = '30m';
/** How long a command gets between SIGTERM and SIGKILL when its grant ended under it. */
const KILL_GRACE_MS = 10_000;
/** Without a lease, how often a running command's grant is looked at. */
const WATCH_INTERVAL_MS = 5_000;

type Options = {
  resource: string;
  duration: string;
  reason: string;
  from: string | undefined;
  leaseTtl: string | undefined;
  timeoutMs: number;
  command: string;
  args: string[];
};

function parse(argv: readonly string[]): Options | 'help' {
  const dash = argv.indexOf('--');
  const own = dash === -1 ? argv : argv.slice(0, dash);
  const commandLine = dash === -1 ? [] : argv.slice(dash + 1);
  const { values, positionals } = parseArgs({
    args: [...own],
    options: {
      help: { type: 'boolean', short: 'h', default: false },
      reason: { type: 'string' },
      from: { type: 'string' },
      lease: { type: 'string' },
      'no-lease': { type: 'boolean', default: false },
      timeout: { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return 'help';
  const [resource, duration, ...extra] = positionals;
  if (resource === undefined || duration === undefined)
    throw new UsageError(
      'Say what and for how long: hallpass run <resource> <duration> --reason "…" -- <command>.',
    );
  if (extra.length > 0)
    throw new UsageError(`Unexpected ${JSON.stringify(extra[0])}: put the command after \`--\`.`);
  const ms = parseDuration(duration);
  if (ms === undefined || ms === 0)
    throw new UsageError(`${JSON.stringify(duration)} is not a duration (try 15m, 1h).`);
  const reason = values.reason?.trim();
  if (reason === undefined || reason === '')
    throw new UsageError('--reason "<why>" is required: it goes on the channel card and the audit record.');
  const [command, ...args] = commandLine;
  if (command === undefined)
    throw new UsageError('No command: put it after `--` (hallpass run … -- ./remediate.sh).');
  if (values.lease !== undefined && values['no-lease'])
    throw new UsageError('--lease and --no-lease cannot both be given.');
  const lease = values['no-lease'] ? undefined : (values.lease ?? DEFAULT_LEASE_TTL);
  if (lease !== undefined) {
    const ttl = parseDuration(lease);
    if (ttl === undefined || ttl < 3_000)
      throw new UsageError(`--lease ${JSON.stringify(lease)} must be a duration of at least 3s (e.g. 30s).`);
  }
  const timeout = values.timeout ?? DEFAULT_TIMEOUT;
  const timeoutMs = parseDuration(timeout);
  if (timeoutMs === undefined || timeoutMs === 0)
    throw new UsageError(`--timeout ${JSON.stringify(timeout)} is not a duration (try 10m).`);
  return {
    resource,
    duration,
    reason,
    from: values.from?.trim() || undefined,
    leaseTtl: lease,
    timeoutMs,
    command,
    args,
  };
}

/** The environment the command gets: the parent's, without the API token, plus the grant's exports. */
export function childEnv(
  parent: NodeJS.ProcessEnv,
  request: ApiRequest,
  credentials: Credentials | undefined,
): NodeJS.ProcessEnv {
  const { HALLPASS_TOKEN: _token, ...env } = parent;
  const grant = request.grant;
  const out: NodeJS.ProcessEnv = { ...env, HALLPASS_REQUEST_ID: request.id };
  if (grant !== undefined) {
    out['HALLPASS_GRANT_ID'] = grant.id;
    out['HALLPASS_EXPIRES_AT'] = grant.expiresAt;
    if (grant.address !== undefined) out['HALLPASS_ADDRESS'] = grant.address;
    if (grant.protocol !== undefined) out['HALLPASS_PROTOCOL'] = grant.protocol;
    if (grant.ports !== undefined) out['HALLPASS_PORTS'] = grant.ports.join(',');
  }
  if (credentials !== undefined) {
    out['AWS_ACCESS_KEY_ID'] = credentials.accessKeyId;
    out['AWS_SECRET_ACCESS_KEY'] = credentials.secretAccessKey;
    out['AWS_SESSION_TOKEN'] = credentials.sessionToken;
    out['AWS_REGION'] = credentials.region;
    out['AWS_DEFAULT_REGION'] = credentials.region;
    // A profile or a web identity in the parent's environment would take precedence over the keys.
    delete out['AWS_PROFILE'];
    delete out['AWS_WEB_IDENTITY_TOKEN_FILE'];
    delete out['AWS_ROLE_ARN'];
  }
  return out;
}

const describe = (r: ApiRequest): string => {
  const why = r.message ?? r.grant?.endReason;
  return `${r.status.replace('_', ' ')}${why === undefined ? '' : `: ${why}`}`;
};

const clock = (ms: number): string => {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

/** Runs `hallpass run`; the result is the process's exit code. */
export async function runAccess(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: Io & { errIsTty?: boolean },
): Promise<number> {
  let options: Options | 'help';
  let api: ApiClient;
  try {
    options = parse(argv);
    if (options === 'help') {
      io.out(`${RUN_USAGE}\n`);
      return 0;
    }
    api = new ApiClient(clientSettingsFrom(env));
  } catch (error) {
    if (error instanceof UsageError || error instanceof ClientSettingError || isParseArgsError(error)) {
      io.err(`hallpass run: ${error.message}\n\n${RUN_USAGE}\n`);
      return RUN_EXIT.usage;
    }
    throw error;
  }
  return new Run(options, api, env, io).start();
}

/** One `hallpass run`: the request, its lease, the command, and who ends what when. */
class Run {
  private request: ApiRequest | undefined;
  private child: ChildProcess | undefined;
  private lease: LeaseKeeper | undefined;
  private watch: NodeJS.Timeout | undefined;
  private interrupted: NodeJS.Signals | undefined;
  private endedUnder: ApiRequest | undefined;
  private wake: (() => void) | undefined;
  private leaseTroubleSaid = false;
  private readonly pollMs: number;

  constructor(
    private readonly o: Options,
    private readonly api: ApiClient,
    private readonly env: NodeJS.ProcessEnv,
    private readonly io: Io & { errIsTty?: boolean },
  ) {
    const poll = Number(env['HALLPASS_POLL_INTERVAL_MS']);
    this.pollMs = Number.isFinite(poll) && poll >= 100 ? poll : 2_000;
  }

  private say(text: string): void {
    // On a terminal, over the progress line if one is showing.
    this.io.err(`${this.io.errIsTty === true ? '\r\x1b[2K' : ''}hallpass: ${text}\n`);
  }

  async start(): Promise<number> {
    const onSignal = (signal: NodeJS.Signals) => this.onSignal(signal);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      return await this.main();
    } catch (error) {
      if (error instanceof ApiUnreachableError || error instanceof ApiError) {
        this.say(error.message);
        await this.end();
        return this.interrupted === undefined ? RUN_EXIT.apiError : this.signalExit();
      }
      throw error;
    } finally {
      this.stopWatching();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }

  private async main(): Promise<number> {
    const o = this.o;
    this.request = await this.api.createRequest({
      resource: o.resource,
      duration: o.duration,
      reason: o.reason,
      ...(o.from === undefined ? {} : { from: o.from }),
      ...(o.leaseTtl === undefined ? {} : { lease: { ttl: o.leaseTtl } }),
    });
    const id = this.request.id;
    if (o.leaseTtl !== undefined) this.startLease(id, o.leaseTtl);
    if (this.interrupted !== undefined) {
      await this.end();
      return this.signalExit();
    }

    const granted = await this.waitForApproval();
    if (this.interrupted !== undefined) {
      await this.end();
      return this.signalExit();
    }
    if (granted === 'timeout') {
      this.say(`not approved within ${formatDuration(o.timeoutMs)} (--timeout): cancelling request ${id}.`);
      await this.end();
      return RUN_EXIT.waitTimedOut;
    }
    if (granted.status !== 'active') {
      this.stopWatching();
      this.say(`request ${id} for ${o.resource} was ${describe(granted)}.`);
      return RUN_EXIT.notGranted;
    }
    this.request = granted;

    let credentials: Credentials | undefined;
    if (granted.grant?.roleArn !== undefined) credentials = await this.api.credentials(id);
    const grant = granted.grant;
    this.say(
      `granted ${o.resource} until ${grant?.expiresAt ?? '?'} (grant ${grant?.id ?? '?'}${
        grant?.address === undefined
          ? ''
          : `, ${grant.address} → ${grant.protocol ?? ''} ${grant.ports?.join(',') ?? ''}`
      }); running ${o.command}`,
    );
    if (this.interrupted !== undefined) {
      await this.end();
      return this.signalExit();
    }
    const exit = await this.runChild(childEnv(this.env, granted, credentials));
    this.stopWatching();
    if (this.endedUnder !== undefined) {
      this.say(`the command was stopped because the grant ended first (${describe(this.endedUnder)}).`);
      return RUN_EXIT.grantEnded;
    }
    await this.end();
    if (this.interrupted !== undefined) return this.signalExit();
    return exit;
  }

  private startLease(id: string, ttl: string): void {
    const ttlMs = parseDuration(ttl) ?? 30_000;
    this.lease = new LeaseKeeper({
      api: this.api,
      intervalMs: Math.max(1_000, Math.floor(ttlMs / 3)),
      onLost: () => void this.checkGrant(),
      onTrouble: (_id, error) => {
        if (this.leaseTroubleSaid) return;
        this.leaseTroubleSaid = true;
        this.say(
          `could not renew the lease (${error instanceof Error ? error.message : String(error)}); still trying — if no renewal gets through within ${ttl}, hallpass ends the grant.`,
        );
      },
      onRenewed: () => {
        if (!this.leaseTroubleSaid) return;
        this.leaseTroubleSaid = false;
        this.say('the lease is being renewed again.');
      },
    });
    this.lease.add(id);
  }

  /**
   * Polls every HALLPASS_POLL_INTERVAL_MS until active or final. Progress on stderr: on a terminal one
   * line rewritten every second, otherwise a line at the start, at each change, and every 15 s.
   */
  private async waitForApproval(): Promise<ApiRequest | 'timeout'> {
    const started = Date.now();
    const tty = this.io.errIsTty === true;
    let current = this.request as ApiRequest;
    let shown: { status: string; at: number } | undefined;
    let nextPoll = started + this.pollMs;
    let troubled = false;
    const clearLine = () => {
      if (tty && shown !== undefined) this.io.err('\r\x1b[2K');
    };
    for (;;) {
      if (current.status === 'active' || isFinal(current.status) || this.interrupted !== undefined) {
        clearLine();
        return current;
      }
      const now = Date.now();
      if (now - started >= this.o.timeoutMs) {
        clearLine();
        return 'timeout';
      }
      const text = `request ${current.id} for ${this.o.resource}: ${
        current.status === 'opening' ? 'approved, opening' : 'waiting for approval'
      } (${clock(now - started)})`;
      if (tty) {
        this.io.err(`\r\x1b[2Khallpass: ${text}`);
        shown = { status: current.status, at: now };
      } else if (shown === undefined || shown.status !== current.status || now - shown.at >= 15_000) {
        this.say(text);
        shown = { status: current.status, at: now };
      }
      await this.sleep(Math.max(0, Math.min(nextPoll - Date.now(), tty ? 1_000 : this.pollMs)));
      if (this.interrupted !== undefined || Date.now() < nextPoll) continue;
      nextPoll = Date.now() + this.pollMs;
      try {
        current = await this.api.getRequest(current.id);
        this.request = current;
        if (troubled) this.say('hallpass answers again.');
        troubled = false;
      } catch (error) {
        // A refusal (token revoked, say) ends the wait; an outage only delays it, up to --timeout.
        if (!(error instanceof ApiUnreachableError || (error instanceof ApiError && error.status >= 500)))
          throw error;
        if (!troubled) this.say(`${error.message}; still waiting.`);
        troubled = true;
        shown = undefined;
      }
    }
  }

  /** Sleeps, but wakes at once on a signal. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private runChild(env: NodeJS.ProcessEnv): Promise<number> {
    return new Promise((resolve) => {
      const child = spawn(this.o.command, this.o.args, { stdio: 'inherit', env });
      this.child = child;
      child.on('error', (error) => {
        this.say(`could not start ${this.o.command}: ${error.message}`);
        resolve(RUN_EXIT.notStarted);
      });
      child.on('exit', (code, signal) => {
        this.child = undefined;
        resolve(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
      });
      this.watchGrant();
    });
  }

  /** While the command runs: notice the grant ending server-side (lease refusal, or a periodic look). */
  private watchGrant(): void {
    const expiresAt = Date.parse(this.request?.grant?.expiresAt ?? '');
    const every = this.lease === undefined ? WATCH_INTERVAL_MS : Math.max(WATCH_INTERVAL_MS, this.pollMs);
    this.watch = setInterval(() => void this.checkGrant(), every);
    if (Number.isFinite(expiresAt)) {
      // Look right after the grant's end too, so the command does not outlive it by a whole interval.
      const late = setTimeout(
        () => void this.checkGrant(),
        Math.min(Math.max(0, expiresAt - Date.now() + 500), 2 ** 31 - 1),
      );
      late.unref();
    }
  }

  private async checkGrant(): Promise<void> {
    const id = this.request?.id;
    if (id === undefined || this.child === undefined || this.endedUnder !== undefined) return;
    let now: ApiRequest;
    try {
      now = await this.api.getRequest(id);
    } catch {
      return; // the lease or the next look will tell
    }
    if (now.status === 'active' || this.child === undefined || this.endedUnder !== undefined) return;
    this.endedUnder = now;
    this.stopWatching();
    this.say(`the grant ended before the command finished (${describe(now)}): stopping ${this.o.command}.`);
    this.terminate('SIGTERM');
  }

  private terminate(signal: NodeJS.Signals): void {
    const child = this.child;
    if (child === undefined) return;
    child.kill(signal);
    const kill = setTimeout(() => {
      if (this.child === child) {
        this.say(`${this.o.command} did not stop within ${KILL_GRACE_MS / 1000}s: killing it.`);
        child.kill('SIGKILL');
      }
    }, KILL_GRACE_MS);
    kill.unref();
  }

  private onSignal(signal: NodeJS.Signals): void {
    if (this.interrupted !== undefined) {
      // A second signal: stop waiting for the command.
      this.child?.kill('SIGKILL');
      return;
    }
    this.interrupted = signal;
    this.wake?.();
    if (this.child !== undefined) {
      this.say(`${signal}: passing it to ${this.o.command} and ending the grant.`);
      this.terminate(signal);
      // End the grant now, not when the command has finished with the signal.
      void this.end();
    }
  }

  private signalExit(): number {
    return this.interrupted === 'SIGINT' ? RUN_EXIT.sigint : RUN_EXIT.sigterm;
  }

  private stopWatching(): void {
    this.lease?.stop();
    if (this.watch !== undefined) clearInterval(this.watch);
    this.watch = undefined;
  }

  private ending: Promise<void> | undefined;

  /** Ends the grant (or cancels the request) once; if that fails, says when it ends anyway. */
  private end(): Promise<void> {
    this.ending ??= this.endOnce();
    return this.ending;
  }

  private async endOnce(): Promise<void> {
    const request = this.request;
    if (request === undefined) return;
    this.stopWatching();
    try {
      const ended = await this.api.done(request.id);
      this.say(
        ended.status === 'ended' || ended.status === 'cancelled'
          ? `${ended.status === 'ended' ? 'ended grant' : 'cancelled request'} ${ended.grant?.id ?? ended.id}.`
          : `request ${ended.id} is ${describe(ended)}.`,
      );
    } catch (error) {
      const when = [
        request.grant?.expiresAt === undefined ? undefined : `at its end, ${request.grant.expiresAt}`,
        this.lease === undefined ? undefined : `when its lease runs out (within ${this.o.leaseTtl})`,
      ]
        .filter((x) => x !== undefined)
        .join(', or ');
      this.say(
        `could not end ${request.id} now (${error instanceof Error ? error.message : String(error)}); it ends anyway ${when || 'when hallpass times it out'}.`,
      );
    }
  }
}
