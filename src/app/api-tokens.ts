import { randomBytes } from 'node:crypto';
import { addMilliseconds } from 'date-fns/addMilliseconds';
import { formatDuration } from '../domain/duration';
import { type Actor, findResource, isAdmin, type Policy } from '../domain/policy';
import { type Err, err, ok, type Result } from '../domain/result';
import {
  DEFAULT_ROTATION_OVERLAP_MS,
  DEFAULT_TOKEN_TTL_MS,
  hashToken,
  MAX_ROTATION_OVERLAP_MS,
  MAX_TOKEN_TTL_MS,
  presentedToken,
} from '../domain/token';
import type { ApiToken, AuditLog, Clock, TokenStore, UnitOfWork } from './ports';

type Deps = {
  readonly clock: Clock;
  readonly policy: () => Policy;
  readonly uow: UnitOfWork;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly tokens?: TokenStore | undefined;
};

export type TokenError =
  | Err<'NOT_ADMIN'>
  | Err<'TOKEN_UNKNOWN_RESOURCES', { readonly resourceIds: readonly string[] }>
  | Err<'TOKEN_NAME_TAKEN' | 'UNKNOWN_TOKEN', { readonly name: string }>
  | Err<
      'TOKEN_DURATION_TOO_LONG',
      {
        readonly what: '--expires' | '--overlap' | '--auto-approve-within';
        readonly max: number;
        readonly requested: number;
      }
    >;

/** A token just made or rotated: the secret, to be shown once, and the stored token. */
export type IssuedToken = { readonly token: ApiToken; readonly secret: string };

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `n` characters of base-62, from the CSPRNG (rejection sampling: no bias). */
function randomWord(n: number): string {
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n * 2)) {
      if (b < 248 && out.length < n) out += ALPHABET[b % 62];
    }
  }
  return out;
}

function storeOf(deps: Deps): TokenStore {
  if (deps.tokens === undefined) throw new Error('tokens are not available without their store');
  return deps.tokens;
}

/**
 * `/access token …`: the admins' management of automation tokens. Every one is decided from the policy
 * now (`admins`), and every change is an audit event naming the token (never its secret).
 */
