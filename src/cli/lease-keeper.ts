/**
 * Keeps the leases of live requests renewed: every `ttl / 3`, one `POST /requests/{id}/lease` per
 * request. While the renewals arrive the grant stays; when they stop (this process crashed, was killed,
 * lost the network) hallpass ends the grant within the lease's time. A 409 means nothing is live any
 * more (denied, ended, revoked, the lease already lapsed): the request is dropped and `onLost` is told.
 * Other failures (after the client's own retries) are reported through `onTrouble` and renewing goes on:
 * the next renewal may still arrive within the lease.
 */
import { type ApiClient, ApiError } from './api-client';

export type LeaseKeeperOptions = {
  readonly api: Pick<ApiClient, 'renewLease'>;
  /** Milliseconds between renewals (a third of the lease's time-to-live). */
  readonly intervalMs: number;
  /** A request's lease was refused with 409: nothing is live any more. */
  readonly onLost: (requestId: string, error: ApiError) => void;
  /** A renewal failed for another reason (the server unreachable, a 5xx after retries). */
  readonly onTrouble?: (requestId: string, error: unknown) => void;
  /** A renewal succeeded (after trouble, say so once). */
  readonly onRenewed?: (requestId: string, leaseExpiresAt: string) => void;
};

export class LeaseKeeper {
  private readonly live = new Set<string>();
  private readonly inFlight = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: LeaseKeeperOptions) {}

  /** Starts renewing `requestId`'s lease (the first renewal one interval from now). */
  add(requestId: string): void {
    this.live.add(requestId);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), this.opts.intervalMs);
    }
  }

  /** Stops renewing `requestId`'s lease (before ending it, so no renewal races the `done`). */
  remove(requestId: string): void {
    this.live.delete(requestId);
    if (this.live.size === 0) this.stop();
  }

  /** The requests whose leases are being renewed. */
  ids(): string[] {
    return [...this.live];
  }

  has(requestId: string): boolean {
    return this.live.has(requestId);
  }

  /** Stops every renewal. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    for (const id of this.live) {
      // A slow renewal is not doubled up: the next tick skips it.
      if (this.inFlight.has(id)) continue;
      this.inFlight.add(id);
      this.opts.api.renewLease(id).then(
        (answer) => {
          this.inFlight.delete(id);
          if (this.live.has(id)) this.opts.onRenewed?.(id, answer.leaseExpiresAt);
        },
        (error: unknown) => {
          this.inFlight.delete(id);
          if (!this.live.has(id)) return;
          if (error instanceof ApiError && error.status === 409) {
            this.remove(id);
            this.opts.onLost(id, error);
          } else {
            this.opts.onTrouble?.(id, error);
          }
        },
      );
    }
  }
}
