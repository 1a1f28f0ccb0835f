import type { AuditHeadNotice } from '../../../app/notices';
import { mention, safeText } from '../escape';
import { context, fallback, type SlackMessage, section } from './blocks';

/**
 * The audit log's head, posted in the audit channel: the event count and seal, verbatim (an auditor
 * copies them into `npm run audit -- verify --head <count>:<hash>`), why it was published, and what the
 * walk of the chain just found. Nothing here is user text except the exporter's id, which is mentioned
 * only when it looks like one.
 */
export function auditHeadMessage(n: AuditHeadNotice): SlackMessage {
  const why =
    n.trigger.kind === 'schedule'
      ? 'scheduled publication'
      : `published with an audit export by ${/^[UW][A-Z0-9]+$/.test(n.trigger.by) ? mention(n.trigger.by) : safeText(n.trigger.by, 60)} (${n.trigger.rows} request(s)${n.trigger.since === undefined ? '' : ` made ${n.trigger.since} – ${n.trigger.until ?? 'now'}`})`;
  const seal =
    n.keyId === undefined
      ? 'plain SHA-256 (no HALLPASS_AUDIT_KEY: proves accidents only)'
      : `HMAC-SHA-256 under audit key ${safeText(n.keyId, 40)}`;
  const chain = n.chain.ok
    ? `:white_check_mark: The chain verified from the first event to this head${n.chain.unkeyed > 0 ? ` (${n.chain.unkeyed} early event(s) are unkeyed)` : ''}.`
    : `:rotating_light: *The chain is BROKEN* at event ${n.chain.firstBrokenSeq}: ${safeText(n.chain.message, 400)}`;
  const tables =
    n.mismatches === undefined || n.mismatches === 0
      ? ''
      : `\n:rotating_light: *${n.mismatches} request(s) in the database tables disagree with the chain*: run \`npm run audit -- verify\`.`;
  return {
    text: fallback(`hallpass audit head: event ${n.count}, ${n.hash}`),
    blocks: [
      section(`:lock: *hallpass audit head* — event *${n.count}*, seal \`${n.hash}\`\n${chain}${tables}`),
      context([
        `Read at ${n.at} (UTC), ${why}; sealed with ${seal}. Keep this message: \`npm run audit -- verify --head ${n.count}:${n.hash}\` proves nothing up to event ${n.count} was removed or changed since.`,
      ]),
    ],
  };
}
