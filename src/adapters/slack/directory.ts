import type { WebClient } from '@slack/web-api';
import { describeError } from '../../app/infra-error';
import type { Clock, Directory, GroupChange, Logger } from '../../app/ports';
import type { Actor } from '../../domain/policy';
import { type Account, type Installation, type Place, standingOf } from '../../domain/standing';
import { classifySlackError } from './web-client';

type Groups = {
  readonly members: ReadonlyMap<string, ReadonlySet<string>>;
  /** handle → user-group id (`S…`), for mentions that ping the group. */
  readonly ids: ReadonlyMap<string, string>;
  readonly fetchedAt: number;
  /** The change count when this fetch started: an answer older than a change Slack announced is not fresh. */
  readonly generation: number;
};

/** What `users.info` said about one user, and when. */
type UserFacts = {
  /** `undefined` when the answer left out a field that decides someone's standing. */
  readonly account: Account | undefined;
  readonly email: string | undefined;
  readonly at: number;
};

/** Members Slack said left a group, kept until every fetch that may predate it has been corrected. */
type Removal = {
  readonly generation: number;
  readonly subteamId: string;
  readonly users: readonly string[] | 'all';
};

/** How many people's `users.info` answers the directory keeps by default: a forgotten one costs one Tier-4 call. */
export const USERS_CACHED = 5_000;

/**
 * The waits before `users.info` is asked again after a failure that may pass (a connection refused or
 * reset, a timeout, a 5xx, Slack's `internal_error`): a blip must not refuse someone's request. So
 * `USERS_INFO_RETRY_DELAYS_MS.length + 1` attempts in all; a 429 or an answer such as `user_not_found`
 * is not asked again. Real time: they space network calls, they are not a schedule.
 */
export const USERS_INFO_RETRY_DELAYS_MS: readonly number[] = [100, 400];

/**
 * A map holding at most `max` entries: reading or writing an entry makes it the most recent, and
 * writing past `max` forgets the least recent. A `Map` iterates in insertion order, so re-inserting on
 * use keeps the least recent first.
 */
function lruMap<V>(max: number): {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  delete(key: string): void;
} {
  const entries = new Map<string, V>();
  return {
    get(key) {
      const value = entries.get(key);
      if (value !== undefined) {
        entries.delete(key);
        entries.set(key, value);
      }
      return value;
    },
    set(key, value) {
      entries.delete(key);
      entries.set(key, value);
      while (entries.size > max) {
        const oldest = entries.keys().next();
        if (oldest.done === true) break;
        entries.delete(oldest.value);
      }
    },
    delete(key) {
      entries.delete(key);
    },
  };
}

/** Renders a policy principal so that Slack pings it: `<@U…>` for a user, `<!subteam^S…|@handle>` for a group. */
export type Mention = (principal: string) => string;

/**
 * Identity from Slack, for every decision hallpass makes:
 *
 * - User-group membership (`usergroups.list` with users), cached for `ttlMs` because `usergroups.*` is
 *   rate-limited (Tier 2). One fetch at a time; when Slack fails and a cached copy exists, the stale
 *   copy is used and the failure logged rather than refusing every click. `subteam_members_changed`
 *   and `subteam_updated` (see `groupsChanged`) make the copy stale at once, and members Slack says
 *   left are removed from it straight away, so a re-check seconds after someone leaves a group sees it.
 * - The installation's own workspace and organisation (`auth.test`), asked once and kept; until it
 *   answers nobody can be placed, so everyone's standing is `unknown`.
 * - Each user's account (`users.info`: guest, deactivated, own workspace and organisation, email),
 *   cached per user for `ttlMs`, for at most `maxUsers` people (the least recently asked about are
 *   forgotten first, so a workspace of many requesters does not grow the process without bound). When Slack does not answer, or leaves out whether the user is a guest,
 *   the standing is `unknown` — refused everywhere (fail closed), never a stale or guessed "member".
 */
