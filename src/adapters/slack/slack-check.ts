import { ErrorCode, LogLevel, WebClient } from '@slack/web-api';
import { couldNotCheck, type Finding, ok, problem, warning } from '../../app/check';
import type { Policy } from '../../domain/policy';

/**
 * The bot scopes hallpass asks for: those of `manifest.yml` (a test keeps the two equal). A missing one
 * is a problem: the features it serves fail.
 */
export const REQUIRED_SCOPES = [
  'commands',
  'chat:write',
  'chat:write.public',
  'usergroups:read',
  'users:read',
  'users:read.email',
  'im:write',
  'files:write',
] as const;

/** Slack's answers to `auth.test` that mean the token itself is refused: nothing will work with it. */
export const TOKEN_REFUSED: ReadonlySet<string> = new Set([
  'invalid_auth',
  'not_authed',
  'token_revoked',
  'token_expired',
  'account_inactive',
]);

/** Answers that mean this stand-in or workspace does not offer the method: a check that cannot be made. */
const UNSUPPORTED: ReadonlySet<string> = new Set([
  'unknown_method',
  'not_allowed_token_type',
  'method_deprecated',
]);

const field = (value: unknown, key: string): unknown =>
  typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined;

/** How a WebClient call failed: Slack's platform error, an HTTP status, or unreachable. */
type SlackFailure =
  | { readonly kind: 'platform'; readonly error: string }
  | { readonly kind: 'http'; readonly status: number }
  | { readonly kind: 'unreachable'; readonly why: string };

function failureOf(error: unknown): SlackFailure {
  const code = field(error, 'code');
  if (code === ErrorCode.PlatformError)
    return { kind: 'platform', error: String(field(field(error, 'data'), 'error') ?? 'unknown_error') };
  if (code === ErrorCode.HTTPError) return { kind: 'http', status: Number(field(error, 'statusCode')) };
  if (code === ErrorCode.RateLimitedError) return { kind: 'http', status: 429 };
  const message = error instanceof Error ? error.message : String(error);
  return { kind: 'unreachable', why: message.split('\n')[0] ?? message };
}

const describeFailure = (f: SlackFailure): string =>
  f.kind === 'platform'
    ? `Slack answered ${f.error}`
    : f.kind === 'http'
      ? `Slack answered HTTP ${f.status}`
      : f.why;

/** Where the Slack Web API is, for messages (`SLACK_API_URL` or Slack's own). */
const apiOf = (apiUrl: string | undefined): string => apiUrl ?? 'https://slack.com/api/';

/** The token check alone: what start-up needs before anything else. */
export type TokenCheck =
  | { readonly outcome: 'valid'; readonly finding: Finding; readonly scopes: readonly string[] | undefined }
  | { readonly outcome: 'refused'; readonly finding: Finding }
  | { readonly outcome: 'unreachable' | 'unknown'; readonly finding: Finding };

/** `auth.test`: the token valid, and the scopes Slack reports it has (`x-oauth-scopes`). */
export async function checkSlackToken(client: WebClient, apiUrl: string | undefined): Promise<TokenCheck> {
  try {
    const res = await client.auth.test();
    const scopes = field(res.response_metadata, 'scopes');
    return {
      outcome: 'valid',
      finding: ok(
        `Slack token valid: bot ${String(res.user ?? res.user_id ?? '?')} in workspace ${String(res.team ?? res.team_id ?? '?')}`,
      ),
      scopes: Array.isArray(scopes) ? scopes.map(String) : undefined,
    };
  } catch (error) {
    const f = failureOf(error);
    if (f.kind === 'platform' && TOKEN_REFUSED.has(f.error)) {
      return {
        outcome: 'refused',
        finding: problem(
          `Slack refuses the bot token (${f.error})`,
          'SLACK_BOT_TOKEN: the Bot User OAuth Token (xoxb-…) of the installed app (OAuth & Permissions); reinstall the app if it was revoked',
        ),
      };
    }
    if (f.kind === 'unreachable' || (f.kind === 'http' && f.status >= 500)) {
      return {
        outcome: 'unreachable',
        finding: problem(
          `Slack is unreachable at ${apiOf(apiUrl)} (${describeFailure(f)})`,
          'SLACK_API_URL (unset for Slack itself), or the network, proxy or firewall between hallpass and Slack',
        ),
      };
    }
    return {
      outcome: 'unknown',
      finding: couldNotCheck('the Slack token', describeFailure(f), 'SLACK_BOT_TOKEN, SLACK_API_URL'),
    };
  }
}

