/**
 * The checks of `hallpass check`, at start-up. Only two findings stop start-up, both definite and
 * fatal: Slack refusing the token (seen in the Slack app's own first `auth.test`, not asked again), and
 * no AWS credentials at all (unless `HALLPASS_AWS=dry-run`). Everything else — Slack unreachable, a
 * scope or channel or `@group` missing, a group or role not found, a check the other side does not
 * support — is logged as a warning naming the setting, and hallpass starts and keeps closing grants: an
 * extra check never stops a bot that would have worked.
 */
import { checkAws, checkAwsCredentials } from './adapters/aws/aws-check';
import type { AwsClients } from './adapters/aws/aws-clients';
import type { FirstFailure } from './adapters/slack/app';
import { checkClient, checkSlack } from './adapters/slack/slack-check';
import { type Finding, ok, StartupRefused } from './app/check';
import type { Logger } from './app/ports';
import type { Env } from './config';
import type { Policy } from './domain/policy';

/** How long one Slack call of the background checks may take. */
const STARTUP_SLACK_CHECK_MS = 5_000;

const log = (logger: Logger, f: Finding): void => {
  if (f.level === 'ok') return;
  logger.warn(
    { check: f.level, fix: f.fix },
    `start-up check: ${f.what}${f.fix === undefined ? '' : ` (fix: ${f.fix})`}`,
  );
};

/** AWS credentials found (live AWS only), or {@link StartupRefused} naming what to set; `undefined` in dry run. */
export async function requireAwsCredentials(env: Env): Promise<Finding | undefined> {
  if (env.aws === 'dry-run') return undefined;
  const found = await checkAwsCredentials();
  if (found.level !== 'problem') return found;
  throw new StartupRefused(`${found.what}. Set ${found.fix ?? 'AWS credentials'}.`);
}

/**
 * After the Slack app's first attempt: a refused token stops start-up (throws {@link StartupRefused}
 * naming the variable); Slack unreachable, or not answering within the grace, is said loudly, naming
 * `SLACK_API_URL`, and start-up goes on (the app keeps retrying in the background).
 */
export function slackVerdict(opts: {
  readonly env: Env;
  readonly logger: Logger;
  readonly failure: FirstFailure | undefined;
  readonly answered: boolean;
}): void {
  const { failure } = opts;
  if (failure?.refusal !== undefined) {
    const setting = failure.setting ?? 'SLACK_BOT_TOKEN';
    throw new StartupRefused(
      `${setting}: Slack refuses the token (${failure.refusal}). Set ${setting} to the app's ${setting === 'SLACK_APP_TOKEN' ? 'app-level token (xapp-…, Basic Information)' : 'Bot User OAuth Token (xoxb-…, OAuth & Permissions)'}; reinstall the app if it was revoked.`,
    );
  }
  if (failure !== undefined || !opts.answered) {
    const api = opts.env.slackApiUrl ?? 'https://slack.com/api/';
    opts.logger.error(
      { slackApiUrl: api, err: failure?.why ?? 'no answer yet' },
      `Slack is unreachable at ${api} (${failure?.why ?? 'no answer yet'}): check SLACK_API_URL (unset for Slack itself) and the network; hallpass starts anyway, closes grants on time, and keeps trying to reach Slack`,
    );
  }
}

/**
 * The rest of the checks, in the background (never rejects): Slack's scopes, channels and `@groups`
 * when Slack accepted the token, and AWS (identity, groups, roles — reads only) when live.
 */
export async function backgroundChecks(opts: {
  readonly env: Env;
  readonly policy: Policy;
  readonly logger: Logger;
  readonly aws: AwsClients;
  readonly slackReady: boolean;
  readonly credentials: Finding | undefined;
}): Promise<void> {
  const { env, logger } = opts;
  try {
    const slack = opts.slackReady
      ? await checkSlack({
          client: checkClient(env.slackBotToken, env.slackApiUrl, STARTUP_SLACK_CHECK_MS),
          apiUrl: env.slackApiUrl,
          policy: opts.policy,
          token: { outcome: 'valid', finding: ok('Slack token valid'), scopes: undefined },
        })
      : [];
    for (const f of slack) log(logger, f);
    if (env.aws === 'dry-run' || opts.credentials === undefined) return;
    const aws = await checkAws({
      aws: opts.aws,
      policy: opts.policy,
      region: opts.policy.resources[0]?.region ?? 'us-east-1',
      credentials: opts.credentials,
      thorough: false,
    });
    for (const f of aws) log(logger, f);
  } catch (error) {
    logger.warn(
      { err: error instanceof Error ? error.message : String(error) },
      'start-up checks could not finish',
    );
  }
}