export function createSlackDirectory(deps: {
  client: WebClient;
  clock: Clock;
  logger: Logger;
  ttlMs?: number;
  /** How many people's `users.info` answers are kept (default `USERS_CACHED`); the least recently used go first. */
  maxUsers?: number;
  /** The policy's `trustedWorkspaces`, read at every look-up (a reloaded policy takes effect at once). */
  trustedWorkspaces?: () => readonly string[];
}): Directory & { refresh(): Promise<void>; mentioner(): Promise<Mention> } {
  const ttlMs = deps.ttlMs ?? 5 * 60_000;
  const now = (): number => deps.clock.now().getTime();
  const fresh = (at: number): boolean => now() - at < ttlMs && now() >= at;
  const warn = (fields: Record<string, unknown>, error: unknown, msg: string): void =>
    deps.logger.warn({ ...fields, err: describeError(error) }, msg);

  /** Counts the group changes Slack announced. */
  let generation = 0;
  let removals: Removal[] = [];
  let cache: Groups | undefined;
  let inflight: { readonly generation: number; readonly groups: Promise<Groups> } | undefined;

  const fetchGroups = async (startedAt: number): Promise<Groups> => {
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
    return withRemovals({ members, ids, fetchedAt: now(), generation: startedAt });
  };

  /**
   * A copy of `groups` without the members Slack said left after `groups` was asked for: an answer that
   * crossed a `subteam_members_changed` may predate it, and must never give back what was taken away.
   */
  const withRemovals = (groups: Groups): Groups => {
    const later = removals.filter((r) => r.generation > groups.generation);
    if (later.length === 0) return groups;
    const handleOf = new Map([...groups.ids].map(([handle, id]) => [id, handle]));
    const members = new Map([...groups.members].map(([user, set]) => [user, new Set(set)]));
    for (const removal of later) {
      const handle = handleOf.get(removal.subteamId);
      if (handle === undefined) continue;
      for (const [user, set] of members) {
        if (removal.users === 'all' || removal.users.includes(user)) set.delete(handle);
      }
    }
    return { ...groups, members };
  };

  const groups = async (): Promise<Groups> => {
    if (cache !== undefined && cache.generation === generation && fresh(cache.fetchedAt)) return cache;
    if (inflight?.generation !== generation) {
      const started = { generation, groups: fetchGroups(generation) };
      inflight = started;
      started.groups
        .finally(() => {
          if (inflight === started) inflight = undefined;
        })
        .catch(() => undefined);
    }
    try {
      const got = await inflight.groups;
      if (cache === undefined || got.generation >= cache.generation) cache = got;
      return got;
    } catch (error) {
      if (cache === undefined) throw error;
      warn({}, error, 'usergroups.list failed; using cached groups');
      return cache;
    }
  };

  let installation: Installation | undefined;
  let installationInflight: Promise<Installation | undefined> | undefined;

  /** Where hallpass is installed: asked once; only an answer that names a workspace or organisation is kept. */
  const home = async (): Promise<Installation | undefined> => {
    if (installation !== undefined) return installation;
    installationInflight ??= (async () => {
      try {
        const res = await deps.client.auth.test();
        const learned: Installation = {
          teamId: res.team_id || undefined,
          enterpriseId: res.enterprise_id || undefined,
          orgWide: res.is_enterprise_install === true,
        };
        if (learned.teamId === undefined && learned.enterpriseId === undefined) {
          deps.logger.warn({}, 'auth.test named no workspace; nobody can be placed yet');
          return undefined;
        }
        installation = learned;
        return learned;
      } catch (error) {
        warn({}, error, 'auth.test failed; nobody can be placed until it answers');
        return undefined;
      } finally {
        installationInflight = undefined;
      }
    })();
    return installationInflight;
  };

  /** `users.info`, asked again after a failure that may pass (see `USERS_INFO_RETRY_DELAYS_MS`). */
  const usersInfo = async (userId: string) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await deps.client.users.info({ user: userId });
      } catch (error) {
        const delay = USERS_INFO_RETRY_DELAYS_MS[attempt];
        const kind = classifySlackError(error, 'users.info');
        if (delay === undefined || !kind.retryable || kind.kind === 'throttled') throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };

  const users = lruMap<UserFacts>(deps.maxUsers ?? USERS_CACHED);
  const usersInflight = new Map<string, Promise<UserFacts>>();

  /** `users.info` for one user, shared by concurrent look-ups; `undefined` when Slack failed. */
  const userFacts = async (userId: string): Promise<UserFacts | undefined> => {
    const cached = users.get(userId);
    if (cached !== undefined && fresh(cached.at)) return cached;
    let pending = usersInflight.get(userId);
    if (pending === undefined) {
      pending = usersInfo(userId).then((res) => ({
        account: accountOf(res.user),
        email: res.user?.profile?.email || undefined,
        at: now(),
      }));
      const mine = pending;
      usersInflight.set(userId, mine);
      mine
        .finally(() => {
          if (usersInflight.get(userId) === mine) usersInflight.delete(userId);
        })
        .catch(() => undefined);
    }
    try {
      const facts = await pending;
      users.set(userId, facts);
      return facts;
    } catch (error) {
      warn({ user: userId }, error, 'users.info failed');
      return undefined;
    }
  };

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
      // Without an email the Slack user id identifies the person instead; never fail a grant for it.
      const facts = await userFacts(userId);
      return facts === undefined ? users.get(userId)?.email : facts.email;
    },
    async actor(userId: string, origin: readonly Place[] = []): Promise<Actor> {
      const [g, installed, facts] = await Promise.all([groups(), home(), userFacts(userId)]);
      const standing = standingOf(
        { installation: installed, account: facts?.account, origin },
        deps.trustedWorkspaces?.() ?? [],
      );
      if (standing === 'unknown') deps.logger.warn({ user: userId }, 'could not tell who a user is; refused');
      return { userId, groups: g.members.get(userId) ?? new Set(), standing };
    },
    groupsChanged(change: GroupChange) {
      generation += 1;
      const left = change.disabled ? 'all' : change.removedUsers;
      if (left === 'all' || left.length > 0) {
        removals.push({ generation, subteamId: change.subteamId, users: left });
        if (cache !== undefined) cache = withRemovals(cache);
      }
      // Removals older than every answer still in use are reflected in them: forget those.
      const oldest = Math.min(cache?.generation ?? generation, inflight?.generation ?? generation);
      removals = removals.filter((r) => r.generation > oldest);
    },
    userChanged(userId: string) {
      users.delete(userId);
      usersInflight.delete(userId);
    },
    async groupHandle(subteamId: string) {
      // Handles rarely change: any copy read will do, so naming a group costs no Tier-2 call.
      let known = cache;
      try {
        known ??= await groups();
      } catch {
        known = undefined;
      }
      for (const [handle, id] of known?.ids ?? []) if (id === subteamId) return handle;
      return undefined;
    },
    async refresh() {
      cache = undefined;
      await groups();
    },
  };
}

