import type { DueQuery } from './due-query';

/** An automation's API token as stored: never its secret, only hashes of it. */
export type ApiToken = {
  /** `tok_…`, the presented token's prefix. */
  readonly id: string;
  readonly name: string;
  /** The admin who made it (Slack user id). */
  readonly ownerId: string;
  /** The resources it may ask for. */
  readonly resources: readonly string[];
  /** `--auto-approve-within`, in ms: only where the resource's policy allows automation auto-approval. */
  readonly autoApproveWithinMs?: number | undefined;
  readonly secretHash: string;
  /** The secret before the last rotation, valid until `previousValidUntil`. */
  readonly previousHash?: string | undefined;
  readonly previousValidUntil?: Date | undefined;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly rotatedAt?: Date | undefined;
  readonly revokedAt?: Date | undefined;
  readonly revokedBy?: string | undefined;
  readonly lastUsedAt?: Date | undefined;
};

/** Automation tokens. Revoked tokens keep their rows (the audit record names them). */
export interface TokenStore {
  /** Stores a new token; false when a token not revoked already has its name. */
  insert(token: ApiToken): Promise<boolean>;
  get(id: string): Promise<ApiToken | undefined>;
  /** The token of this name that is not revoked (expired or not). */
  byName(name: string): Promise<ApiToken | undefined>;
  /** Every token not revoked, by name. */
  live(): Promise<ApiToken[]>;
  /** A new secret; the current one stays valid until `previousValidUntil`. */
  rotate(
    id: string,
    change: { secretHash: string; previousHash: string; previousValidUntil: Date; at: Date },
  ): Promise<void>;
  /** Compare-and-set: false if it was revoked already. */
  revoke(id: string, by: string, at: Date): Promise<boolean>;
  /** Records an authenticated call (reads and renewals are counted here, not in the audit chain). */
  touch(id: string, at: Date): Promise<void>;
}

/** What the HTTP API adds to a request it made: who is behind it, and its lease. */
export type ApiRequestLink = {
  readonly requestId: string;
  readonly tokenId: string;
  readonly tokenName: string;
  readonly ownerId: string;
  readonly agentName?: string | undefined;
  readonly onBehalfOf?: string | undefined;
  readonly leaseTtlMs?: number | undefined;
  /** Set while the lease holds the request or its grant. */
  readonly leaseExpiresAt?: Date | undefined;
  /** When hallpass ended it because the lease lapsed. */
  readonly leaseLapsedAt?: Date | undefined;
};

export interface ApiRequestStore {
  insert(link: ApiRequestLink): Promise<void>;
  get(requestId: string): Promise<ApiRequestLink | undefined>;
  /** Pushes the lease's end; false when nothing is held by it any more. */
  renew(requestId: string, expiresAt: Date): Promise<boolean>;
  /** The request or grant ended otherwise: the lease holds nothing any more. */
  release(requestId: string): Promise<void>;
  /** Compare-and-set from a held lease: records the lapse; false if it was renewed past `now` or released meanwhile. */
  markLapsed(requestId: string, now: Date): Promise<boolean>;
  /** Leases past their end: due at `lease_expires_at`. */
  readonly lapses: DueQuery<ApiRequestLink>;
}
