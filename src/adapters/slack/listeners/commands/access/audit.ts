import { chainLine } from '../../../views/audit-search';
import { errorText } from '../../../views/errors';
import { sendFile } from './send-file';
import { whyNotAdmin } from './standing';
import type { Subcommand } from './subcommand';

/**
 * `/access audit <days>`: the audit export of the last `days` days, as a CSV file in a direct
 * message to the admin who asked. Whether they are an admin is decided by the use case from the
 * policy in force now; a refusal exports nothing. Every row is derived from the hash-chained log and
 * checked against the tables; the message says whether the chain verified and which head was published.
 */
export const audit: Subcommand<'audit'> = async (ctx, { cmd, client, context }) => {
  const { days } = cmd;
  const actor = await context.actor();
  const refusal = whyNotAdmin(actor);
  if (refusal !== undefined) return context.reply({ text: refusal });
  const result = await ctx.useCases.exportAudit({ actor, days });
  if (!result.ok) return context.reply({ text: errorText(result) });
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
  await sendFile(client, context.userId, {
    filename: file.filename,
    title: `hallpass audit export ${from} – ${to}`,
    content: file.csv,
    comment: `Audit export: ${file.rows} request(s) made from ${from} to ${to} (UTC), one row per request with its grant, every field from the hash-chained audit log. ${chainLine(file.chain)}${disagree}${head} Check it later with \`npm run audit -- verify\`.`,
  });
  return context.reply({
    text: `Sent you the audit export of the last ${days} day(s) (${file.rows} request(s)) as ${file.filename} in a direct message.${file.chain.ok ? '' : ' :rotating_light: The audit chain does not verify: see the message.'}`,
  });
};
