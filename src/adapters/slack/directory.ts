import type { WebClient } from '@slack/web-api';
import type { Clock, Directory, Logger } from '../../app/ports';
import type { Actor } from '../../domain/policy';

type Groups = {
  readonly members: ReadonlyMap<string, ReadonlySet<string>>;
  /** handle → user-group id (`S…`), for mentions that ping the group. */
  readonly ids: ReadonlyMap<string, string>;
  readonly fetchedAt: number;
};

/** Renders a policy principal so that Slack pings it: `<@U…>` for a user, `<!subteam^S…|@handle>` for a group. */
export type Mention = (principal: string) => string;

/**
 * User-group membership from Slack (`usergroups.list` with users), cached for `ttlMs` because
 * `usergroups.*` is rate-limited (Tier 2). One fetch at a time; when Slack fails and a cached copy
 * exists, the stale copy is used and the failure logged rather than refusing every click.
 * Membership changes in Slack therefore take up to `ttlMs` to reach hallpass. Emails (`users.info`,
 * for the STS SourceIdentity) are cached per user for the same time.
 */
export function createSlackDirectory(deps: {
  client: WebClient;
  clock: Clock;
  logger: Logger;
  ttlMs?: number;
}): Directory & { refresh(): Promise<void>; mentioner(): Promise<Mention> } {
  const ttlMs = deps.ttlMs ?? 5 * 60_000;
  let cache: Groups | undefined;
  let inflight: Promise<Groups> | undefined;

  const fetchGroups = async (): Promise<Groups> => {
    const res = await deps.client.usergroups.list({ include_users: true, include_disabled: false });
    const members = new Map<string, Set<string>>();
    const ids = new Map<string, string>();
    for (const g of res.usergroups ?? []) {
      if (g.handle === undefined) continue;
      const handle = g.handle.toLowerCase();
      if (g.id !== undefined) ids.set(handle, g.id);
      for (const user of g.users ?? []) {
        const set = members.get(user) ?? new Set<string>();
        set.add(handle);
        members.set(user, set);
      }
    }
    return { members, ids, fetchedAt: deps.clock.now().getTime() };
  };

  const groups = async (): Promise<Groups> => {
    const now = deps.clock.now().getTime();
    if (cache !== undefined && now - cache.fetchedAt < ttlMs && now >= cache.fetchedAt) return cache;
    inflight ??= fetchGroups().finally(() => {
      inflight = undefined;
    });
    try {
      cache = await inflight;
    } catch (error) {
      if (cache === undefined) throw error;
      deps.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'usergroups.list failed; using cached groups',
      );
    }
    return cache;
  };

  const emails = new Map<string, { email: string | undefined; at: number }>();

  return {
    async mentioner(): Promise<Mention> {
      let known: Groups | undefined;
      try {
        known = await groups();
      } catch {
        known = cache;
      }
      return (principal) => {
        if (!principal.startsWith('@'))
          return /^[UW][A-Z0-9]+$/.test(principal) ? `<@${principal}>` : escapeText(principal);
        const handle = principal.slice(1).toLowerCase();
        const id = known?.ids.get(handle);
        return id !== undefined && /^S[A-Z0-9]+$/.test(id)
          ? `<!subteam^${id}|@${escapeText(handle)}>`
          : escapeText(principal);
      };
    },
    async emailOf(userId: string): Promise<string | undefined> {
      const now = deps.clock.now().getTime();
      const cached = emails.get(userId);
      if (cached !== undefined && now - cached.at < ttlMs && now >= cached.at) return cached.email;
      try {
        const res = await deps.client.users.info({ user: userId });
        const email = res.user?.profile?.email || undefined;
        emails.set(userId, { email, at: now });
        return email;
      } catch (error) {
        // Without an email the Slack user id identifies the person instead; never fail a grant for it.
        deps.logger.warn(
          { user: userId, err: error instanceof Error ? error.message : String(error) },
          'users.info failed',
        );
        return cached?.email;
      }
    },
    async actor(userId: string): Promise<Actor> {
      const g = await groups();
      return { userId, groups: g.members.get(userId) ?? new Set() };
    },
    async refresh() {
      cache = undefined;
      await groups();
    },
  };
}

const escapeText = (t: string): string =>
  t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
