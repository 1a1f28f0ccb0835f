#!/usr/bin/env node
/**
 * `npm run check` (`hallpass-check` in a production install): checks the set-up before it bites. Reads
 * `.env` and the policy exactly like `npm start`, then asks Slack (token, scopes, channels, `@groups`)
 * and AWS (credentials, identity, each security group and role, the permissions hallpass needs) and
 * prints one line per finding — ok, warning or problem, what, and which setting fixes it. Never prints a
 * secret. Changes nothing anywhere: EC2 permissions are checked with `DryRun`.
 *
 * Exit codes: 0 no problem (warnings allowed); 1 at least one problem (or the configuration is invalid).
 */
import { checkAws } from '../adapters/aws/aws-check';
import { createAwsClients } from '../adapters/aws/aws-clients';
import { checkClient, checkSlack } from '../adapters/slack/slack-check';
import { type Finding, formatFinding, ok } from '../app/check';
import { ConfigError, loadConfig } from '../config';
import { type Io, runMain } from './cli-support';

/** How long one Slack call of the check may take: an unreachable Slack is said within this. */
const SLACK_CHECK_MS = 5_000;

async function runCheck(argv: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(
      'Usage: npm run check (or hallpass-check)\n  Checks Slack and AWS against the settings (.env, HALLPASS_POLICY) and prints one line per finding.\n  Exit codes: 0 no problem, 1 a problem.\n',
    );
    return 0;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const p of error.problems) io.out(`${formatFinding({ level: 'problem', what: p })}\n`);
      return 1;
    }
    throw error;
  }
  const findings: Finding[] = [ok(`settings and policy valid (${config.policy.resources.length} resources)`)];
  const print = (fs: readonly Finding[]) => {
    for (const f of fs) io.out(`${formatFinding(f)}\n`);
  };
  print(findings);
  const slack = await checkSlack({
    client: checkClient(config.env.slackBotToken, config.env.slackApiUrl, SLACK_CHECK_MS),
    apiUrl: config.env.slackApiUrl,
    policy: config.policy,
  });
  print(slack);
  findings.push(...slack);
  if (config.env.aws === 'dry-run') {
    const dry = ok('HALLPASS_AWS=dry-run: AWS is not called, so it is not checked');
    print([dry]);
  } else {
    const aws = createAwsClients({ maxAttempts: 1, timeoutMs: config.env.awsTimeoutMs });
    try {
      const region = env['AWS_REGION'] || config.policy.resources[0]?.region || 'us-east-1';
      const found = await checkAws({ aws, policy: config.policy, region, backstop: config.env.backstop });
      print(found);
      findings.push(...found);
    } finally {
      aws.destroy();
    }
  }
  const problems = findings.filter((f) => f.level === 'problem').length;
  const warnings = findings.filter((f) => f.level === 'warning').length;
  io.out(`${problems} problem(s), ${warnings} warning(s)\n`);
  return problems === 0 ? 0 : 1;
}

// An unexpected failure is a problem too: exit 1.
runMain(runCheck, 1);
