import type { Grant } from '../../../domain/grant';
import { describePorts, type Resource } from '../../../domain/policy';
import { type AccessRequest, type Approval, SYSTEM_ACTOR } from '../../../domain/request';
import { LEASE_ACTOR } from '../../../domain/token';
import { mention, safeCode, safeText } from '../escape';

/**
 * Writes a policy principal (`U…` or `@handle`) so that it addresses — and may ping — them. The
 * Slack adapter can pass one that turns `@sre` into a user-group mention (`<!subteam^S…>`); its
 * output is written as is, so it must escape whatever it does not mean as a token.
 */
export type MentionPrincipal = (principal: string) => string;

/** Options shared by the message views. */
export type ViewOptions = {
  /** How to address approvers; default `plainPrincipal` (users mentioned, groups as plain `@handle`). */
  readonly mention?: MentionPrincipal | undefined;
};

/** Users as `<@U…>`, groups as the plain escaped `@handle` (no ping). */
export const plainPrincipal: MentionPrincipal = (p) => (p.startsWith('@') ? safeText(p, 60) : mention(p));

/** Policy text (descriptions) is trusted more than user text, but is still escaped and bounded. */
export const resourceDescription = (r: Resource, max = 300): string =>
  r.description === undefined || r.description.trim() === '' ? '' : safeText(r.description.trim(), max);

/** `*prod-db* — Production Postgres` */
export const resourceTitle = (r: Resource): string => {
  const d = resourceDescription(r);
  return d === '' ? `*${r.id}*` : `*${r.id}* — ${d}`;
};

/** `` `203.0.113.7/32` `` for a request with a source address; `''` otherwise. */
export const sourceText = (request: AccessRequest): string =>
  request.source === undefined ? '' : safeCode(request.source.cidr, 60);

/**
 * What the grant opens, in one plain phrase: `from 203.0.113.7/32 (tcp 5432)` for a security
 * group, `as role arn:aws:iam::…` for an AWS role.
 */
export function accessPhrase(request: AccessRequest, resource: Resource): string {
  if (resource.kind === 'aws-role') return `as role ${safeText(resource.roleArn, 300)}`;
  const from =
    request.source === undefined ? 'from an unknown address' : `from ${safeText(request.source.cidr, 60)}`;
  return `${from} (${safeText(describePorts(resource), 200)})`;
}

/** `<@A>, <@B> and 3 more` — bounded, so a long list cannot push a section over its limit. */
export function mentionList(userIds: readonly string[], max = 20): string {
  const shown = userIds.slice(0, max).map(mention);
  const more = userIds.length - shown.length;
  if (shown.length === 0) return '';
  if (more > 0) return `${shown.join(', ')} and ${more} more`;
  if (shown.length === 1) return shown[0] ?? '';
  return `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}`;
}

/** `1 of 2 approvals: <@A>` / `0 of 1 approvals` */
export function approvalsLine(approvals: readonly Approval[], needed: number): string {
  const count = `${approvals.length} of ${needed} approval${needed === 1 ? '' : 's'}`;
  return approvals.length === 0 ? count : `${count}: ${mentionList(approvals.map((a) => a.approverId))}`;
}

/**
 * Approver principals, each written by `render` (default: users as mentions, groups as plain
 * `@handle`), at most `max` of them and then "and N more".
 */
export function principalsText(
  principals: readonly string[],
  render: MentionPrincipal = plainPrincipal,
  max = 10,
): string {
  const shown = principals.slice(0, max).map(render);
  const more = principals.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}

/**
 * Why and by whom a grant ended, in a few words: `expired`, `revoked by <@U…>`,
 * `finished early by <@U…>`, `failed`. Expiry names nobody: the clock ended it.
 */
export function endWords(grant: Grant): string {
  const reason = grant.endReason ?? 'expired';
  const by =
    grant.endedBy !== undefined && grant.endedBy !== SYSTEM_ACTOR ? ` by ${mention(grant.endedBy)}` : '';
  switch (reason) {
    case 'expired':
      return 'expired';
    case 'revoked':
      // A lapsed lease (an API client that stopped renewing) is hallpass's revocation, and says so.
      return grant.endedBy === LEASE_ACTOR
        ? 'ended: its lease lapsed (the client stopped renewing it)'
        : `revoked${by}`;
    case 'done':
      return `finished early${by}`;
    case 'failed':
      return 'failed';
  }
}
