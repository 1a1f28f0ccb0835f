import {
  DeleteRolePolicyCommand,
  GetRoleCommand,
  type GetRoleCommandOutput,
  GetRolePolicyCommand,
  type GetRolePolicyCommandOutput,
  type IAMClient,
  ListRolePoliciesCommand,
  type ListRolePoliciesCommandOutput,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, type AssumeRoleCommandOutput, type STSClient } from '@aws-sdk/client-sts';
import { InfraError } from '../../app/infra-error';
import type { Clock, RoleSessions } from '../../app/ports';
import { REVOKED_SESSIONS_POLICY } from '../../app/role-revocation';
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
/** How long a role's `MaxSessionDuration` and `RoleId` are trusted before GetRole is asked again. */
export const MAX_SESSION_CACHE_MS = 5 * 60_000;

/** The `Sid` of the statement that cuts the revoked sessions off. */
export const DENY_STATEMENT_SID = 'HallpassRevokedSessions';

/**
 * IAM's limit on one role's inline policies, all of them together, in characters (whitespace not
 * counted). Its `LimitExceeded` message calls them bytes.
 */
export const INLINE_POLICY_BUDGET = 10_240;

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
      'invalid',
      false,
      `${JSON.stringify(roleArn)} is not an IAM role ARN (arn:aws:iam::123456789012:role/Name)`,
      { providerCode: 'InvalidRoleArn' },
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
      'invalid',
      false,
      `grant id ${JSON.stringify(grantId)} leaves fewer than 2 valid characters for a RoleSessionName`,
      { providerCode: 'InvalidSessionName' },
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
      'invalid',
      false,
      `requester identity ${JSON.stringify(emailOrId)} is too short for a SourceIdentity (2 to 64 characters)`,
      { providerCode: 'InvalidSourceIdentity' },
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
 * The role's one revoked-sessions policy: deny everything when the caller's `aws:userid` is one of the
 * listed sessions' `AROA…:<sessionName>`. The ids are de-duplicated and sorted, so the same set of
 * sessions always gives the same document. No whitespace: its length is what IAM counts.
 *
 * Matching on `aws:userid` rather than on `aws:SourceIdentity` is deliberate: the source identity is the
 * person, so a deny on it would also cut their other, legitimate sessions of this role (another grant,
 * or access they hold outside hallpass). The role id in `aws:userid` also means a role deleted and
 * re-created under the same name is not affected. Session names and role ids contain no `*` or `?` (STS
 * and IAM forbid them), so each `StringLike` value matches that one session.
 */
export function revokedSessionsPolicyDocument(assumedRoleIds: readonly string[]): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: DENY_STATEMENT_SID,
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { StringLike: { 'aws:userid': [...new Set(assumedRoleIds)].sort() } },
      },
    ],
  });
}

const UTF8 = new TextEncoder();

/**
 * What a policy document takes of a role's inline-policy budget, counted so that it is never less than
 * IAM's count: every character except whitespace *outside* JSON strings (IAM says it does not count
 * whitespace; whether it counts spaces inside a string value is not documented, so they are counted),
 * each by its UTF-8 length in bytes (IAM's own error message speaks of bytes; for ASCII, the usual
 * case, characters and bytes are the same). `document` is the JSON text, already URL-decoded.
 */
export function policyBudgetChars(document: string): number {
  let count = 0;
  let inString = false;
  let escaped = false;
  for (const ch of document) {
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === '"') inString = false;
    } else if (ch === '"') {
      inString = true;
    } else if (/\s/.test(ch)) {
      continue;
    }
    count += UTF8.encode(ch).length;
  }
  return count;
}

/** IAM returns policy documents URL-encoded (RFC 3986); a document that does not decode is counted as given. */
function decodePolicyDocument(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}

const systemClock: Clock = { now: () => new Date() };

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value === '' ? undefined : value;

const validDate = (value: Date | undefined): Date | undefined =>
  value instanceof Date && !Number.isNaN(value.getTime()) ? value : undefined;

/**
 * The `RoleSessions` port on STS and IAM. `AssumeRole` issues a session named after the grant, with
 * the requester as `SourceIdentity` and session tags; IAM reads the role's ceiling and id, measures its
 * inline-policy budget, and writes the one policy per role that lists the sessions STS cannot revoke.
 *
 * Every failure is an `InfraError` (via `toInfraError`): AccessDenied and validation errors are not
 * retryable, throttling and 5xx are (the SDK has already retried them with backoff; see aws-clients.ts).
 * Credentials never enter an error message, a `cause`, or a log line: an AssumeRole failure keeps no
 * `cause`, and a response missing a field is reported by the field's name alone.
 */
