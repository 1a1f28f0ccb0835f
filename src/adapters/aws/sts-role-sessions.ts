import {
  DeleteRolePolicyCommand,
  GetRoleCommand,
  type GetRoleCommandOutput,
  type IAMClient,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, type AssumeRoleCommandOutput, type STSClient } from '@aws-sdk/client-sts';
import { type Clock, InfraError, type RoleSession, type RoleSessions } from '../../app/ports';
import { hasAwsErrorCode, toInfraError } from './aws-errors';

/** Session tag keys written on every role session (CloudTrail shows them next to the calls). */
export const SESSION_TAG_KEYS = {
  grantId: 'hallpass:grant-id',
  requester: 'hallpass:requester',
} as const;

/** STS refuses a session shorter than this. */
export const MIN_SESSION_SECONDS = 900;
/** IAM's default `MaxSessionDuration`, used when GetRole leaves it out. */
export const DEFAULT_MAX_SESSION_SECONDS = 3600;
/** How long a role's `MaxSessionDuration` is trusted before GetRole is asked again. */
export const MAX_SESSION_CACHE_MS = 5 * 60_000;

/** The `Sid` of the statement that cuts a session off. */
export const DENY_STATEMENT_SID = 'HallpassRevokedSession';

/** `arn:<partition>:iam::<account>:role/<optional/path/>Name`; the name is the last segment. */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;
/** RoleSessionName, SourceIdentity and IAM policy names: these characters only. */
const NAME_CHAR = /[\w+=,.@-]/;
/** Session tag values: Unicode letters, separators and digits, and `_.:/=+-@`. */
const TAG_VALUE_CHAR = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]$/u;
const MAX_TAG_VALUE_LENGTH = 256;
const MAX_NAME_LENGTH = 64;

/** Dependencies of {@link createStsRoleSessions}; clients are built in main.ts. */
export type StsRoleSessionsDeps = {
  /** The STS client for a resource's region (regional endpoints keep a session's calls in-region). */
  readonly stsFor: (region: string) => STSClient;
  /** IAM is global: one client. */
  readonly iam: IAMClient;
  /** Ages the `MaxSessionDuration` cache; the system clock when absent. */
  readonly clock?: Clock;
};

/**
 * The role name in a role ARN (the last path segment: `role/team/ProdReadOnly` → `ProdReadOnly`).
 * A malformed ARN throws a non-retryable `InfraError` (`InvalidRoleArn`): asking again cannot fix it.
 */
export function roleNameOf(roleArn: string): string {
  const name = ROLE_ARN.exec(roleArn)?.[1];
  if (name === undefined) {
    throw new InfraError(
      'InvalidRoleArn',
      false,
      `${JSON.stringify(roleArn)} is not an IAM role ARN (arn:aws:iam::123456789012:role/Name)`,
    );
  }
  return name;
}

/** Keeps only the characters STS and IAM allow in names (`[\w+=,.@-]`), dropping the rest. */
const keepNameChars = (text: string): string =>
  Array.from(text)
    .filter((ch) => NAME_CHAR.test(ch))
    .join('');

/**
 * The `RoleSessionName` for a grant: its id with every character outside `[\w+=,.@-]` dropped, cut to
 * 64 characters. Grant ids (`grt_…`) pass unchanged, so CloudTrail's session name is the grant id. Fewer
 * than two valid characters is a bug upstream and throws a non-retryable `InfraError`.
 */
export function sessionNameFor(grantId: string): string {
  const name = keepNameChars(grantId).slice(0, MAX_NAME_LENGTH);
  if (name.length < 2) {
    throw new InfraError(
      'InvalidSessionName',
      false,
      `grant id ${JSON.stringify(grantId)} leaves fewer than 2 valid characters for a RoleSessionName`,
    );
  }
  return name;
}

