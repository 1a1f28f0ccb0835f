import type { WebClient } from '@slack/web-api';

/** Opens the DM with `user` and uploads `content` there (`files.uploadV2` needs a conversation id). */
export async function sendFile(
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