export function createStsRoleSessions(deps: StsRoleSessionsDeps): RoleSessions {
  const clock = deps.clock ?? systemClock;
  const roleCache = new Map<string, { seconds: number; roleId: string | undefined; at: number }>();

  /** GetRole, cached per role for {@link MAX_SESSION_CACHE_MS}; a failure is not cached. */
  const describeRole = async (roleArn: string): Promise<{ seconds: number; roleId: string | undefined }> => {
    const RoleName = roleNameOf(roleArn);
    const now = clock.now().getTime();
    const cached = roleCache.get(roleArn);
    // A clock that went backwards makes the entry's age unknown: ask again rather than trust it.
    if (cached !== undefined && now >= cached.at && now - cached.at < MAX_SESSION_CACHE_MS) {
      return cached;
    }
    let out: GetRoleCommandOutput;
    try {
      out = await deps.iam.send(new GetRoleCommand({ RoleName }));
    } catch (error) {
      throw toInfraError(error, `GetRole ${RoleName}`);
    }
    const entry = {
      seconds: out.Role?.MaxSessionDuration ?? DEFAULT_MAX_SESSION_SECONDS,
      roleId: nonEmpty(out.Role?.RoleId),
      at: now,
    };
    roleCache.set(roleArn, entry);
    return entry;
  };

  /** Every inline policy name of the role (ListRolePolicies, all pages). */
  const listInlinePolicies = async (RoleName: string): Promise<string[]> => {
    const names: string[] = [];
    let Marker: string | undefined;
    do {
      let out: ListRolePoliciesCommandOutput;
      try {
        out = await deps.iam.send(
          new ListRolePoliciesCommand({ RoleName, ...(Marker === undefined ? {} : { Marker }) }),
        );
      } catch (error) {
        throw toInfraError(error, `ListRolePolicies ${RoleName}`);
      }
      names.push(...(out.PolicyNames ?? []));
      Marker = out.IsTruncated === true ? nonEmpty(out.Marker) : undefined;
    } while (Marker !== undefined);
    return names;
  };

  /** The URL-decoded document of one inline policy; `undefined` when it was deleted meanwhile. */
  const inlinePolicyDocument = async (RoleName: string, PolicyName: string): Promise<string | undefined> => {
    let out: GetRolePolicyCommandOutput;
    try {
      out = await deps.iam.send(new GetRolePolicyCommand({ RoleName, PolicyName }));
    } catch (error) {
      if (hasAwsErrorCode(error, 'NoSuchEntity', 'NoSuchEntityException')) return undefined;
      throw toInfraError(error, `GetRolePolicy ${RoleName}/${PolicyName}`);
    }
    return decodePolicyDocument(out.PolicyDocument ?? '');
  };

  return {
    async maxSessionSeconds(roleArn) {
      return (await describeRole(roleArn)).seconds;
    },

    async sessionUserId({ roleArn, grantId }) {
      const { roleId } = await describeRole(roleArn);
      if (roleId === undefined) {
        throw new InfraError('unavailable', true, `GetRole ${roleNameOf(roleArn)} returned no Role.RoleId`, {
          providerCode: 'IncompleteGetRoleResponse',
        });
      }
      return `${roleId}:${sessionNameFor(grantId)}`;
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
        // and an AssumeRole body carries credentials: the cause is dropped, all else kept.
        throw toInfraError(error, `AssumeRole ${input.roleArn}`).withoutCause();
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
          'unavailable',
          true,
          `AssumeRole ${input.roleArn} returned no ${missing.join(', ')}`,
          { providerCode: 'IncompleteAssumeRoleResponse' },
        );
      }
      return {
        session: { sessionName: RoleSessionName, assumedRoleId, expiresAt: expiration },
        credentials: { accessKeyId, secretAccessKey, sessionToken, expiration },
      };
    },

    async revocationRoom({ roleArn, assumedRoleIds }) {
      const RoleName = roleNameOf(roleArn);
      let usedByOthers = 0;
      // One GetRolePolicy per other inline policy: roles carry few, and the budget must be read fresh
      // (an operator may have added one since), so nothing here is cached.
      for (const name of await listInlinePolicies(RoleName)) {
        if (name === REVOKED_SESSIONS_POLICY) continue;
        const document = await inlinePolicyDocument(RoleName, name);
        if (document !== undefined) usedByOthers += policyBudgetChars(document);
      }
      const needed =
        assumedRoleIds.length === 0 ? 0 : policyBudgetChars(revokedSessionsPolicyDocument(assumedRoleIds));
      return { limit: INLINE_POLICY_BUDGET, usedByOthers, needed };
    },

    async writeRevokedSessions({ roleArn, assumedRoleIds }) {
      const RoleName = roleNameOf(roleArn);
      const PolicyName = REVOKED_SESSIONS_POLICY;
      if (assumedRoleIds.length === 0) {
        try {
          await deps.iam.send(new DeleteRolePolicyCommand({ RoleName, PolicyName }));
        } catch (error) {
          // The policy (or the whole role) is gone: what an empty list wanted.
          if (hasAwsErrorCode(error, 'NoSuchEntity', 'NoSuchEntityException')) return;
          throw toInfraError(error, `DeleteRolePolicy ${RoleName}/${PolicyName}`);
        }
        return;
      }
      const PolicyDocument = revokedSessionsPolicyDocument(assumedRoleIds);
      const listed = new Set(assumedRoleIds).size;
      try {
        // PutRolePolicy replaces the policy of the same name whole, so a repeated write is a no-op.
        await deps.iam.send(new PutRolePolicyCommand({ RoleName, PolicyName, PolicyDocument }));
      } catch (error) {
        if (hasAwsErrorCode(error, 'LimitExceeded', 'LimitExceededException')) {
          // Asking again changes nothing until other inline policies shrink or listed sessions expire.
          throw new InfraError(
            'limit-exceeded',
            false,
            `PutRolePolicy ${RoleName}/${PolicyName} failed: LimitExceeded: the role's inline policies ` +
              `would pass IAM's ${INLINE_POLICY_BUDGET.toLocaleString('en-US')} characters with this list ` +
              `of ${listed} revoked session${listed === 1 ? '' : 's'} (${policyBudgetChars(PolicyDocument)} ` +
              `characters); other inline policies on the role must shrink or move into managed policies`,
            { providerCode: 'LimitExceeded', subject: 'role', cause: error },
          );
        }
        throw toInfraError(error, `PutRolePolicy ${RoleName}/${PolicyName}`);
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
