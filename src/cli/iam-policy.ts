#!/usr/bin/env node
/**
 * `npm run iam-policy [-- --policy <file>] [--account <id>]`: prints the least-privilege IAM policy for
 * hallpass's own identity, computed from the policy file (src/app/iam-policy.ts) and the backstop
 * settings, so the policy in IAM is the one the code needs. Reads `.env`, `HALLPASS_POLICY`,
 * `HALLPASS_BACKSTOP_ROLE_ARN` and `HALLPASS_BACKSTOP_GROUP`.
 *
 * The account of groups without `assumeRoleArn`: `--account`, else the one the policy's role ARNs agree
 * on, else `sts:GetCallerIdentity` when credentials are at hand, else a placeholder (said on stderr).
 *
 * Exit codes: 0 printed; 2 it could not run as asked (bad flags, a policy that does not validate).
 */
import { parseArgs } from 'node:util';
import { principalOf } from '../adapters/aws/aws-check';
import { callerIdentity } from '../adapters/aws/caller-identity';
import { ACCOUNT_PLACEHOLDER, accountFromArns, iamPolicyFor } from '../app/iam-policy';
import { DEFAULT_BACKSTOP_GROUP, policyPathOf } from '../config/env';
import { readPolicy } from '../config/policy';
import { type Io, isParseArgsError, runMain, UsageError } from './cli-support';

const USAGE = `Usage:
  npm run iam-policy [-- --policy <file>] [--account <12-digit id>]
      Prints the IAM policy hallpass's identity needs for the policy file (HALLPASS_POLICY, or --policy):
      EC2 on exactly its security groups, STS and IAM on its roles, network ACL entries when a resource
      has cutConnections: nacl, Scheduler and iam:PassRole when HALLPASS_BACKSTOP_ROLE_ARN is set.
      --account is hallpass's own account (default: the account of the policy's role ARNs, or
      sts:GetCallerIdentity, or a placeholder).

A .env file is read when present.
Exit codes: 0 printed, 2 bad usage or a policy that does not validate.`;

async function run(argv: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        help: { type: 'boolean', short: 'h', default: false },
        policy: { type: 'string' },
        account: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      io.out(`${USAGE}\n`);
      return 0;
    }
    if (values.account !== undefined && !/^\d{12}$/.test(values.account))
      throw new UsageError('--account must be a 12-digit AWS account id.');
    const path = values.policy ?? policyPathOf(env);
    const read = readPolicy(path);
    if (!read.ok) throw new UsageError(`${path}: ${read.section.problems.join('; ')}`);
    const roleArn = env['HALLPASS_BACKSTOP_ROLE_ARN']?.trim() || undefined;
    const backstop =
      roleArn === undefined
        ? undefined
        : { roleArn, group: env['HALLPASS_BACKSTOP_GROUP']?.trim() || DEFAULT_BACKSTOP_GROUP };
    let account = values.account ?? accountFromArns(read.value, roleArn);
    let self: string | undefined;
    try {
      const caller = await callerIdentity(env['AWS_REGION'] || 'us-east-1', 5_000);
      account ??= caller.account;
      self = principalOf(caller.arn);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      if (account === undefined) {
        io.err(
          `note: the account id is not known (${why}): ${ACCOUNT_PLACEHOLDER} stands for it; give --account <id>.\n`,
        );
        account = ACCOUNT_PLACEHOLDER;
      }
      io.err(
        `note: hallpass's own identity is not known (${why}): iam:SimulatePrincipalPolicy on itself, which lets \`hallpass check\` check the STS and IAM permissions, is left out.\n`,
      );
    }
    const others = read.value.resources.flatMap((r) =>
      r.kind === 'security-group' && r.assumeRoleArn !== undefined ? [r.assumeRoleArn] : [],
    );
    if (others.length > 0) {
      io.err(
        `note: the EC2 statements for groups in other accounts take effect on their assumeRoleArn roles (${[...new Set(others)].join(', ')}): attach this policy there too.\n`,
      );
    }
    io.out(`${JSON.stringify(iamPolicyFor({ policy: read.value, account, backstop, self }), null, 2)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError || isParseArgsError(e)) {
      io.err(`hallpass iam-policy: ${e.message}\nRun \`npm run iam-policy -- --help\` for usage.\n`);
      return 2;
    }
    io.err(`hallpass iam-policy failed: ${e instanceof Error ? e.message : String(e)}\n`);
    return 3;
  }
}

runMain(run);
