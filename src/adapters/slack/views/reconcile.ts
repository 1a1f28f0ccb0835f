import type { OrphanReason, ReconcileReport } from '../../../app/notices';
import type { ManagedRule, RuleHold } from '../../../app/ports';
import { mention, safeCode, safeText, slackDate } from '../escape';
import { fallback, pack, type SlackMessage, section } from './blocks';

/** At most this many sections of findings; the rest is counted ("and N more"). */
const MAX_SECTIONS = 40;

const ORPHAN_WHY: Record<OrphanReason, string> = {
  'unknown-grant': 'its grant is unknown to the database (lost, or restored from an older backup)',
  'grant-ended': 'its grant has already ended',
  'tag-expired': 'its hallpass:expires-at has passed and no grant holds it',
  untracked: 'no grant in the database holds it',
};

/** `tcp 5432`, `tcp 8000-8080`, `all traffic`. */
function portsText(protocol: string, fromPort: number, toPort: number): string {
  if (protocol === '-1') return 'all traffic';
  const ports = fromPort === toPort ? `${fromPort}` : `${fromPort}-${toPort}`;
  return `${safeText(protocol, 10)} ${ports}`;
}

const grantedText = (h: RuleHold): string => `${portsText(h.protocol, h.fromPort, h.toPort)} from ${h.cidr}`;

const foundText = (r: ManagedRule): string =>
  `${portsText(r.protocol, r.fromPort, r.toPort)} from ${r.cidr === undefined ? 'a source that is not an address range' : safeText(r.cidr, 60)}`;

/**
 * The reconciliation report, posted in a resource channel on its own: orphaned rules hallpass
 * revoked, and drift on active grants (a rule gone from AWS, or changed by hand). Everything read
 * from AWS tags is untrusted text and escaped; user ids are mentioned only when they look like one.
 */
export function reconcileReportMessage(report: ReconcileReport): SlackMessage {
  const parts: string[] = [];
  if (report.orphans.length > 0) parts.push(`revoked ${report.orphans.length} orphaned rule(s)`);
  if (report.drift.length > 0) parts.push(`found ${report.drift.length} grant rule(s) changed in AWS`);
  const main = `:warning: *hallpass reconciliation* ${parts.join(' and ')}. Rules tagged managed-by=hallpass that no grant accounts for are revoked; access is never reopened silently.`;

  const entries = [
    ...report.orphans.map((o) => {
      const t = o.rule.tags;
      const tagged =
        t.grantId === undefined
          ? 'no grant tag'
          : `tagged for grant ${safeCode(t.grantId, 60)}${t.requesterId === undefined ? '' : ` of ${mention(t.requesterId)}`}${t.expiresAt === undefined ? '' : ` until ${slackDate(t.expiresAt)}`}`;
      return `• *Orphan revoked:* rule ${safeCode(o.rule.ruleId, 40)} in ${safeCode(o.groupId, 40)} (${safeText(o.region, 30)}), ${foundText(o.rule)}, ${tagged}: ${ORPHAN_WHY[o.reason]}.`;
    }),
    ...report.drift.map((d) => {
      const who = `grant ${safeCode(d.grant.id, 60)} of ${mention(d.grant.requesterId)} on ${safeText(d.grant.resourceId, 60)}`;
      const rule = `rule ${safeCode(d.hold.ruleId, 40)} (${grantedText(d.hold)})`;
      if (d.kind === 'vanished') {
        return `• *Rule vanished:* ${rule} of ${who} is no longer in AWS (deleted by hand, or its managed-by tag removed). The grant stays recorded until its end but gives no access now; hallpass did not reopen it.`;
      }
      const action = !d.revoked
        ? '*Revoking it failed*; hallpass retries on every sweep.'
        : d.grantEnded
          ? 'The rule was revoked and the grant ended.'
          : 'The rule was revoked; ending the grant failed and is retried.';
      return `• *Rule changed by hand:* ${rule} of ${who} now allows ${foundText(d.rule)}. ${action}`;
    }),
  ];
  const { chunks, dropped } = pack(entries, { maxChunks: MAX_SECTIONS });
  const blocks = [section(main), ...chunks.map(section)];
  if (dropped > 0) blocks.push(section(`…and ${dropped} more (see the audit log).`));
  return { text: fallback(`hallpass reconciliation ${parts.join(' and ')}`), blocks };
}
