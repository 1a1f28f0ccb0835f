import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * API tokens of automations (scripts, CI jobs, AI agents). A token reads `hp_<id>_<secret>`: `<id>` is
 * the row's key (`tok_…` without its prefix), so a presented token is found by index and its secret
 * compared, as a SHA-256, in constant time. Only the hash is ever stored.
 */

/** What an automation is called: in Slack, in the audit record and in AWS tags (`token:<name>`). */
export const TOKEN_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** Without `--expires`: 90 days. */
export const DEFAULT_TOKEN_TTL_MS = 90 * 24 * 3_600_000;
/** The longest `--expires`: 365 days. Every token expires. */
export const MAX_TOKEN_TTL_MS = 365 * 24 * 3_600_000;
/** Without `--overlap`: the old secret of a rotated token stays valid 1 hour. */
export const DEFAULT_ROTATION_OVERLAP_MS = 3_600_000;
/** The longest `--overlap`: 7 days. */
export const MAX_ROTATION_OVERLAP_MS = 7 * 24 * 3_600_000;

/** The requester id recorded for a request made with a token: `token:<name>`, never a Slack user id. */
export const automationRequester = (tokenName: string): string => `token:${tokenName}`;

/** The token name behind a requester id, or undefined for a Slack user. */
export const automationName = (requesterId: string): string | undefined =>
  requesterId.startsWith('token:') ? requesterId.slice('token:'.length) : undefined;

/**
 * The STS `SourceIdentity` of an automation's role session (CloudTrail shows it): `automation.<name>`,
 * within STS's alphabet `[\w+=,.@-]` and 64 characters (a name is at most 40).
 */
export const automationSourceIdentity = (tokenName: string): string => `automation.${tokenName}`;

/** The secret as presented: `hp_<id>_<secret>`. */
const PRESENTED = /^hp_([A-Za-z0-9]{8,64})_([A-Za-z0-9]{20,128})$/;

/** The token id and secret of a presented bearer token, or undefined if it is not one of ours. */
export function parsePresentedToken(presented: string): { tokenId: string; secret: string } | undefined {
  const m = PRESENTED.exec(presented);
  if (m === null || m[1] === undefined || m[2] === undefined) return undefined;
  return { tokenId: `tok_${m[1]}`, secret: presented };
}

/** The full secret shown once to the admin. */
export const presentedToken = (tokenId: string, secret: string): string =>
  `hp_${tokenId.replace(/^tok_/, '')}_${secret}`;

/** Hex SHA-256 of the whole presented token: what is stored. */
export const hashToken = (presented: string): string => createHash('sha256').update(presented).digest('hex');

/** Whether `presented` hashes to `hash`, compared in constant time. */
export function tokenMatches(presented: string, hash: string | undefined): boolean {
  if (hash === undefined) return false;
  const a = Buffer.from(hashToken(presented), 'hex');
  const b = Buffer.from(hash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Who ended a grant, or cancelled a request, whose lease lapsed: hallpass, for the lease. */
export const LEASE_ACTOR = 'hallpass:lease';

/** The note a request or grant ended by a lapsed lease carries. */
export const LEASE_LAPSED_NOTE =
  'its lease lapsed: the client stopped renewing it (job ended, machine or network gone)';

/** A lease's bounds: renewals every few seconds, a lapse noticed within minutes at most. */
export const MIN_LEASE_TTL_MS = 10_000;
export const MAX_LEASE_TTL_MS = 10 * 60_000;
