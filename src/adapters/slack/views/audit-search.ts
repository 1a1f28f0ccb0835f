import type { AuditExportRow, ChainStatus } from '../../../app/audit-ports';
import type { ResolvedSearchFilters } from '../../../domain/audit-search';
import { mention, safeCode, safeText } from '../escape';
import { context, fallback, type SlackMessage, section } from './blocks';

/** More rows than this go out as a file by direct message instead of a reply. */
export const SEARCH_REPLY_MAX_ROWS = 10;

/** The filters in words, as typed back to the admin. */
export function describeFilters(f: ResolvedSearchFilters): string {
  const parts = [
    ...(f.who === undefined ? [] : [`who ${mention(f.who.userId)}`]),
    ...(f.resourceId === undefined ? [] : [`resource ${safeCode(f.resourceId, 70)}`]),
    ...(f.address === undefined ? [] : [`address ${safeCode(f.address.cidr, 60)}`]),
    ...(f.from === undefined ? [] : [`from ${f.from.toISOString()}`]),
    ...(f.to === undefined ? [] : [`to ${f.to.toISOString()}`]),
    ...(f.endReason === undefined ? [] : [`ended ${f.endReason}`]),
  ];
  return parts.length === 0 ? 'everything on record' : parts.join(', ');
}

const at = (d: Date | undefined): string => (d === undefined ? '—' : `\`${d.toISOString()}\``);

/** One request, on one line: who, what, from where, and the exact times of its access. */
function rowLine(r: AuditExportRow): string {
  const where =
    r.address !== undefined
      ? ` from ${safeCode(r.address, 60)}`
      : r.roleArn !== undefined
        ? ` as ${safeCode(r.roleArn, 120)}`
        : '';
  const what = `${mention(r.requesterId)} on ${safeCode(r.resourceId, 70)}${where}`;
  const flags = [
    ...((r.tableDiffers?.length ?? 0) > 0
      ? [`:rotating_light: tables differ: ${(r.tableDiffers ?? []).join(', ')}`]
      : []),
    ...((r.notInChain?.length ?? 0) > 0 ? [`not in chain: ${(r.notInChain ?? []).join(', ')}`] : []),
  ];
  const tail = flags.length === 0 ? '' : ` (${safeText(flags.join('; '), 300)})`;
  if (r.grantId === undefined) {
    return `• ${safeCode(r.requestId, 40)} ${what}: ${r.state}, asked ${at(r.requestedAt)}, no access${tail}`;
  }
  const ended =
    r.endedAt === undefined
      ? r.grantState === 'closing'
        ? 'still closing'
        : 'not ended yet'
      : `ended ${at(r.endedAt)} (${r.endReason ?? '?'}${r.endedBy === undefined ? '' : ` by ${mention(r.endedBy)}`})`;
  return `• ${safeCode(r.grantId, 40)} ${what}: started ${at(r.startedAt)}, planned end ${at(r.expiresAt)}, ${ended}${tail}`;
}

/** A line about the chain behind the answer: verified, or broken (said first and loudly). */
export function chainLine(chain: ChainStatus): string {
  return chain.ok
    ? `Checked against the audit chain (${chain.events} events, verified; head ${chain.head.count}:\`${chain.head.hash.slice(0, 16)}…\`).`
    : `:rotating_light: *The audit chain is BROKEN* at event ${chain.firstBrokenSeq}: ${safeText(chain.message, 300)} These rows are not evidence until that is resolved (\`npm run audit -- verify\`).`;
}

/** A short answer to `/access audit search …`: a line per matching request, the chain's status below. */
export function auditSearchMessage(args: {
  readonly rows: readonly AuditExportRow[];
  readonly filters: ResolvedSearchFilters;
  readonly chain: ChainStatus;
}): SlackMessage {
  const { rows, filters, chain } = args;
  const filtered = describeFilters(filters) !== 'everything on record';
  const title =
    rows.length === 0
      ? filtered
        ? `No request on record matches ${describeFilters(filters)}.`
        : 'No request is on record yet.'
      : `*${rows.length} request(s)* match ${describeFilters(filters)} (times in UTC; planned end after extensions, ended = when AWS confirmed):`;
  return {
    text: fallback(`Audit search: ${rows.length} request(s)`),
    blocks: [
      section(title),
      ...(rows.length === 0 ? [] : [section(rows.map(rowLine).join('\n'))]),
      context([chainLine(chain)]),
    ],
  };
}