/**
 * The `SourceIdentity` for a requester (their email, else their Slack user id): characters outside
 * `[\w+=,.@-]` become `_`, cut to 64 characters. An ordinary email or Slack id passes unchanged. STS
 * keeps it on the session and on every session chained from it, so CloudTrail names the person. Fewer
 * than two characters throws a non-retryable `InfraError`.
 */
export function sourceIdentityFor(emailOrId: string): string {
  const identity = Array.from(emailOrId.trim(), (ch) => (NAME_CHAR.test(ch) ? ch : '_'))
    .join('')
    .slice(0, MAX_NAME_LENGTH);
  if (identity.length < 2) {
    throw new InfraError(
      'InvalidSourceIdentity',
      false,
      `requester identity ${JSON.stringify(emailOrId)} is too short for a SourceIdentity (2 to 64 characters)`,
    );
  }
  return identity;
}

/** A session tag value STS accepts: other characters become `_`, cut to 256 characters. */
export function sessionTagValue(text: string): string {
  return Array.from(text, (ch) => (TAG_VALUE_CHAR.test(ch) ? ch : '_'))
    .join('')
    .slice(0, MAX_TAG_VALUE_LENGTH);
}

/**
 * The inline policy that cuts off exactly one session: deny everything when the caller's `aws:userid`
 * is the session's `AROA…:<sessionName>`.
 *
 * Matching on `aws:userid` rather than on `aws:SourceIdentity` is deliberate: the source identity is the
 * person, so a deny on it would also cut their other, legitimate sessions of this role (another grant,
 * or access they hold outside hallpass). The role id in `aws:userid` also means a role deleted and
 * re-created under the same name is not affected. The session name contains no `*` or `?` (STS forbids
 * them), so `StringLike` matches that one value.
 */
export function denyPolicyDocument(session: Pick<RoleSession, 'assumedRoleId'>): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: DENY_STATEMENT_SID,
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { StringLike: { 'aws:userid': session.assumedRoleId } },
      },
    ],
  });
}

const systemClock: Clock = { now: () => new Date() };

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value === '' ? undefined : value;

const validDate = (value: Date | undefined): Date | undefined =>
  value instanceof Date && !Number.isNaN(value.getTime()) ? value : undefined;

/**
 * The `RoleSessions` port on STS and IAM. `AssumeRole` issues a session named after the grant, with
 * the requester as `SourceIdentity` and session tags; IAM reads the role's ceiling and attaches (and
 * later removes) the inline policy that ends a session STS cannot revoke.
 *
 * Every failure is an `InfraError` (via `toInfraError`): AccessDenied and validation errors are not
 * retryable, throttling and 5xx are (the SDK has already retried them with backoff; see aws-clients.ts).
 * Credentials never enter an error message, a `cause`, or a log line: an AssumeRole failure keeps no
 * `cause`, and a response missing a field is reported by the field's name alone.
 */
