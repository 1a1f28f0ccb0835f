/**
 * `hallpass mcp`: a Model Context Protocol server over stdio for AI agents, on hallpass's HTTP API.
 *
 * Tools: list_resources, request_access, wait_for_access, access_status, end_access. Every request it
 * makes names the agent (`HALLPASS_AGENT_NAME`, else the name the MCP client gives, else `mcp-agent`)
 * and whom it acts for (`HALLPASS_ON_BEHALF_OF`), and is held by a lease this process renews while it
 * runs: when the agent host closes stdin, on SIGTERM/SIGINT, or if this process dies, the windows end.
 * Approvals are hallpass's: this server asks, it never decides.
 *
 * stdout carries the protocol only; everything else goes to stderr.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { parseDuration } from '../domain/duration';
import { ApiClient, type ApiRequest, type Credentials, clientSettingsFrom, isFinal } from './api-client';
import { LeaseKeeper } from './lease-keeper';
import { DEFAULT_LEASE_TTL } from './run';

/** The longest `wait_for_access` waits in one call; the agent calls again to wait longer. */
export const MAX_WAIT_SECONDS = 600;
/** Under the 60 s an MCP client waits for an answer by default (the SDK's DEFAULT_REQUEST_TIMEOUT_MSEC). */
export const DEFAULT_WAIT_SECONDS = 50;
export const DEFAULT_AGENT_NAME = 'mcp-agent';

export const MCP_USAGE = `Usage:
  hallpass mcp
      Serves the Model Context Protocol over stdio for an AI agent: list_resources, request_access,
      wait_for_access, access_status, end_access. Reads HALLPASS_URL, HALLPASS_TOKEN,
      HALLPASS_AGENT_NAME (default: the MCP client's name, else mcp-agent), HALLPASS_ON_BEHALF_OF,
      HALLPASS_MCP_LEASE (default 30s), HALLPASS_MCP_CREDENTIALS (return | omit; default return).
      Every request carries the agent's name and a lease; the windows end when stdin closes.`;

type Settings = {
  agentName: string | undefined;
  onBehalfOf: string | undefined;
  leaseTtl: string;
  credentials: 'return' | 'omit';
  pollMs: number;
};

function settingsFrom(env: NodeJS.ProcessEnv): Settings {
  const leaseTtl = env['HALLPASS_MCP_LEASE']?.trim() || DEFAULT_LEASE_TTL;
  const ttl = parseDuration(leaseTtl);
  if (ttl === undefined || ttl < 3_000)
    throw new Error(
      `HALLPASS_MCP_LEASE must be a duration of at least 3s (e.g. 30s), not ${JSON.stringify(leaseTtl)}.`,
    );
  const credentials = env['HALLPASS_MCP_CREDENTIALS']?.trim() || 'return';
  if (credentials !== 'return' && credentials !== 'omit')
    throw new Error('HALLPASS_MCP_CREDENTIALS must be return or omit.');
  const agentName = env['HALLPASS_AGENT_NAME']?.trim() || undefined;
  if (agentName !== undefined && agentName.length > 80)
    throw new Error('HALLPASS_AGENT_NAME must be at most 80 characters.');
  const poll = Number(env['HALLPASS_POLL_INTERVAL_MS']);
  return {
    agentName,
    onBehalfOf: env['HALLPASS_ON_BEHALF_OF']?.trim() || undefined,
    leaseTtl,
    credentials,
    pollMs: Number.isFinite(poll) && poll >= 100 ? poll : 2_000,
  };
}

/** What the SDK passes a tool besides its arguments: cancellation, the progress token, notifications. */
type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;
type ToolResult = { content: { type: 'text'; text: string }[]; isError?: boolean };
const ok = (value: unknown): ToolResult => ({
  content: [{ type: 'text', text: JSON.stringify(value, null, 2) }],
});
const failed = (error: unknown): ToolResult => ({
  content: [{ type: 'text', text: error instanceof Error ? error.message : String(error) }],
  isError: true,
});
/** Runs a tool's body; an error becomes an MCP tool error carrying the server's message. */
const tool =
  <A>(body: (args: A, extra: Extra) => Promise<unknown>) =>
  async (args: A, extra: Extra): Promise<ToolResult> => {
    try {
      return ok(await body(args, extra));
    } catch (error) {
      return failed(error);
    }
  };

const RequestId = z.string().min(1).max(100).describe('the id request_access returned (req_…)');

