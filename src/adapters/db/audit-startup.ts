import { performance } from 'node:perf_hooks';
import type { AuditKeyring } from '../../app/audit-ports';
import { type AuditRecordSource, describeMismatch } from '../../app/audit-record';
import type { AuditLog, Clock, Logger } from '../../app/ports';
import { BREAK_ACCEPTED_EVENT } from './audit-chain';
import { createSqliteAuditLogReader } from './audit-export-query';
import type { AuditLogReader } from './audit-reading';
import type { Db } from './open-db';

/** Start-up stops with this: the audit log cannot be verified, and hallpass will not extend it blind. */
export class AuditLogRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditLogRefused';
  }
}

/** What start-up found, for its log line. */
export type AuditStartup = {
  readonly events: number;
  readonly head: { readonly count: number; readonly hash: string };
  readonly unkeyed: number;
  /** How long the walk took. */
  readonly ms: number;
};

/** Mismatches named one by one in the log at start-up; the rest are counted. */
const MISMATCHES_LOGGED = 20;

/**
 * Verifies the whole audit chain before hallpass does anything else: every event against its seal —
 * under the audit key for keyed events. A log it cannot verify stops start-up with the break named,
 * since every event hallpass appends would otherwise vouch for it: unless `acceptBroken` names exactly
 * that break (`HALLPASS_AUDIT_ACCEPT_BROKEN=<seq>`), which is then put on the record
 * (`audit.break_accepted`, sealed like any event) and never needs the setting again. A break accepted
 * once is not accepted a second time at the same place, and any other break still stops start-up.
 * The requests / approvals / grants tables are checked against the chain apart, once hallpass serves
 * (`checkTablesAgainstChain`): that check only logs, so nothing waits for it.
 */
export function verifyAuditLogAtStart(args: AuditStartupArgs & { readonly db: Db }): Promise<AuditStartup> {
  return verifyAtStart(createSqliteAuditLogReader(args.db), args);
}

/** What start-up verification needs besides the database. */
export type AuditStartupArgs = {
  readonly audit: Pick<AuditLog, 'append'>;
  readonly keys: AuditKeyring | undefined;
  readonly acceptBroken: number | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
};

/** `verifyAuditLogAtStart` on either engine: `reader` reads the log, `args.audit` appends to it. */
export async function verifyAtStart(reader: AuditLogReader, args: AuditStartupArgs): Promise<AuditStartup> {
  const { keys, acceptBroken, logger } = args;
  const started = performance.now();
  const known = new Set(
    [...(keys?.old ?? []), ...(keys?.current === undefined ? [] : [keys.current])].map((k) => k.id),
  );
  const missing = (await reader.keyIds()).filter((id) => !known.has(id));
  if (missing.length > 0) {
    const ids = missing.map((id) => JSON.stringify(id)).join(', ');
    throw new AuditLogRefused(
      keys?.current === undefined
        ? `the audit log is sealed with audit key ${ids}, but HALLPASS_AUDIT_KEY is not set: hallpass can neither verify the log nor add to it without breaking it. Set HALLPASS_AUDIT_KEY (and HALLPASS_AUDIT_OLD_KEYS for earlier keys) from your secret store.`
        : `the audit log has events sealed with audit key ${ids}, which neither HALLPASS_AUDIT_KEY nor HALLPASS_AUDIT_OLD_KEYS holds: add ${missing.length === 1 ? 'it' : 'them'} to HALLPASS_AUDIT_OLD_KEYS (old keys stay needed to verify the events they sealed).`,
    );
  }
  let chain = await reader.verifyChain(keys);
  if (!chain.ok && acceptBroken === chain.firstBrokenSeq) {
    const { firstBrokenSeq, reason, message } = chain;
    const before = (await reader.breakAcceptances()).find(
      (r) => r.details !== null && (JSON.parse(r.details) as { seq?: unknown }).seq === firstBrokenSeq,
    );
    if (before !== undefined) {
      throw new AuditLogRefused(
        `the audit log breaks at event ${firstBrokenSeq} again (${reason}): ${message} A break there was already accepted (event ${before.seq}); the log has changed since, so HALLPASS_AUDIT_ACCEPT_BROKEN does not apply twice. Investigate with \`npm run audit -- verify\`.`,
      );
    }
    const { detectedAtSeq, detectedHash } = chain;
    await args.audit.append({
      at: args.clock.now(),
      actor: 'hallpass',
      type: BREAK_ACCEPTED_EVENT,
      details: {
        seq: firstBrokenSeq,
        reason,
        message,
        detectedAtSeq,
        storedHash: detectedHash,
        setting: 'HALLPASS_AUDIT_ACCEPT_BROKEN',
      },
    });
    logger.warn(
      { seq: firstBrokenSeq, reason, message },
      'accepted a break in the audit log as HALLPASS_AUDIT_ACCEPT_BROKEN asked; it is recorded in the log (audit.break_accepted)',
    );
    chain = await reader.verifyChain(keys);
  }
  if (!chain.ok) {
    const { firstBrokenSeq, reason, message } = chain;
    const other =
      acceptBroken !== undefined && acceptBroken !== firstBrokenSeq
        ? ` (HALLPASS_AUDIT_ACCEPT_BROKEN=${acceptBroken} names another event, so it does not apply)`
        : '';
    throw new AuditLogRefused(
      `the audit log does not verify: event ${firstBrokenSeq} (${reason}): ${message}${other} hallpass will not add to a log it cannot verify. Investigate with \`npm run audit -- verify\`; to start anyway and put this break on the record, set HALLPASS_AUDIT_ACCEPT_BROKEN=${firstBrokenSeq}.`,
    );
  }
  return {
    events: chain.events,
    head: chain.head,
    unkeyed: chain.unkeyed,
    ms: Math.round(performance.now() - started),
  };
}

/**
 * The requests / approvals / grants tables against the chain, read through the running bot's source
 * (a page at a time between turns, so it never holds up a close): every row that disagrees is logged
 * loudly — the tables are hallpass's working state and the export shows the chain's values, so a
 * disagreement stops nothing. Answers how many rows disagree (`undefined` when the chain no longer
 * verifies: the scheduled head publication and `npm run audit -- verify` say so).
 */
export async function checkTablesAgainstChain(
  source: AuditRecordSource,
  logger: Logger,
): Promise<number | undefined> {
  const started = performance.now();
  const record = await source.read();
  if (!record.chain.ok) {
    logger.error(
      { firstBrokenSeq: record.chain.firstBrokenSeq, reason: record.chain.reason },
      'the audit log verified at start-up no longer verifies',
    );
    return undefined;
  }
  for (const m of record.mismatches.slice(0, MISMATCHES_LOGGED)) {
    logger.error(
      { requestId: m.requestId, problem: describeMismatch(m) },
      'the tables disagree with the audit chain',
    );
  }
  if (record.mismatches.length > MISMATCHES_LOGGED) {
    logger.error(
      { more: record.mismatches.length - MISMATCHES_LOGGED },
      'more table rows disagree with the audit chain: run `npm run audit -- verify`',
    );
  }
  logger.info(
    { tablesDisagree: record.mismatches.length, ms: Math.round(performance.now() - started) },
    'audit tables checked against the chain',
  );
  return record.mismatches.length;
}
