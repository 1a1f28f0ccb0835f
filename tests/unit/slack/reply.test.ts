import type { WebClient } from '@slack/web-api';
import { replyPrivately } from '../../../src/adapters/slack/reply';
import { MemoryLogger } from '../../support/memory-logger';

/** A client whose two posting methods record their calls and fail when told to. */
function fakeClient(fail: { ephemeral?: boolean; dm?: boolean } = {}) {
  const calls: { method: string; channel: string }[] = [];
  const client = {
    chat: {
      postEphemeral: async (args: { channel: string }) => {
        calls.push({ method: 'postEphemeral', channel: args.channel });
        if (fail.ephemeral === true) throw new Error('channel_not_found');
        return { ok: true };
      },
      postMessage: async (args: { channel: string }) => {
        calls.push({ method: 'postMessage', channel: args.channel });
        if (fail.dm === true) throw new Error('cannot_dm_bot');
        return { ok: true };
      },
    },
  } as unknown as WebClient;
  return { client, calls };
}

describe('replyPrivately', () => {
  const message = { text: 'nothing was changed' };

  it('answers through response_url when it works, and nothing else', async () => {
    const { client, calls } = fakeClient();
    const respond = jest.fn().mockResolvedValue(undefined);
    const logger = new MemoryLogger();
    await replyPrivately({ respond, client, channel: 'C1', user: 'U1', logger }, message);
    expect(respond).toHaveBeenCalledWith(
      expect.objectContaining({ response_type: 'ephemeral', text: message.text }),
    );
    expect(calls).toEqual([]);
    expect(logger.lines).toEqual([]);
  });

  it('falls back to an ephemeral message in the channel, then to a direct message, logging each step', async () => {
    const { client, calls } = fakeClient({ ephemeral: true });
    const respond = jest.fn().mockRejectedValue(new Error('expired_url'));
    const logger = new MemoryLogger();
    await replyPrivately({ respond, client, channel: 'C1', user: 'U1', logger }, message);
    expect(calls).toEqual([
      { method: 'postEphemeral', channel: 'C1' },
      { method: 'postMessage', channel: 'U1' },
    ]);
    expect(logger.lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'response_url failed; falling back to chat.postEphemeral'],
      ['warn', 'chat.postEphemeral failed; falling back to a direct message'],
    ]);
  });

  it('goes straight to a direct message without a response_url or a channel', async () => {
    const { client, calls } = fakeClient();
    await replyPrivately({ client, user: 'U1', logger: new MemoryLogger() }, message);
    expect(calls).toEqual([{ method: 'postMessage', channel: 'U1' }]);
  });

  it('never throws when every route fails, and says so once as an error', async () => {
    const { client } = fakeClient({ ephemeral: true, dm: true });
    const logger = new MemoryLogger();
    await expect(
      replyPrivately({ client, channel: 'C1', user: 'U1', logger }, message),
    ).resolves.toBeUndefined();
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([
      'could not reply to the user by any route',
    ]);
  });
});