/** The scopes granted, against those `manifest.yml` asks for. */
export function checkScopes(scopes: readonly string[] | undefined): Finding {
  if (scopes === undefined) return couldNotCheck('the scopes', 'Slack sent no x-oauth-scopes header');
  const missing = REQUIRED_SCOPES.filter((s) => !scopes.includes(s));
  return missing.length === 0
    ? ok(`every scope is granted (${REQUIRED_SCOPES.join(', ')})`)
    : problem(
        `scopes not granted: ${missing.join(', ')}`,
        'the Slack app: add them under OAuth & Permissions → Bot Token Scopes (or recreate it from manifest.yml) and reinstall it',
      );
}

/** The channels the policy names (each resource's and the audit channel), with who names them. */
function channelsOf(policy: Policy): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (channel: string, by: string) => out.set(channel, [...(out.get(channel) ?? []), by]);
  for (const r of policy.resources) add(r.channel, `resources ${r.id}`);
  if (policy.auditChannel !== undefined) add(policy.auditChannel, 'auditChannel');
  return out;
}

/** The `@handles` the policy names, with where. */
function handlesOf(policy: Policy): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (who: readonly string[] | undefined, where: string) => {
    for (const p of who ?? []) {
      if (p.startsWith('@')) out.set(p.slice(1), [...(out.get(p.slice(1)) ?? []), where]);
    }
  };
  add(policy.admins, 'admins');
  for (const r of policy.resources) {
    add(r.requesters, `resources ${r.id} requesters`);
    add(r.approvers, `resources ${r.id} approvers`);
  }
  return out;
}

/** The scopes a Web API answer reports (`x-oauth-scopes`, on every answer), when it does. */
const scopesOf = (res: unknown): readonly string[] | undefined => {
  const scopes = field(field(res, 'response_metadata'), 'scopes');
  return Array.isArray(scopes) ? scopes.map(String) : undefined;
};

/** Keeps the first scopes any answer reported. */
type ScopeSeen = { scopes: readonly string[] | undefined };

async function checkChannel(
  client: WebClient,
  channel: string,
  by: readonly string[],
  publicScope: boolean,
  seen: ScopeSeen,
): Promise<Finding> {
  const where = `channel ${channel} (${by.join(', ')})`;
  const fix = `the channel id in HALLPASS_POLICY (${by.join(', ')}), or invite the bot with /invite @hallpass in that channel`;
  try {
    const res = await client.conversations.info({ channel });
    seen.scopes ??= scopesOf(res);
    const info = field(res, 'channel');
    const name = String(field(info, 'name') ?? channel);
    const isPrivate = field(info, 'is_private') === true || field(info, 'is_group') === true;
    const isMember = field(info, 'is_member') === true;
    if (field(info, 'is_archived') === true) return problem(`${where} #${name} is archived`, fix);
    if (isMember) return ok(`${where}: #${name}, the bot is in it`);
    if (isPrivate) return problem(`${where}: #${name} is private and the bot is not in it`, fix);
    return publicScope
      ? ok(`${where}: #${name}, public (the bot posts with chat:write.public)`)
      : warning(`${where}: #${name}, the bot is not in it and lacks chat:write.public`, fix);
  } catch (error) {
    const f = failureOf(error);
    if (f.kind === 'platform' && f.error === 'channel_not_found')
      return problem(`${where}: not found, or private and the bot is not in it`, fix);
    if (f.kind === 'platform' && UNSUPPORTED.has(f.error)) return couldNotCheck(where, describeFailure(f));
    if (f.kind === 'platform' && f.error === 'missing_scope')
      return couldNotCheck(where, 'the token lacks channels:read / groups:read (not needed otherwise)');
    return couldNotCheck(where, describeFailure(f));
  }
}

