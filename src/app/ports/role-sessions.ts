import type { DueQuery } from './due-query';
/** Short-lived AWS credentials. Secret: never stored, never logged, sent to the requester alone. */
export type SessionCredentials = {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** When STS ends the session by itself. */
  readonly expiration: Date;
};

/** The identity of an STS role session, as CloudTrail and IAM conditions see it. */
export type RoleSession = {
  /** `RoleSessionName`, derived from the grant id. */
  readonly sessionName: string;
  /** `AROA…:<sessionName>` — the session's `aws:userid`. */
  readonly assumedRoleId: string;
  /** The session's own end (STS cannot end it earlier). */
  readonly expiresAt: Date;
};

/**
 * Room in a role's inline-policy budget for the policy that lists its revoked sessions, as
 * {@link RoleSessions.revocationRoom} measures it. IAM counts the characters of all of a role's inline
 * policies together, whitespace excluded.
 */
export type RevocationRoom = {
  /** IAM's limit on a role's inline policies together (10,240 characters). */
  readonly limit: number;
  /** Characters the role's other inline policies take (every one but hallpass's list), counted conservatively. */
  readonly usedByOthers: number;
  /** Characters hallpass's list would take holding exactly the given sessions. */
  readonly needed: number;
};

/**
 * STS role sessions, and the one inline deny policy per role that cuts sessions short
 * (`hallpass-revoked-sessions`, listing the revoked sessions' `aws:userid`). Throws `InfraError` on failure.
 */
export interface RoleSessions {
  /** The role's `MaxSessionDuration` in seconds (iam:GetRole), the ceiling of what can be granted. */
  maxSessionSeconds(roleArn: string): Promise<number>;
  /**
   * The `aws:userid` the session of this grant will have once issued: the role's id (iam:GetRole,
   * `AROA…`) and the `RoleSessionName` derived from the grant id, `AROA…:<session name>`.
   */
  sessionUserId(input: { readonly roleArn: string; readonly grantId: string }): Promise<string>;
  /**
   * `AssumeRole` for one grant: `RoleSessionName` from the grant id, `SourceIdentity` = the requester
   * (their email, else their Slack user id), session tags naming requester and grant.
   */
  start(input: {
    readonly roleArn: string;
    readonly region: string;
    readonly grantId: string;
    readonly requesterId: string;
    readonly sourceIdentity: string;
    readonly durationSeconds: number;
  }): Promise<{ readonly session: RoleSession; readonly credentials: SessionCredentials }>;
  /**
   * How much room the role's inline-policy budget leaves for the revoked-sessions policy, and how much
   * that policy would need listing `assumedRoleIds` (iam:ListRolePolicies + iam:GetRolePolicy).
   */
  revocationRoom(input: {
    readonly roleArn: string;
    readonly assumedRoleIds: readonly string[];
  }): Promise<RevocationRoom>;
  /**
   * Makes the role's revoked-sessions policy deny exactly these sessions (matched on `aws:userid`),
   * replacing what it listed before; an empty list deletes the policy. Idempotent. Resolves only once
   * IAM accepted the change.
   */
  writeRevokedSessions(input: {
    readonly roleArn: string;
    readonly assumedRoleIds: readonly string[];
  }): Promise<void>;
  /**
   * Removes one inline policy by name: the per-grant `hallpass-deny-<grant id>` policies written before
   * the single list existed, once their session has expired anyway. A policy already gone is success.
   */
  removeDeny(input: { readonly roleArn: string; readonly policyName: string }): Promise<void>;
}

/** A role session as hallpass keeps it: identity and timing only — credentials are never stored. */
export type StoredRoleSession = RoleSession & {
  readonly grantId: string;
  readonly roleArn: string;
  /**
   * The inline policy that denies this session: `hallpass-revoked-sessions` (the role's one list), or
   * a per-grant `hallpass-deny-<grant id>` written before the list existed.
   */
  readonly denyPolicyName?: string | undefined;
  /** When IAM confirmed the deny; absent while the session is not (yet) cut off. */
  readonly deniedAt?: Date | undefined;
  /** When the session left its deny policy again (pruned from the list, or its own policy deleted), after its expiry. */
  readonly denyRemovedAt?: Date | undefined;
};

/** Role sessions of `aws-role` grants, and whether (and by which policy) each is cut short. */
export interface RoleSessionStore {
  record(grantId: string, roleArn: string, session: RoleSession): Promise<void>;
  get(grantId: string): Promise<StoredRoleSession | undefined>;
  /**
   * Sessions of this role STS still honours (`expires_at` after `now`), denied or not, oldest expiry
   * first: what the role's deny list may have to hold.
   */
  liveOfRole(roleArn: string, now: Date): Promise<StoredRoleSession[]>;
  /** Written only after IAM confirmed the deny. */
  markDenied(grantId: string, policyName: string, at: Date): Promise<void>;
  markDenyRemoved(grantId: string, at: Date): Promise<void>;
  /** Denied sessions not yet taken out of their deny policy, each prunable at its own expiry. */
  readonly cleanups: DueQuery<StoredRoleSession>;
}
