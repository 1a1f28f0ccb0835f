import type { TokenError } from '../../../../../app/api-tokens';
import type { ApiToken } from '../../../../../app/ports';
import { formatDuration } from '../../../../../domain/duration';
import { DEFAULT_ROTATION_OVERLAP_MS } from '../../../../../domain/token';
import { isoUtc, safeCode } from '../../../escape';
import { whyNotAdmin } from './standing';
import type { Subcommand } from './subcommand';

/** A token refusal in one sentence. */
function tokenErrorText(e: TokenError): string {
  switch (e.error) {
    case 'NOT_ADMIN':
      return 'Only hallpass admins (the policy’s `admins`) manage API tokens.';
    case 'TOKEN_UNKNOWN_RESOURCES':
      return `The policy has no resource ${e.detail.resourceIds.map((r) => safeCode(r, 64)).join(', ')}: a token may only name resources the policy describes (\`/access resources\`).`;
    case 'TOKEN_NAME_TAKEN':
      return `A token named ${safeCode(e.detail.name, 60)} exists already: revoke it first, or pick another name.`;
    case 'UNKNOWN_TOKEN':
      return `There is no live token named ${safeCode(e.detail.name, 60)} (\`/access token list\` shows them).`;
    case 'TOKEN_DURATION_TOO_LONG':
      return `${e.detail.what} ${formatDuration(e.detail.requested)} is too long: at most ${formatDuration(e.detail.max)}.`;
  }
}

const tokenLine = (t: ApiToken, now: Date): string => {
  const state = t.expiresAt <= now ? 'expired' : 'expires';
  const auto =
    t.autoApproveWithinMs === undefined
      ? ''
      : ` · auto-approve within ${formatDuration(t.autoApproveWithinMs)}`;
  const used = t.lastUsedAt === undefined ? 'never used' : `last used ${isoUtc(t.lastUsedAt)}`;
  return `• ${safeCode(t.name, 60)} — ${t.resources.map((r) => safeCode(r, 64)).join(', ')} · owner <@${t.ownerId}> · ${state} ${isoUtc(t.expiresAt)}${auto} · ${used}`;
};

/** The secret, once: shown to the admin alone (an ephemeral answer), never stored, logged or posted. */
const secretBlock = (secret: string): string =>
  `\`\`\`${secret}\`\`\`\nCopy it now: hallpass keeps only its hash and cannot show it again. Give it to the job as \`HALLPASS_TOKEN\`.`;

/** `/access token create <name> <resource,…> [--auto-approve-within <d>] [--expires <d>]`. */
export const tokenCreate: Subcommand<'token-create'> = async (ctx, { cmd, context }) => {
  const actor = await context.actor();
  const refusal = whyNotAdmin(actor);
  if (refusal !== undefined) return context.reply({ text: refusal });
  const result = await ctx.useCases.tokens.create({ actor, ...cmd });
  if (!result.ok) return context.reply({ text: tokenErrorText(result) });
  const { token, secret } = result.value;
  const auto =
    token.autoApproveWithinMs === undefined
      ? 'Its requests need approval as usual.'
      : `Its requests of at most ${formatDuration(token.autoApproveWithinMs)} are approved at once where a resource’s policy allows automation auto-approval (\`automation.autoApproveWithin\`).`;
  return context.reply({
    text: `Created API token ${safeCode(token.name, 60)} for ${token.resources.map((r) => safeCode(r, 64)).join(', ')}, owned by you, expiring ${isoUtc(token.expiresAt)}. ${auto}\n${secretBlock(secret)}`,
  });
};

/** `/access token list`: the live tokens (never a secret). */
export const tokenList: Subcommand<'token-list'> = async (ctx, { context }) => {
  const actor = await context.actor();
  const refusal = whyNotAdmin(actor);
  if (refusal !== undefined) return context.reply({ text: refusal });
  const result = await ctx.useCases.tokens.list(actor);
  if (!result.ok) return context.reply({ text: tokenErrorText(result) });
  const now = ctx.clock.now();
  return context.reply({
    text:
      result.value.length === 0
        ? 'No API tokens. Create one with `/access token create <name> <resource,…>`.'
        : `API tokens:\n${result.value.map((t) => tokenLine(t, now)).join('\n')}`,
  });
};

/** `/access token revoke <name>`: refused from now on (401). */
export const tokenRevoke: Subcommand<'token-revoke'> = async (ctx, { cmd, context }) => {
  const actor = await context.actor();
  const refusal = whyNotAdmin(actor);
  if (refusal !== undefined) return context.reply({ text: refusal });
  const result = await ctx.useCases.tokens.revoke({ actor, name: cmd.name });
  if (!result.ok) return context.reply({ text: tokenErrorText(result) });
  return context.reply({
    text: `Revoked API token ${safeCode(cmd.name, 60)}: every call with it is refused from now on. Grants it holds run to their end (end them with \`/access revoke\`).`,
  });
};

/** `/access token rotate <name> [--overlap <d>]`: a new secret; the old one works for the overlap. */
export const tokenRotate: Subcommand<'token-rotate'> = async (ctx, { cmd, context }) => {
  const actor = await context.actor();
  const refusal = whyNotAdmin(actor);
  if (refusal !== undefined) return context.reply({ text: refusal });
  const result = await ctx.useCases.tokens.rotate({ actor, name: cmd.name, overlapMs: cmd.overlapMs });
  if (!result.ok) return context.reply({ text: tokenErrorText(result) });
  const { token, secret, overlapMs } = result.value;
  const until = token.previousValidUntil ?? ctx.clock.now();
  const overlap =
    overlapMs === DEFAULT_ROTATION_OVERLAP_MS
      ? `${formatDuration(overlapMs)} (the default)`
      : formatDuration(overlapMs);
  return context.reply({
    text: `Rotated API token ${safeCode(token.name, 60)}. The old secret stays valid for an overlap of ${overlap}, until ${isoUtc(until)}; then only the new one works.\n${secretBlock(secret)}`,
  });
};