const PAID_PLAN =
  'user groups (@handles) need a paid Slack plan; on a free workspace list people by user id (U…) instead';

async function checkGroups(
  client: WebClient,
  handles: Map<string, string[]>,
  seen: ScopeSeen,
): Promise<Finding[]> {
  if (handles.size === 0) return [ok('the policy names no @group')];
  let known: Set<string>;
  try {
    const res = await client.usergroups.list({ include_disabled: false });
    seen.scopes ??= scopesOf(res);
    const groups = field(res, 'usergroups');
    known = new Set(
      (Array.isArray(groups) ? groups : [])
        .map((g) => String(field(g, 'handle') ?? ''))
        .filter((h) => h !== ''),
    );
  } catch (error) {
    const f = failureOf(error);
    const all = [...handles.keys()].map((h) => `@${h}`).join(', ');
    if (f.kind === 'platform' && f.error === 'paid_teams_only')
      return [
        problem(
          `${PAID_PLAN} (the policy names ${all})`,
          'HALLPASS_POLICY: replace each @handle with the user ids of its members (profile → ⋮ → Copy member ID)',
        ),
      ];
    if (f.kind === 'platform' && f.error === 'missing_scope')
      return [
        problem(
          `cannot read user groups (${all}): usergroups:read is not granted`,
          'the Slack app: add the scope usergroups:read and reinstall it',
        ),
      ];
    return [couldNotCheck(`the user groups ${all}`, describeFailure(f))];
  }
  return [...handles].map(([handle, where]) =>
    known.has(handle)
      ? ok(`@${handle} is a user group (${where.join(', ')})`)
      : problem(
          `@${handle} is not a user group of this workspace (${where.join(', ')})`,
          `HALLPASS_POLICY: the handle @${handle} (${where.join(', ')}), as Slack shows it, or user ids (U…) instead`,
        ),
  );
}

/**
 * Every Slack finding: the token, the scopes, each channel of the policy, each `@group`. Never throws;
 * what cannot be checked (an unknown method, a stand-in that does not answer) is a warning saying why.
 * Stops after the token when Slack refuses it or cannot be reached.
 */
export async function checkSlack(opts: {
  readonly client: WebClient;
  readonly apiUrl: string | undefined;
  readonly policy: Policy;
  /** The token check already made (start-up makes it first); made here when absent. */
  readonly token?: TokenCheck;
}): Promise<Finding[]> {
  const token = opts.token ?? (await checkSlackToken(opts.client, opts.apiUrl));
  if (token.outcome !== 'valid') return [token.finding];
  // Start-up does not call auth.test again (Bolt did): the scopes come from the answers below.
  const seen: ScopeSeen = { scopes: token.scopes };
  const publicScope = token.scopes === undefined || token.scopes.includes('chat:write.public');
  const rest: Finding[] = [];
  for (const [channel, by] of channelsOf(opts.policy))
    rest.push(await checkChannel(opts.client, channel, by, publicScope, seen));
  rest.push(...(await checkGroups(opts.client, handlesOf(opts.policy), seen)));
  return [token.finding, checkScopes(seen.scopes), ...rest];
}

/** The WebClient's own log lines would interleave with the findings: each failure is a finding already. */
const QUIET = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => LogLevel.ERROR,
  setName: () => {},
};

/** A Web API client for the checks: one attempt, bounded in time, never the 30-minute default retry. */
export const checkClient = (token: string, apiUrl: string | undefined, timeoutMs: number): WebClient =>
  new WebClient(token, {
    ...(apiUrl === undefined ? {} : { slackApiUrl: apiUrl }),
    timeout: timeoutMs,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logger: QUIET,
  });
