/**
 * Who a Slack user is to this installation of hallpass — a member, a guest, someone from another
 * workspace or organisation — decided from what Slack says, before any policy list is read. Pure:
 * the Slack adapter gathers the facts (`auth.test`, `users.info`, the signed payload) and calls
 * `standingOf`.
 *
 * Only full members of the installed workspace (or organisation, for an org-wide install), or of a
 * workspace or organisation the policy names in `trustedWorkspaces`, count as "anyone". Guests and
 * external users count for a resource only where the policy lets them in (`allowGuests`,
 * `allowExternal`); a user Slack cannot vouch for counts nowhere (fail closed).
 */

/** A Slack workspace (`T…`) and the Enterprise Grid organisation (`E…`) it belongs to, when either is known. */
export type Place = {
  readonly teamId?: string | undefined;
  readonly enterpriseId?: string | undefined;
};

/** Where hallpass is installed, as `auth.test` says. */
export type Installation = {
  readonly teamId?: string | undefined;
  readonly enterpriseId?: string | undefined;
  /** Installed for a whole Enterprise Grid organisation: every workspace of it is home. */
  readonly orgWide: boolean;
};

/** A user's account, as `users.info` says. */
export type Account = {
  /** The user's own workspace (`team_id`) and organisation (`enterprise_user.enterprise_id`). */
  readonly teamId?: string | undefined;
  readonly enterpriseId?: string | undefined;
  /** Every workspace of the organisation the user belongs to (`enterprise_user.teams`), Grid only. */
  readonly teams: readonly string[];
  /** A multi-channel guest (`is_restricted`). */
  readonly restricted: boolean;
  /** A single-channel guest (`is_ultra_restricted`). */
  readonly ultraRestricted: boolean;
  /** Slack says the user belongs elsewhere (`is_stranger`). */
  readonly stranger: boolean;
  /** Deactivated (`deleted`). */
  readonly deleted: boolean;
};

/** Everything Slack told hallpass about one person acting, or being re-checked, now. */
export type IdentityFacts = {
  /** `undefined`: `auth.test` has not answered yet, so nobody can be placed. */
  readonly installation: Installation | undefined;
  /** `undefined`: `users.info` failed or left out a field that decides (fail closed). */
  readonly account: Account | undefined;
  /**
   * Where the action was signed: the payload's `team_id` / `team.id`, `user.team_id` and
   * `enterprise_id`. Empty when a person is re-checked rather than acting (a voter at the quorum).
   */
  readonly origin: readonly Place[];
};

/**
 * - `member`: a full member of the installed workspace (or organisation), or of a trusted one;
 * - `guest`: a multi- or single-channel guest of one of those;
 * - `external`: someone of another workspace or organisation (Slack Connect), or an action signed
 *   in one;
 * - `deactivated`: the account is deactivated;
 * - `unknown`: Slack could not say (it did not answer, or left out a deciding field).
 */
export type Standing = 'member' | 'guest' | 'external' | 'deactivated' | 'unknown';

/** Why someone does not count for a resource (or as an admin), as the error code the user sees. */
export type StandingRefusal =
  | 'GUEST_NOT_ALLOWED'
  | 'EXTERNAL_NOT_ALLOWED'
  | 'ACCOUNT_DEACTIVATED'
  | 'IDENTITY_UNVERIFIED';

/** What a resource lets in besides members (absent: nothing, which is also what admins get). */
export type Admission = {
  readonly allowGuests?: boolean | undefined;
  readonly allowExternal?: boolean | undefined;
};

const given = (v: string | undefined): v is string => v !== undefined && v !== '';

/** A workspace or organisation the policy names in `trustedWorkspaces`. */
function trustedPlace(place: Place, trusted: ReadonlySet<string>): boolean {
  return (
    (given(place.teamId) && trusted.has(place.teamId)) ||
    (given(place.enterpriseId) && trusted.has(place.enterpriseId))
  );
}

/**
 * Whether an action signed in `place` comes from home: the installed workspace (and its organisation,
 * if any), the whole organisation for an org-wide install, or a trusted place. A place that names
 * nothing contradicts nothing.
 */
export function isHome(place: Place, home: Installation, trusted: ReadonlySet<string>): boolean {
  if (trustedPlace(place, trusted)) return true;
  if (given(place.enterpriseId) && place.enterpriseId !== home.enterpriseId) return false;
  if (home.orgWide) return given(home.enterpriseId) && place.enterpriseId === home.enterpriseId;
  return !given(place.teamId) || place.teamId === home.teamId;
}

/** Whether the account belongs to the installed workspace (or organisation), or to a trusted one. */
function accountAtHome(account: Account, home: Installation, trusted: ReadonlySet<string>): boolean {
  if (trustedPlace(account, trusted)) return true;
  if (home.orgWide) return given(home.enterpriseId) && account.enterpriseId === home.enterpriseId;
  if (!given(home.teamId)) return false;
  return account.teamId === home.teamId || account.teams.includes(home.teamId);
}

/** Decides someone's standing from Slack's facts and the policy's `trustedWorkspaces`. */
export function standingOf(facts: IdentityFacts, trustedWorkspaces: readonly string[] = []): Standing {
  const { installation, account } = facts;
  if (installation === undefined || account === undefined) return 'unknown';
  if (account.deleted) return 'deactivated';
  const trusted = new Set(trustedWorkspaces);
  if (account.stranger || !accountAtHome(account, installation, trusted)) return 'external';
  if (!facts.origin.every((place) => isHome(place, installation, trusted))) return 'external';
  if (account.restricted || account.ultraRestricted) return 'guest';
  return 'member';
}

/**
 * Why someone of this standing does not count for a resource that admits `admission`, or
 * `undefined` when they do. Members always count; guests and external users only where admitted;
 * deactivated and unverifiable accounts never.
 */
export function refusalOf(standing: Standing, admission: Admission = {}): StandingRefusal | undefined {
  switch (standing) {
    case 'member':
      return undefined;
    case 'guest':
      return admission.allowGuests === true ? undefined : 'GUEST_NOT_ALLOWED';
    case 'external':
      return admission.allowExternal === true ? undefined : 'EXTERNAL_NOT_ALLOWED';
    case 'deactivated':
      return 'ACCOUNT_DEACTIVATED';
    case 'unknown':
      return 'IDENTITY_UNVERIFIED';
  }
}