export const tokenAdmin = (deps: Deps) => {
  const adminOnly = (actor: Actor): Err<'NOT_ADMIN'> | undefined =>
    isAdmin(deps.policy(), actor) ? undefined : err('NOT_ADMIN');

  return {
    async create(cmd: {
      actor: Actor;
      name: string;
      resources: readonly string[];
      autoApproveWithinMs?: number | undefined;
      ttlMs?: number | undefined;
    }): Promise<Result<IssuedToken, TokenError>> {
      const refused = adminOnly(cmd.actor);
      if (refused !== undefined) return refused;
      const policy = deps.policy();
      const unknown = cmd.resources.filter((r) => findResource(policy, r) === undefined);
      if (unknown.length > 0) return err('TOKEN_UNKNOWN_RESOURCES', { resourceIds: unknown });
      const ttl = cmd.ttlMs ?? DEFAULT_TOKEN_TTL_MS;
      if (ttl > MAX_TOKEN_TTL_MS)
        return err('TOKEN_DURATION_TOO_LONG', { what: '--expires', max: MAX_TOKEN_TTL_MS, requested: ttl });
      // Longer than any resource's maxDuration would mean nothing: refused so the admin is not misled.
      const longest = Math.max(...cmd.resources.map((r) => findResource(policy, r)?.maxDuration ?? 0));
      if (cmd.autoApproveWithinMs !== undefined && cmd.autoApproveWithinMs > longest)
        return err('TOKEN_DURATION_TOO_LONG', {
          what: '--auto-approve-within',
          max: longest,
          requested: cmd.autoApproveWithinMs,
        });
      const now = deps.clock.now();
      const id = `tok_${randomWord(16)}`;
      const secret = presentedToken(id, randomWord(40));
      const token: ApiToken = {
        id,
        name: cmd.name,
        ownerId: cmd.actor.userId,
        resources: cmd.resources,
        autoApproveWithinMs: cmd.autoApproveWithinMs,
        secretHash: hashToken(secret),
        createdAt: now,
        expiresAt: addMilliseconds(now, ttl),
      };
      const tokens = storeOf(deps);
      const inserted = await deps.uow.tx(async () => {
        if (!(await tokens.insert(token))) return false;
        await deps.audit.append({
          at: now,
          actor: cmd.actor.userId,
          type: 'token.created',
          details: {
            token: token.name,
            tokenId: id,
            resources: [...token.resources],
            expiresAt: token.expiresAt.toISOString(),
            ...(token.autoApproveWithinMs === undefined
              ? {}
              : { autoApproveWithin: formatDuration(token.autoApproveWithinMs) }),
          },
        });
        return true;
      });
      if (!inserted) return err('TOKEN_NAME_TAKEN', { name: cmd.name });
      return ok({ token, secret });
    },

    async list(actor: Actor): Promise<Result<ApiToken[], TokenError>> {
      const refused = adminOnly(actor);
      if (refused !== undefined) return refused;
      return ok(await storeOf(deps).live());
    },

    async revoke(cmd: { actor: Actor; name: string }): Promise<Result<ApiToken, TokenError>> {
      const refused = adminOnly(cmd.actor);
      if (refused !== undefined) return refused;
      const tokens = storeOf(deps);
      const token = await tokens.byName(cmd.name);
      if (token === undefined) return err('UNKNOWN_TOKEN', { name: cmd.name });
      const now = deps.clock.now();
      const done = await deps.uow.tx(async () => {
        if (!(await tokens.revoke(token.id, cmd.actor.userId, now))) return false;
        await deps.audit.append({
          at: now,
          actor: cmd.actor.userId,
          type: 'token.revoked',
          details: { token: token.name, tokenId: token.id },
        });
        return true;
      });
      if (!done) return err('UNKNOWN_TOKEN', { name: cmd.name });
      return ok({ ...token, revokedAt: now, revokedBy: cmd.actor.userId });
    },

    async rotate(cmd: {
      actor: Actor;
      name: string;
      overlapMs?: number | undefined;
    }): Promise<Result<IssuedToken & { readonly overlapMs: number }, TokenError>> {
      const refused = adminOnly(cmd.actor);
      if (refused !== undefined) return refused;
      const overlapMs = cmd.overlapMs ?? DEFAULT_ROTATION_OVERLAP_MS;
      if (overlapMs > MAX_ROTATION_OVERLAP_MS)
        return err('TOKEN_DURATION_TOO_LONG', {
          what: '--overlap',
          max: MAX_ROTATION_OVERLAP_MS,
          requested: overlapMs,
        });
      const tokens = storeOf(deps);
      const token = await tokens.byName(cmd.name);
      const now = deps.clock.now();
      if (token === undefined || token.expiresAt <= now) return err('UNKNOWN_TOKEN', { name: cmd.name });
      const secret = presentedToken(token.id, randomWord(40));
      // The old secret stays valid for the overlap, never past the token's own end.
      const previousValidUntil = new Date(Math.min(now.getTime() + overlapMs, token.expiresAt.getTime()));
      const change = {
        secretHash: hashToken(secret),
        previousHash: token.secretHash,
        previousValidUntil,
        at: now,
      };
      await deps.uow.tx(async () => {
        await tokens.rotate(token.id, change);
        await deps.audit.append({
          at: now,
          actor: cmd.actor.userId,
          type: 'token.rotated',
          details: {
            token: token.name,
            tokenId: token.id,
            previousValidUntil: previousValidUntil.toISOString(),
          },
        });
      });
      return ok({ token: { ...token, ...change, rotatedAt: now }, secret, overlapMs });
    },
  };
};

export type TokenAdmin = ReturnType<typeof tokenAdmin>;
