import type { Actor } from '../../domain/policy';
import type { Place } from '../../domain/standing';

/** Slack said a user group changed (`subteam_members_changed`, `subteam_updated`). */
export type GroupChange = {
  /** The user group's id (`S…`). */
  readonly subteamId: string;
  /** Members Slack says left it (applied at once, before Slack is asked for the whole list again). */
  readonly removedUsers: readonly string[];
  /** The group was disabled: nobody is in it any more. */
  readonly disabled: boolean;
};

/** Identity from Slack: the user groups a user is in (handles, without `@`) and their standing. Cached by the adapter. */
export interface Directory {
  /**
   * The person as Slack says now: their groups and their standing (member, guest, external…, see
   * domain/standing.ts). `origin` is where the action was signed (the payload's workspace and
   * organisation); leave it out when re-checking someone who is not acting (a voter at the quorum).
   * A user Slack cannot vouch for comes back with standing `unknown`, never as a member.
   */
  actor(userId: string, origin?: readonly Place[]): Promise<Actor>;
  /** A user group changed in Slack: the next `actor` sees the change (no waiting for the cache to expire). */
  groupsChanged(change: GroupChange): void;
  /**
   * Slack said a user's account changed (`user_change`): what is cached about them (guest, deactivated,
   * workspace) is forgotten on this replica, so the next `actor` asks Slack again. Other replicas
   * re-read it when their cache expires (the directory's TTL, five minutes by default).
   */
  userChanged(userId: string): void;
  /** The handle (without `@`) of a user group (`S…`), as last read from Slack; `undefined` if unknown. */
  groupHandle(subteamId: string): Promise<string | undefined>;
  /** The user's email from their Slack profile, if Slack shares it (`users:read.email`); used as the STS SourceIdentity. */
  emailOf(userId: string): Promise<string | undefined>;
}