/** What an agent is told about a request: the API's view, with what to do next. */
function summary(r: ApiRequest, live: boolean): Record<string, unknown> {
  const next =
    r.status === 'pending' || r.status === 'opening'
      ? 'call wait_for_access with this requestId'
      : r.status === 'active'
        ? live
          ? 'act now; call end_access as soon as you are done'
          : 'the window is open but no longer held by this server'
        : 'this request is over; ask again with request_access if you still need access';
  return {
    requestId: r.id,
    resource: r.resource,
    status: r.status,
    duration: r.duration,
    ...(r.message === undefined ? {} : { message: r.message }),
    ...(r.grant === undefined ? {} : { grant: r.grant }),
    ...(r.lease === undefined ? {} : { lease: r.lease }),
    next,
  };
}

/** Starts the MCP server on stdin/stdout; resolves when it has ended every window it held. */
export async function serveMcp(env: NodeJS.ProcessEnv): Promise<number> {
  let api: ApiClient;
  let settings: Settings;
  try {
    api = new ApiClient(clientSettingsFrom(env));
    settings = settingsFrom(env);
  } catch (error) {
    process.stderr.write(`hallpass mcp: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  const log = (text: string) => process.stderr.write(`hallpass mcp: ${text}\n`);
  const leases = new LeaseKeeper({
    api,
    intervalMs: Math.max(1_000, Math.floor((parseDuration(settings.leaseTtl) ?? 30_000) / 3)),
    onLost: (id, error) => log(`${id}: the lease was refused (${error.message}); the window is over`),
    onTrouble: (id, error) =>
      log(`${id}: could not renew the lease: ${error instanceof Error ? error.message : String(error)}`),
  });

  const server = new McpServer({ name: 'hallpass', version: '0.1.0' });
  const agent = () => {
    const name =
      settings.agentName ?? server.server.getClientVersion()?.name?.slice(0, 80) ?? DEFAULT_AGENT_NAME;
    return { name, ...(settings.onBehalfOf === undefined ? {} : { onBehalfOf: settings.onBehalfOf }) };
  };

  server.registerTool(
    'list_resources',
    {
      description:
        'Lists the production resources this agent may ask for: id, kind (security-group or aws-role), longest duration, ports, region, and whether the policy approves agents automatically.',
      inputSchema: {},
      annotations: { readOnlyHint: true },
    },
    tool(async () => ({ resources: await api.resources() })),
  );

  server.registerTool(
    'request_access',
    {
      description:
        'Asks for a short, time-bound window of access to one resource. People approve it in Slack (unless the policy auto-approves agents for it); the request names you and whom you act for. Then call wait_for_access. Ask for the shortest duration that does the job, and end_access when done.',
      inputSchema: {
        resource: z.string().min(1).max(200).describe('a resource id from list_resources'),
        duration: z
          .string()
          .regex(/^(\d{1,6}d)?(\d{1,6}h)?(\d{1,6}m)?(\d{1,6}s)?$/)
          .refine((d) => (parseDuration(d) ?? 0) > 0, 'a duration such as 10m or 1h')
          .describe('how long, e.g. 10m (at most the resource maxDuration)'),
        reason: z
          .string()
          .trim()
          .min(1)
          .max(500)
          .describe('why: shown to the approvers and kept in the audit record'),
        from: z
          .string()
          .max(50)
          .optional()
          .describe('the ip or cidr to open a security group to (security-group resources)'),
      },
    },
    tool(async (args: { resource: string; duration: string; reason: string; from?: string | undefined }) => {
      const created = await api.createRequest({
        resource: args.resource,
        duration: args.duration,
        reason: args.reason,
        ...(args.from === undefined ? {} : { from: args.from }),
        lease: { ttl: settings.leaseTtl },
        agent: agent(),
      });
      if (!isFinal(created.status)) leases.add(created.id);
      log(`asked for ${created.resource} (${created.id}, ${created.status})`);
      return summary(created, leases.has(created.id));
    }),
  );

  server.registerTool(
    'wait_for_access',
    {
      description: `Waits until a request is approved and open, or is over (denied, timed out, failed, cancelled), at most timeoutSeconds (≤ ${MAX_WAIT_SECONDS}). When active, returns the opened address and ports, or for a role the temporary AWS credentials to use (valid only until the window ends).`,
      inputSchema: {
        requestId: RequestId,
        timeoutSeconds: z
          .number()
          .int()
          .min(1)
          .max(MAX_WAIT_SECONDS)
          .default(DEFAULT_WAIT_SECONDS)
          .describe(
            `at most ${MAX_WAIT_SECONDS}; the default ${DEFAULT_WAIT_SECONDS} fits the usual 60 s limit of an MCP call`,
          ),
      },
    },
    tool(async (args: { requestId: string; timeoutSeconds: number }, extra) => {
      const started = Date.now();
      const deadline = started + args.timeoutSeconds * 1000;
      const progressToken = extra._meta?.progressToken;
      let r = await api.getRequest(args.requestId);
      while (!isFinal(r.status) && r.status !== 'active' && Date.now() < deadline && !extra.signal.aborted) {
        if (progressToken !== undefined) {
          // Progress keeps a client that resets its time-out on progress waiting as long as asked.
          await extra
            .sendNotification({
              method: 'notifications/progress',
              params: {
                progressToken,
                progress: Math.floor((Date.now() - started) / 1000),
                total: args.timeoutSeconds,
                message: `${r.id} is ${r.status === 'opening' ? 'approved, opening' : 'waiting for approval'}`,
              },
            })
            .catch(() => undefined);
        }
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(settings.pollMs, Math.max(0, deadline - Date.now()))),
        );
        r = await api.getRequest(args.requestId);
      }
      if (isFinal(r.status)) leases.remove(r.id);
      const out = summary(r, leases.has(r.id));
      if (r.status !== 'active' && !isFinal(r.status))
        out['next'] = 'still waiting: call wait_for_access again';
      if (r.status === 'active' && r.grant?.roleArn !== undefined) {
        if (settings.credentials === 'return') {
          const c: Credentials = await api.credentials(r.id);
          out['credentials'] = {
            AWS_ACCESS_KEY_ID: c.accessKeyId,
            AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
            AWS_SESSION_TOKEN: c.sessionToken,
            AWS_REGION: c.region,
            expiration: c.expiration,
          };
        } else {
          out['credentials'] = 'withheld (HALLPASS_MCP_CREDENTIALS=omit)';
        }
      }
      return out;
    }),
  );

  server.registerTool(
    'access_status',
    {
      description: 'The current state of a request and its grant (status, expiresAt, why it ended).',
      inputSchema: { requestId: RequestId },
      annotations: { readOnlyHint: true },
    },
    tool(async (args: { requestId: string }) => {
      const r = await api.getRequest(args.requestId);
      if (isFinal(r.status)) leases.remove(r.id);
      return summary(r, leases.has(r.id));
    }),
  );

  server.registerTool(
    'end_access',
    {
      description:
        'Ends a window now (or cancels a request still waiting). Call it as soon as the work is done.',
      inputSchema: { requestId: RequestId },
      annotations: { destructiveHint: false, idempotentHint: true },
    },
    tool(async (args: { requestId: string }) => {
      leases.remove(args.requestId);
      const r = await api.done(args.requestId);
      log(`ended ${r.id} (${r.status})`);
      return summary(r, false);
    }),
  );

  let closing: Promise<void> | undefined;
  const shutdown = (why: string): Promise<void> => {
    closing ??= (async () => {
      const ids = leases.ids();
      leases.stop();
      if (ids.length > 0) log(`${why}: ending ${ids.join(', ')}`);
      const quick = new ApiClient({ ...clientSettingsFrom(env), attempts: 2, timeoutMs: 1_500 });
      await Promise.all(
        ids.map((id) =>
          quick.done(id).then(
            () => undefined,
            (error: unknown) =>
              log(
                `could not end ${id} (${error instanceof Error ? error.message : String(error)}); its lease ends it within ${settings.leaseTtl}`,
              ),
          ),
        ),
      );
      await server.close().catch(() => undefined);
    })();
    return closing;
  };

  const done = new Promise<number>((resolve) => {
    const stop = (why: string, code: number) => void shutdown(why).then(() => resolve(code));
    process.stdin.on('end', () => stop('stdin closed', 0));
    process.stdin.on('close', () => stop('stdin closed', 0));
    process.once('SIGTERM', () => stop('SIGTERM', 0));
    process.once('SIGINT', () => stop('SIGINT', 0));
  });
  await server.connect(new StdioServerTransport());
  log(`serving on stdio for ${settings.agentName ?? 'the MCP client'} (leases of ${settings.leaseTtl})`);
  return done;
}
