import type { WebClient } from '@slack/web-api';
import {
  auditSearchMessage,
  chainLine,
  describeFilters,
  SEARCH_REPLY_MAX_ROWS,
} from '../../../views/audit-search';
import { errorText } from '../../../views/errors';
import { sendFile } from './send-file';
import { whyNotAdmin } from './standing';
import type { Subcommand } from './subcommand';

/** A Slack user id for `@handle` (users.list, page by page), or `undefined`. */
async function userIdOfHandle(client: WebClient, handle: string): Promise<string | undefined> {
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const res = await client.users.list({ limit: 200, ...(cursor === undefined ? {} : { cursor }) });
    for (const m of res.members ?? []) {
      if (m.deleted === true || m.id === undefined) continue;
      const names = [m.name, m.profile?.display_name_normalized, m.profile?.display_name]
        .filter((n): n is string => n !== undefined && n !== '')
        .map((n) => n.toLowerCase());
      if (names.includes(handle)) return m.id;
    }
    cursor = res.response_metadata?.next_cursor;
    if (cursor === undefined || cursor === '') return undefined;
  }
  return undefined;
}

/**
 * `/access audit search who:… resource:… address:… from:… to:… end:…`: the chain-checked record,
 * filtered, for admins. A short answer is a reply; more than `SEARCH_REPLY_MAX_ROWS` rows go out as a
 * CSV file by direct message, like the export.
 */
export const auditSearch: Subcommand<'audit-search'> = async (ctx, { cmd, client, context }) => {
  const actor = await context.actor();
  const refusal = whyNotAdmin(actor);
  if (refusal !== undefined) return context.reply({ text: refusal });
  const result = await ctx.useCases.searchAudit({
    actor,
    filters: cmd.filters,
    userIdOf: (handle) => userIdOfHandle(client, handle),
  });
  if (!result.ok) return context.reply({ text: errorText(result) });
  const { rows, chain, filters: resolved, csv } = result.value;
  if (rows.length <= SEARCH_REPLY_MAX_ROWS)
    return context.reply(auditSearchMessage({ rows, filters: resolved, chain }));
  const filename = `hallpass-audit-search-${ctx.clock.now().toISOString().replace(/[:.]/g, '-')}.csv`;
  await sendFile(client, context.userId, {
    filename,
    title: 'hallpass audit search',
    content: csv,
    comment: `Audit search: ${rows.length} request(s) match ${describeFilters(resolved)}. ${chainLine(chain)}`,
  });
  return context.reply({
    text: `${rows.length} request(s) match ${describeFilters(resolved)}: too many to list here, so I sent them to you as ${filename} in a direct message.`,
  });
};
