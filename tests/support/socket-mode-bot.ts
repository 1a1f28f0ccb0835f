import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Backoff } from '../../src/adapters/slack/connection';
import { type Hallpass, startHallpass } from '../../src/compose';
import { loadEnv } from '../../src/config';
import { parsePolicy } from '../../src/config/policy';
import { type FakeEc2, startFakeEc2 } from './fake-ec2';
import { type FakeSocketMode, startFakeSocketMode } from './fake-socket-mode';
import { MemoryLogger } from './memory-logger';
import { slashCommandBody } from './slack-signing';
import { type SlackStandIn, startSlackStandIn } from './slack-stand-in';

export const SOCKET_GROUP = 'sg-0123456789abcdef0';
export const SOCKET_CHANNEL = 'C0123ABCD';
const SOCKET_POLICY = `
resources:
  - id: socket-db
    kind: security-group
    region: us-east-1
    securityGroupId: ${SOCKET_GROUP}
    ports: [5432]
    maxDuration: 1h
    channel: ${SOCKET_CHANNEL}
    autoApprove: true
`;

/** A slash command as Socket Mode delivers it: the fields Slack would form-encode over HTTP, as an object. */
export function slashCommandEnvelope(envelopeId: string, fields: Parameters<typeof slashCommandBody>[0]) {
  return {
    envelope_id: envelopeId,
    type: 'slash_commands',
    accepts_response_payload: true,
    payload: Object.fromEntries(new URLSearchParams(slashCommandBody(fields))),
  };
}

/** hallpass in Socket Mode, connected to a fake Socket Mode server, with what the tests look at. */
export type SocketModeBot = {
  readonly hallpass: Hallpass;
  readonly slack: SlackStandIn;
  readonly socket: FakeSocketMode;
  readonly ec2: FakeEc2;
  readonly logger: MemoryLogger;
  /** Every unhandled rejection of the process while the bot ran (Node 20 would have stopped on the first). */
  readonly rejections: readonly unknown[];
  close(): Promise<void>;
};

/**
 * Starts the whole bot in Socket Mode (SQLite in a temp directory, the real EC2 adapter against the
 * fake EC2, the Slack stand-in's `apps.connections.open` pointing at the fake socket server) and waits
 * for the socket. No Slack client options from the test: the listeners' clients are production's.
 */
export async function startSocketModeBot(opts: {
  name: string;
  slackBackoff?: Backoff;
}): Promise<SocketModeBot> {
  const rejections: unknown[] = [];
  const record = (reason: unknown): void => {
    rejections.push(reason);
  };
  process.on('unhandledRejection', record);
  const dir = mkdtempSync(path.join(tmpdir(), `hallpass-${opts.name}-`));
  const slack = await startSlackStandIn();
  const socket = await startFakeSocketMode();
  slack.setSocketModeUrl(socket.url);
  const ec2 = await startFakeEc2({ groups: [SOCKET_GROUP] });
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'AKIDSOCKETTEST',
    AWS_SECRET_ACCESS_KEY: `${opts.name}-aws-secret`,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_EC2: ec2.url,
  });
  const env = loadEnv({
    SLACK_BOT_TOKEN: `xoxb-${opts.name}`,
    SLACK_APP_TOKEN: `xapp-1-${opts.name}`,
    SLACK_API_URL: slack.apiUrl,
    PORT: '0',
    HALLPASS_DB: path.join(dir, 'hallpass.db'),
    LOG_LEVEL: 'silent',
  });
  if (!env.ok) throw new Error(env.section.problems.join('\n'));
  const logger = new MemoryLogger();
  const hallpass = await startHallpass({
    env: env.value,
    policy: parsePolicy(SOCKET_POLICY),
    logger,
    reconcile: false,
    startupChecks: false,
    ...(opts.slackBackoff === undefined ? {} : { slackBackoff: opts.slackBackoff }),
  });
  await socket.connected();
  return {
    hallpass,
    slack,
    socket,
    ec2,
    logger,
    rejections,
    async close() {
      slack.restore();
      await hallpass.stop();
      await socket.close();
      await slack.close();
      await ec2.close();
      rmSync(dir, { recursive: true, force: true });
      process.off('unhandledRejection', record);
    },
  };
}
