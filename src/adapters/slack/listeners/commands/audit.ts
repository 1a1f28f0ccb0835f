import type { WebClient } from '@slack/web-api';
import type { AuditSearchFilters } from '../../../../domain/audit-search';
import type { ListenerContext } from '../../context';
import type { Message } from '../../reply';
import {
  auditSearchMessage,
  chainLine,
  describeFilters,
  SEARCH_REPLY_MAX_ROWS,
} from '../../views/audit-search';
import { errorText } from '../../views/errors';

type Reply = (m: Message) => Promise<void>;

/** Opens the DM with `user` and uploads `content` there (`files.uploadV2` needs a conversation id). */
async function sendFile(
  client: WebClient,
  user: string,
  file: { filename: string; title: string; content: string; comment: string },
): Promise<void> {
  const dm = await client.conversations.open({ users: user });
  const channel = dm.channel?.id;
  if (channel === undefined) throw new Error('conversations.open returned no channel id');
  await client.files.uploadV2({
    channel_id: channel,
    filename: file.filename,
    title: file.title,
    content: file.content,
    initial_comment: file.comment,
  });
}

/**
 * `/access audit <days>`: the audit export of the last `days` days, as a CSV file in a direct
 * message to the admin who asked. Whether they are an admin is decided by the use case from the
 * policy in force now; a refusal exports nothing. Every row is derived from the hash-chained log and
 * checked against the tables; the message says whether the chain verified and which head was published.
 */
export async function auditCommand(
  ctx: ListenerContext,
  args: { user: string; days: number; client: WebClient; reply: Reply },
): Promise<void> {
  const { user, days, client, reply } = args;
  const actor = await ctx.uc.directory.actor(user);
  const result = await ctx.uc.exportAudit({ actor, days });
  if (!result.ok) return reply({ text: errorText(result) });
  const file = result.value;
  const from = file.window.since.toISOString();
  const to = file.window.until.toISOString();
  const disagree =
    file.disagreeing === 0
      ? ''
      : ` :rotating_light: ${file.disagreeing} row(s) have tables that disagree with the chain (column table_differs; the rows show the chain's values).`;
  const head =
    file.published === undefined
      ? ''
      : ` Head published in the audit channel: \`${file.published.count}:${file.published.hash}\`.`;
  await sendFile(client, user, {
    filename: file.filename,
    title: `hallpass audit export ${from} – ${to}`,
    content: file.csv,
    comment: `Audit export: ${file.rows} request(s) made from ${from} to ${to} (UTC), one row per request with its grant, every field from the hash-chained audit log. ${chainLine(file.chain)}${disagree}${head} Check it later with \`npm run audit -- verify\`.`,
  });
  return reply({
    text: `Sent you the audit export of the last ${days} day(s) (${file.rows} request(s)) as ${file.filename} in a direct message.${file.chain.ok ? '' : ' :rotating_light: The audit chain does not verify: see the message.'}`,
  });
}

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
export async function auditSearchCommand(
  ctx: ListenerContext,
  args: { user: string; filters: AuditSearchFilters; client: WebClient; reply: Reply },
): Promise<void> {
  const { user, filters, client, reply } = args;
  const actor = await ctx.uc.directory.actor(user);
  const result = await ctx.uc.searchAudit({
    actor,
    filters,
    userIdOf: (handle) => userIdOfHandle(client, handle),
  });
  if (!result.ok) return reply({ text: errorText(result) });
  const { rows, chain, filters: resolved, csv } = result.value;
  if (rows.length <= SEARCH_REPLY_MAX_ROWS)
    return reply(auditSearchMessage({ rows, filters: resolved, chain }));
  const filename = `hallpass-audit-search-${ctx.clock.now().toISOString().replace(/[:.]/g, '-')}.csv`;
  await sendFile(client, user, {
    filename,
    title: 'hallpass audit search',
    content: csv,
    comment: `Audit search: ${rows.length} request(s) match ${describeFilters(resolved)}. ${chainLine(chain)}`,
  });
  return reply({
    text: `${rows.length} request(s) match ${describeFilters(resolved)}: too many to list here, so I sent them to you as ${filename} in a direct message.`,
  });
}
