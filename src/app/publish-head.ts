/**
 * Publishing the audit log's head: "event `count` has the seal `hash`", posted in
 * the policy's `auditChannel` — a place the database cannot rewrite — on a schedule (daily by default)
 * and with every export. With a head kept there, `npm run audit -- verify --head <count>:<hash>` proves
 * nothing up to it was removed or changed, which a chain alone cannot show (a cut-off tail, or a log
 * rewritten with fresh SHA-256 seals). Each publication is recorded in the log itself
 * (`audit.head_published`), and goes out through the outbox, so Slack never holds anything up.
 */

import type { Policy } from '../domain/policy';
import { SYSTEM_ACTOR } from '../domain/request';
import type { AuditHead, ChainStatus } from './audit-ports';
import type { AuditRecordSource } from './audit-record';
import type { AuditHeadNotice } from './notices';
import { describeError, type Notices } from './notify';
import type { AuditLog, Clock, Logger, UnitOfWork } from './ports';

/** The event recording a publication. */
export const HEAD_PUBLISHED_EVENT = 'audit.head_published';

/** `auditHeadInterval` when the policy gives none: once a day. */
export const DEFAULT_HEAD_INTERVAL_MS = 24 * 60 * 60_000;

export type PublishHeadDeps = {
  readonly clock: Clock;
  readonly policy: () => Policy;
  readonly uow: UnitOfWork;
  readonly audit: Pick<AuditLog, 'head' | 'append'>;
  readonly notices: Pick<Notices, 'deliver'>;
};

/** What telling when the next publication is due needs. */
type NextHeadDeps = { readonly policy: () => Policy; readonly audit: Pick<AuditLog, 'lastOfType'> };

/** What a publication is about. */
export type HeadTrigger = AuditHeadNotice['trigger'];

/** The chain as the notice reports it. */
const chainOf = (chain: ChainStatus): AuditHeadNotice['chain'] =>
  chain.ok
    ? { ok: true, unkeyed: chain.unkeyed }
    : { ok: false, firstBrokenSeq: chain.firstBrokenSeq, message: chain.message };

/**
 * Reads the head, records the publication and queues the notice for the audit channel, all in one
 * transaction (recorded exactly when queued). The head is that of the log *before* the
 * `audit.head_published` event, which cannot contain its own seal. `undefined` when the policy names
 * no audit channel.
 */
export function publishHead(
  deps: PublishHeadDeps,
  trigger: HeadTrigger,
  chain: ChainStatus,
  mismatches?: number,
): Promise<AuditHead | undefined> {
  const channel = deps.policy().auditChannel;
  if (channel === undefined) return Promise.resolve(undefined);
  const now = deps.clock.now();
  return deps.uow.tx(async () => {
    const head = await deps.audit.head();
    await deps.audit.append({
      at: now,
      actor: trigger.kind === 'export' ? trigger.by : SYSTEM_ACTOR,
      type: HEAD_PUBLISHED_EVENT,
      details: {
        count: head.count,
        hash: head.hash,
        channel,
        trigger: trigger.kind,
        chainOk: chain.ok,
        ...(mismatches === undefined ? {} : { mismatches }),
      },
    });
    const notice: AuditHeadNotice = {
      type: 'audit-head',
      count: head.count,
      hash: head.hash,
      keyId: head.keyId,
      at: now.toISOString(),
      trigger,
      chain: chainOf(chain),
      mismatches,
    };
    await deps.notices.deliver({ kind: 'channel', channel, notice });
    // A break (or tables that disagree) is an alert: the alerts channel hears it too.
    const alerts = deps.policy().alertsChannel;
    const broken = !notice.chain.ok || (mismatches ?? 0) > 0;
    if (broken && alerts !== undefined && alerts !== channel)
      await deps.notices.deliver({ kind: 'channel', channel: alerts, notice });
    return { count: head.count, hash: head.hash };
  });
}

/** When the next scheduled publication is due: an interval after the last one of any kind (at once if none). */
export const nextHeadPublication = (deps: NextHeadDeps) => async (): Promise<Date | undefined> => {
  const policy = deps.policy();
  if (policy.auditChannel === undefined) return undefined;
  const last = await deps.audit.lastOfType(HEAD_PUBLISHED_EVENT);
  if (last === undefined) return new Date(0);
  return new Date(last.at.getTime() + (policy.auditHeadInterval ?? DEFAULT_HEAD_INTERVAL_MS));
};

/**
 * The scheduled publication: walks (verifies) the chain and checks the tables first, so the audit
 * channel also hears — daily — whether the log still verifies. Runs on its own timer, apart from the
 * scheduler, so the walk never delays a close.
 */
export const publishScheduledHead =
  (
    deps: PublishHeadDeps &
      NextHeadDeps & { readonly logger: Logger; readonly auditRecord: AuditRecordSource },
  ) =>
  async (): Promise<AuditHead | undefined> => {
    const due = await nextHeadPublication(deps)();
    if (due === undefined || due.getTime() > deps.clock.now().getTime()) return undefined;
    let record: Awaited<ReturnType<AuditRecordSource['read']>>;
    try {
      record = await deps.auditRecord.read();
    } catch (error) {
      deps.logger.error({ err: describeError(error) }, 'could not read the audit log to publish its head');
      throw error;
    }
    if (!record.chain.ok) {
      deps.logger.error(
        {
          firstBrokenSeq: record.chain.firstBrokenSeq,
          reason: record.chain.reason,
          message: record.chain.message,
        },
        'the audit log no longer verifies',
      );
    }
    if (record.mismatches.length > 0) {
      deps.logger.error(
        { mismatches: record.mismatches.length },
        'the requests / approvals / grants tables disagree with the audit chain',
      );
    }
    return publishHead(deps, { kind: 'schedule' }, record.chain, record.mismatches.length);
  };
