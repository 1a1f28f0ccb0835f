import type { EndReason, Grant } from '../domain/grant';
import { SYSTEM_ACTOR } from '../domain/request';
import { describeError } from './notify';
import { type OpenGrant, openLockKey } from './open-grant';
import type { AuditLog, Clock, GrantStore, Locks, Logger, UnitOfWork } from './ports';

type Deps = {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly uow: UnitOfWork;
  readonly grants: Pick<GrantStore, 'list' | 'move'>;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly locks: Pick<Locks, 'tryRun'>;
};

export type RecoverOptions = {
  /**
   * Leave alone a grant that started opening less than this long ago: with several replicas, its
   * opener may be about to take its lock (0 at the start-up of the only process).
   */
  readonly graceMs?: number;
};

/**
 * At start-up, and then regularly on one replica at a time: finishes grants a crash left in `opening`.
 * A grant whose open is in progress (its lock held, by this process or another replica) is left to
 * its opener; one whose opener died (a killed replica's locks go with its session) is taken over. One whose time is still running is opened
 * again — idempotently: a rule the first attempt created is found again (as a shared hold or as
 * `InvalidPermission.Duplicate` carrying hallpass's tags) and adopted, never doubled. One whose
 * `expires_at` has passed is moved to `closing`, so the expiry sweep revokes whatever it holds.
 * A rule authorized just before the crash but not yet recorded is found by its tags (the grant id):
 * adopted by the open, or, for a grant moved to `closing`, recorded as its hold here so the sweep
 * revokes it too. `closing` grants need nothing here: the sweep picks them up.
 */
export const recoverInterrupted =
  (
    deps: Deps,
    use: {
      readonly openGrant: OpenGrant;
      /** Records as the grant's holds the rules its dead opener authorized but never recorded. */
      readonly adoptUnrecorded: (grant: Grant) => Promise<void>;
    },
  ) =>
  async (options: RecoverOptions = {}): Promise<{ reopened: number; closed: number }> => {
    let reopened = 0;
    let closed = 0;
    for (const grant of await deps.grants.list(['opening'])) {
      const now = deps.clock.now();
      if (now.getTime() - grant.startsAt.getTime() < (options.graceMs ?? 0)) continue;
      // Someone is opening it right now: theirs to finish (tried, not waited for).
      const free = await deps.locks.tryRun(openLockKey(grant.id), async () => undefined);
      if (!free.ran) continue;
      if (grant.expiresAt <= now) {
        const moved = await deps.uow.tx(async () => {
          const m = await deps.grants.move(grant.id, ['opening'], 'closing', {
            endReason: 'expired',
            endedBy: SYSTEM_ACTOR,
          });
          if (m.ok) {
            await recordRecovery(deps, grant, now, {
              to: 'closing',
              why: 'expired while hallpass was down',
              endReason: 'expired',
            });
          }
          return m;
        });
        if (moved.ok) {
          closed += 1;
          // Before the expiry sweep revokes what it holds (it runs after this, under the same lock).
          try {
            await use.adoptUnrecorded(moved.value);
          } catch (error) {
            deps.logger.error(
              { grantId: grant.id, err: describeError(error) },
              'could not record the rules a dead opener left unrecorded; reconciliation revokes them',
            );
          }
        }
        continue;
      }
      try {
        await recordRecovery(deps, grant, now, { to: 'opening again', why: 'interrupted while opening' });
        await use.openGrant(grant.id);
        reopened += 1;
      } catch (error) {
        deps.logger.error(
          { grantId: grant.id, err: describeError(error) },
          'could not finish opening a grant after a restart',
        );
      }
    }
    return { reopened, closed };
  };

/** The `grant.recovered` event of a grant a crash left in `opening`: where it goes now, and why. */
async function recordRecovery(
  deps: Pick<Deps, 'audit'>,
  grant: Grant,
  now: Date,
  details: { readonly to: string; readonly why: string; readonly endReason?: EndReason },
): Promise<void> {
  await deps.audit.append({
    at: now,
    actor: SYSTEM_ACTOR,
    type: 'grant.recovered',
    requestId: grant.requestId,
    grantId: grant.id,
    details: { from: 'opening', ...details },
  });
}