/**
 * The parts of a `users.info` user that decide a standing. Fail closed: an answer that does not say
 * whether the user is a guest, or which workspace they belong to, gives no account at all.
 */
function accountOf(user: unknown): Account | undefined {
  if (typeof user !== 'object' || user === null) return undefined;
  const u = user as Record<string, unknown>;
  if (u['deleted'] === true) {
    return { teams: [], restricted: false, ultraRestricted: false, stranger: false, deleted: true };
  }
  const restricted = u['is_restricted'];
  const ultraRestricted = u['is_ultra_restricted'];
  const teamId = u['team_id'];
  if (typeof restricted !== 'boolean' || typeof ultraRestricted !== 'boolean') return undefined;
  if (typeof teamId !== 'string' || teamId === '') return undefined;
  const grid = u['enterprise_user'];
  const enterprise =
    typeof grid === 'object' && grid !== null ? (grid as Record<string, unknown>) : undefined;
  const enterpriseId = enterprise?.['enterprise_id'];
  const teams = enterprise?.['teams'];
  return {
    teamId,
    enterpriseId: typeof enterpriseId === 'string' && enterpriseId !== '' ? enterpriseId : undefined,
    teams: Array.isArray(teams) ? teams.filter((t): t is string => typeof t === 'string') : [],
    restricted,
    ultraRestricted,
    stranger: u['is_stranger'] === true,
    deleted: false,
  };
}

const escapeText = (t: string): string =>
  t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