export function createStsRoleSessions(deps: StsRoleSessionsDeps): RoleSessions {
  const clock = deps.clock ?? systemClock;
  const maxSessionCache = new Map<string, { seconds: number; at: number }>();

  return {
    async maxSessionSeconds(roleArn) {
      const RoleName = roleNameOf(roleArn);
      const now = clock.now().getTime();
      const cached = maxSessionCache.get(roleArn);
      // A clock that went backwards makes the entry's age unknown: ask again rather than trust it.
      if (cached !== undefined && now >= cached.at && now - cached.at < MAX_SESSION_CACHE_MS) {
        return cached.seconds;
      }
      let out: GetRoleCommandOutput;
      try {
        out = await deps.iam.send(new GetRoleCommand({ RoleName }));
      } catch (error) {
        throw toInfraError(error, `GetRole ${RoleName}`);
      }
      const seconds = out.Role?.MaxSessionDuration ?? DEFAULT_MAX_SESSION_SECONDS;
      maxSessionCache.set(roleArn, { seconds, at: now });
      return seconds;
    },

    async start(input) {
      // Refuses a malformed ARN here, with a clearer message than STS's ValidationError.
      roleNameOf(input.roleArn);
      const RoleSessionName = sessionNameFor(input.grantId);
      const SourceIdentity = sourceIdentityFor(input.sourceIdentity);
      // STS refuses less than 900 s: a shorter grant gets the minimum, and the caller compares the
      // returned expiresAt with the grant's end to decide whether a deny policy is needed.
      const DurationSeconds = Math.max(MIN_SESSION_SECONDS, Math.ceil(input.durationSeconds));
      let out: AssumeRoleCommandOutput;
      try {
        out = await deps.stsFor(input.region).send(
          new AssumeRoleCommand({
            RoleArn: input.roleArn,
            RoleSessionName,
            SourceIdentity,
            DurationSeconds,
            Tags: [
              { Key: SESSION_TAG_KEYS.grantId, Value: sessionTagValue(input.grantId) },
              { Key: SESSION_TAG_KEYS.requester, Value: sessionTagValue(input.requesterId) },
            ],
          }),
        );
      } catch (error) {
        // The SDK keeps the raw HTTP response on some errors (`$response`: a body it could not parse),
        // and an AssumeRole body carries credentials: the cause is dropped, its code and message kept.
        const infra = toInfraError(error, `AssumeRole ${input.roleArn}`);
        throw new InfraError(infra.code, infra.retryable, infra.message);
      }
      const accessKeyId = nonEmpty(out.Credentials?.AccessKeyId);
      const secretAccessKey = nonEmpty(out.Credentials?.SecretAccessKey);
      const sessionToken = nonEmpty(out.Credentials?.SessionToken);
      const expiration = validDate(out.Credentials?.Expiration);
      const assumedRoleId = nonEmpty(out.AssumedRoleUser?.AssumedRoleId);
      if (
        accessKeyId === undefined ||
        secretAccessKey === undefined ||
        sessionToken === undefined ||
        expiration === undefined ||
        assumedRoleId === undefined
      ) {
        // Field names only: the values present are secrets.
        const missing = Object.entries({
          'Credentials.AccessKeyId': accessKeyId,
          'Credentials.SecretAccessKey': secretAccessKey,
          'Credentials.SessionToken': sessionToken,
          'Credentials.Expiration': expiration,
          'AssumedRoleUser.AssumedRoleId': assumedRoleId,
        })
          .filter(([, value]) => value === undefined)
          .map(([name]) => name);
        // Retryable: another AssumeRole issues a new session. This one's credentials never leave here,
        // so nobody can use it (and without its AssumedRoleId it could not be cut off anyway).
        throw new InfraError(
          'IncompleteAssumeRoleResponse',
          true,
          `AssumeRole ${input.roleArn} returned no ${missing.join(', ')}`,
        );
      }
      return {
        session: { sessionName: RoleSessionName, assumedRoleId, expiresAt: expiration },
        credentials: { accessKeyId, secretAccessKey, sessionToken, expiration },
      };
    },

    async denySession({ roleArn, policyName, session }) {
      const RoleName = roleNameOf(roleArn);
      try {
        // PutRolePolicy replaces a policy of the same name, so a repeated deny is a no-op.
        await deps.iam.send(
          new PutRolePolicyCommand({
            RoleName,
            PolicyName: policyName,
            PolicyDocument: denyPolicyDocument(session),
          }),
        );
      } catch (error) {
        throw toInfraError(error, `PutRolePolicy ${RoleName}/${policyName}`);
      }
    },

    async removeDeny({ roleArn, policyName }) {
      const RoleName = roleNameOf(roleArn);
      try {
        await deps.iam.send(new DeleteRolePolicyCommand({ RoleName, PolicyName: policyName }));
      } catch (error) {
        // The policy (or the whole role) is gone: what removing it wanted.
        if (hasAwsErrorCode(error, 'NoSuchEntity', 'NoSuchEntityException')) return;
        throw toInfraError(error, `DeleteRolePolicy ${RoleName}/${policyName}`);
      }
    },
  };
}
