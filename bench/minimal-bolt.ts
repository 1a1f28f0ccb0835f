import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import { ACTION } from '../src/adapters/slack/ids';

/** A running minimal Bolt app: where Slack posts to it, and how to stop it. */
export type MinimalBolt = {
  /** `POST /slack/events`. */
  readonly url: string;
  /** Resolves once every message posted behind an ack has been answered. */
  settled(): Promise<void>;
  close(): Promise<void>;
};

/**
 * The yardstick of the `ack` figures: the smallest Bolt app that does what hallpass's answer to a
 * command or a click looks like from Slack's side. Bolt's own HTTP receiver, signature verification on
 * with the same signing secret, `/access` and the Approve button each acked first and then one message
 * posted to the Slack stand-in. No database, no policy, no AWS: what Bolt itself costs.
 */
export async function startMinimalBolt(opts: {
  readonly signingSecret: string;
  readonly botToken: string;
  /** The Slack stand-in's Web API base URL. */
  readonly apiUrl: string;
}): Promise<MinimalBolt> {
  const receiver = new HTTPReceiver({
    signingSecret: opts.signingSecret,
    endpoints: '/slack/events',
    processBeforeResponse: false,
    signatureVerification: true,
  });
  const app = new App({
    token: opts.botToken,
    receiver,
    logLevel: LogLevel.ERROR,
    clientOptions: { slackApiUrl: opts.apiUrl },
  });
  const behind = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>): void => {
    behind.add(work);
    void work.finally(() => behind.delete(work));
  };
  app.command('/access', async ({ ack, client, command }) => {
    await ack();
    track(client.chat.postMessage({ channel: command.channel_id, text: `asked: ${command.text}` }));
  });
  app.action(ACTION.approveRequest, async ({ ack, client, body }) => {
    await ack();
    track(client.chat.postMessage({ channel: body.channel?.id ?? body.user.id, text: 'approved' }));
  });
  const server = await app.start(0);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/slack/events`,
    async settled() {
      while (behind.size > 0) await Promise.allSettled([...behind]);
    },
    close: () => app.stop().then(() => undefined),
  };
}
