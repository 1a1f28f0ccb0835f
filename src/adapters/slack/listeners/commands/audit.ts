import type { WebClient } from '@slack/web-api';
import type { ListenerContext } from '../../context';
import { errorText } from '../../views/errors';

/**
 * `/access audit <days>`: the audit export of the last `days` days, as a CSV file in a direct
 * message to the admin who asked. Whether they are an admin is decided by the use case from the
 * policy in force now; a refusal exports nothing. `files.uploadV2` needs a conversation id (a user
 * id will not do), so the DM is opened first (`im:write`); the upload needs `files:write`.
 */
export async function auditCommand(
  ctx: ListenerContext,
  args: {
    user: string;
    days: number;
    client: WebClient;
    reply: (m: { text: string }) => Promise<void>;
  },
): Promise<void> {
  const { user, days, client, reply } = args;
  const actor = await ctx.uc.directory.actor(user);
  const result = ctx.uc.exportAudit({ actor, days });
  if (!result.ok) return reply({ text: errorText(result.error, result.detail) });
  const file = result.value;
  const from = file.window.since.toISOString();
  const to = file.window.until.toISOString();

  const dm = await client.conversations.open({ users: user });
  const channel = dm.channel?.id;
  if (channel === undefined) throw new Error('conversations.open returned no channel id');
  await client.files.uploadV2({
    channel_id: channel,
    filename: file.filename,
    title: `hallpass audit export ${from} – ${to}`,
    content: file.csv,
    initial_comment: `Audit export: ${file.rows} request(s) made from ${from} to ${to} (UTC), one row per request with its grant. Check the log’s integrity with \`npm run audit -- verify\`.`,
  });
  return reply({
    text: `Sent you the audit export of the last ${days} day(s) (${file.rows} request(s)) as ${file.filename} in a direct message.`,
  });
}
