import { createHash, randomBytes } from 'node:crypto';
import { addMilliseconds } from 'date-fns/addMilliseconds';
import type { Actor } from '../domain/policy';
import { type Err, err, ok, type Result } from '../domain/result';
import type { AddressLinkStore, Clock, Directory, LinkRefusal, Logger } from './ports';
import type { SubmitCommand, SubmitError, Submitted } from './submit-request';

/** How long a one-time address link may be followed. */
export const ADDRESS_LINK_TTL_MS = 10 * 60_000;

/** The path the link points at (an exact route: the secret travels in the query, `?t=`). */
export const ADDRESS_LINK_PATH = '/address';

type Deps = {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly addressLinks: AddressLinkStore;
  readonly directory: Pick<Directory, 'actor'>;
  /** `HALLPASS_PUBLIC_URL`, without a trailing `/`; absent: no links are offered. */
  readonly publicUrl?: string | undefined;
};

/** The hash a link is stored and found by: the secret itself is never stored. */
export const hashLinkSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/**
 * `/access <resource> <duration> <reason>` without `from`, for a security-group resource, when
 * `HALLPASS_PUBLIC_URL` is set: everything else the request says was already checked (the address is the
 * last check), so the ask is kept — under the hash of a fresh 256-bit secret — for ten minutes, and the
 * requester is given the link `<PUBLIC_URL>/address?t=<secret>` to follow from the machine they connect
 * from. `undefined` when there is no public URL (the answer is then "add `from`").
 */
export const offerAddressLink =
  (deps: Deps) =>
  async (cmd: SubmitCommand): Promise<{ url: string; expiresAt: Date } | undefined> => {
    if (deps.publicUrl === undefined) return undefined;
    const secret = randomBytes(32).toString('base64url');
    const now = deps.clock.now();
    const expiresAt = addMilliseconds(now, ADDRESS_LINK_TTL_MS);
    await deps.addressLinks.insert({
      tokenHash: hashLinkSecret(secret),
      userId: cmd.actor.userId,
      resourceId: cmd.resourceId,
      durationMs: cmd.durationMs,
      reason: cmd.reason,
      breakGlass: cmd.breakGlass === true,
      createdAt: now,
      expiresAt,
    });
    return { url: `${deps.publicUrl}${ADDRESS_LINK_PATH}?t=${secret}`, expiresAt };
  };

export type FollowLinkError =
  | Err<'LINK_REFUSED', { readonly why: LinkRefusal }>
  /** The link was used; the request it continued was refused (`error`), as `/access … from <address>` would be. */
  | Err<
      'REQUEST_REFUSED',
      { readonly userId: string; readonly address: string; readonly error: SubmitError }
    >;

/**
 * The requester followed their link from `address` (the browser's, as the HTTP adapter read it): the
 * link is used up atomically — a second use, an expired or an unknown link changes nothing — and the
 * request continues exactly as if they had typed `from <address>`, read against the policy and the
 * directory as they are now.
 */
export const followAddressLink =
  (
    deps: Deps,
    use: { readonly submitRequest: (cmd: SubmitCommand) => Promise<Result<Submitted, SubmitError>> },
  ) =>
  async (
    secret: string,
    address: string,
  ): Promise<Result<Submitted & { readonly address: string }, FollowLinkError>> => {
    const used = await deps.addressLinks.consume(hashLinkSecret(secret), address, deps.clock.now());
    if (!used.ok) return err('LINK_REFUSED', { why: used.why });
    const { link } = used;
    const actor: Actor = await deps.directory.actor(link.userId);
    const submitted = await use.submitRequest({
      actor,
      resourceId: link.resourceId,
      durationMs: link.durationMs,
      address,
      reason: link.reason,
      breakGlass: link.breakGlass,
    });
    if (!submitted.ok) return err('REQUEST_REFUSED', { userId: link.userId, address, error: submitted });
    return ok({ ...submitted.value, address });
  };
