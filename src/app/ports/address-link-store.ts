/** An ask waiting for the address the requester's browser comes from (see `offerAddressLink`). */
export type AddressLink = {
  /** Hex SHA-256 of the link's secret: the secret itself is never stored. */
  readonly tokenHash: string;
  readonly userId: string;
  readonly resourceId: string;
  /** As typed; absent: the resource's `defaultDuration`. */
  readonly durationMs?: number | undefined;
  readonly reason: string;
  readonly breakGlass: boolean;
  readonly createdAt: Date;
  readonly expiresAt: Date;
};

/** Why a link cannot be followed: nobody made it, it was followed already, or its time is up. */
export type LinkRefusal = 'unknown' | 'used' | 'expired';

/** One-time address links, shared by every replica (any one may serve the click). */
export interface AddressLinkStore {
  insert(link: AddressLink): Promise<void>;
  /**
   * Uses the link once, atomically (a compare-and-set on "not used, not expired at `now`"), recording
   * `address`; a second use, even racing on another replica, gets `used`.
   */
  consume(
    tokenHash: string,
    address: string,
    now: Date,
  ): Promise<
    { readonly ok: true; readonly link: AddressLink } | { readonly ok: false; readonly why: LinkRefusal }
  >;
}
