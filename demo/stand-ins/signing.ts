import { createHmac } from 'node:crypto';
import { ACTION, BLOCK } from '../../src/adapters/slack/ids';

/**
 * Builds exactly what Slack sends to `POST /slack/events`: signed, form-encoded slash commands
 * and interactivity payloads (`payload=<json>`), shaped like Slack's real ones. Defaults name a
 * test workspace; override any field.
 */

export const TEAM_ID = 'T0HALLPASS';
export const TEAM_DOMAIN = 'hallpass-test';
export const API_APP_ID = 'A0HALLPASS';
/** The deprecated verification token Slack still sends; Bolt ignores it in favour of the signature. */
const VERIFICATION_TOKEN = 'legacy-verification-token';
/**
 * Default `response_url`: nothing listens there (connection refused at once), so an app that
 * answers through it without the test giving a stand-in URL fails loudly instead of reaching Slack.
 */
export const UNSET_RESPONSE_URL = 'http://127.0.0.1:9/response/unset';

/** Seconds since the epoch, as Slack writes `X-Slack-Request-Timestamp`. */
export const unixSeconds = (d: Date = new Date()): number => Math.floor(d.getTime() / 1000);

/** `X-Slack-Signature: v0=hex(HMAC-SHA256(secret, "v0:{ts}:{body}"))` and its timestamp header. */
export function signRequest(
  secret: string,
  body: string,
  timestamp: number,
): { 'X-Slack-Signature': string; 'X-Slack-Request-Timestamp': string } {
  const digest = createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex');
  return { 'X-Slack-Signature': `v0=${digest}`, 'X-Slack-Request-Timestamp': String(timestamp) };
}

let triggerSeq = 0;
/** A fresh, Slack-looking trigger id. */
export function triggerId(): string {
  triggerSeq += 1;
  return `${1_000_000_000 + triggerSeq}.1234567890.${triggerSeq.toString(16).padStart(32, '0')}`;
}

export type SlashCommandFields = {
  token: string;
  team_id: string;
  team_domain: string;
  channel_id: string;
  channel_name: string;
  user_id: string;
  user_name: string;
  command: string;
  text: string;
  api_app_id: string;
  is_enterprise_install: string;
  response_url: string;
  trigger_id: string;
};

/**
 * A `/access` slash command as Slack form-encodes it; `text` is what followed `/access`. Slack adds
 * `enterprise_id` (Enterprise Grid) and, in shared channels, `user_team`.
 */
export function slashCommandBody(
  fields: Partial<SlashCommandFields> & { enterprise_id?: string; user_team?: string } = {},
): string {
  const all: SlashCommandFields = {
    token: VERIFICATION_TOKEN,
    team_id: TEAM_ID,
    team_domain: TEAM_DOMAIN,
    channel_id: 'C0123ABCD',
    channel_name: 'prod-access',
    user_id: 'U0REQUESTER',
    user_name: 'requester',
    command: '/access',
    text: '',
    api_app_id: API_APP_ID,
    is_enterprise_install: 'false',
    response_url: UNSET_RESPONSE_URL,
    trigger_id: triggerId(),
    ...fields,
  };
  return new URLSearchParams(all).toString();
}

/** Interactivity arrives as one form field, `payload`, holding JSON. */
const payloadBody = (payload: object): string =>
  new URLSearchParams({ payload: JSON.stringify(payload) }).toString();

/** A `block_actions` payload, form-encoded. */
export const blockActionsBody = (payload: object): string => payloadBody(payload);
/** A `view_submission` payload, form-encoded. */
export const viewSubmissionBody = (payload: object): string => payloadBody(payload);

const slackUser = (userId: string, teamId = TEAM_ID) => ({
  id: userId,
  username: userId.toLowerCase(),
  name: userId.toLowerCase(),
  team_id: teamId,
});

/** Where an interaction happened: the workspace of the surface, the clicker's own, the organisation. */
export type InteractionTeam = {
  /** `team.id` (default the test workspace). */
  teamId?: string;
  /** `user.team_id` (default `teamId`). */
  userTeamId?: string;
  /** `enterprise.id` (default none: `null`). */
  enterpriseId?: string;
};

const teamFields = (t: InteractionTeam) => ({
  team: { id: t.teamId ?? TEAM_ID, domain: TEAM_DOMAIN },
  enterprise: t.enterpriseId === undefined ? null : { id: t.enterpriseId, name: 'an organisation' },
});

/** Button texts hallpass uses, so a click on a known action looks like a click on that button. */
const BUTTON_TEXT: Record<string, string> = {
  [ACTION.approveRequest]: 'Approve',
  [ACTION.denyRequest]: 'Deny',
};

export type ButtonClick = InteractionTeam & {
  userId: string;
  actionId: string;
  value: string;
  /** Channel of the message holding the button. */
  channel: string;
  messageTs: string;
  triggerId?: string;
  responseUrl?: string;
  blockId?: string;
  /** The button's label; defaults to Approve / Deny for hallpass's own action ids. */
  text?: string;
  /** The message as Slack echoes it back (blocks and text); defaults to an empty bot message. */
  message?: { text?: string; blocks?: unknown[] };
};

/** A `block_actions` payload for one button click on a message, shaped like Slack's. */
export function buttonClick(click: ButtonClick) {
  triggerSeq += 1;
  const actionTs = `${unixSeconds()}.${String(triggerSeq % 1e6).padStart(6, '0')}`;
  return {
    type: 'block_actions',
    user: slackUser(click.userId, click.userTeamId ?? click.teamId),
    api_app_id: API_APP_ID,
    token: VERIFICATION_TOKEN,
    container: {
      type: 'message',
      message_ts: click.messageTs,
      channel_id: click.channel,
      is_ephemeral: false,
    },
    trigger_id: click.triggerId ?? triggerId(),
    ...teamFields(click),
    is_enterprise_install: false,
    channel: { id: click.channel, name: 'prod-access' },
    message: {
      type: 'message',
      subtype: 'bot_message',
      ts: click.messageTs,
      bot_id: 'B0HALLPASS',
      text: click.message?.text ?? '',
      blocks: click.message?.blocks ?? [],
    },
    state: { values: {} },
    response_url: click.responseUrl ?? UNSET_RESPONSE_URL,
    actions: [
      {
        type: 'button',
        action_id: click.actionId,
        block_id: click.blockId ?? BLOCK.approvalActions,
        text: {
          type: 'plain_text',
          text: click.text ?? BUTTON_TEXT[click.actionId] ?? click.actionId,
          emoji: true,
        },
        value: click.value,
        action_ts: actionTs,
      },
    ],
  };
}

/** One input's state as Slack reports it in `view.state.values[block_id][action_id]`. */
export type ViewStateValue =
  | { type: 'plain_text_input'; value: string | null }
  | {
      type: 'static_select';
      selected_option: { text: { type: 'plain_text'; text: string; emoji: boolean }; value: string } | null;
    };

/** A plain-text input's state; an empty field comes as `null`, as Slack sends it. */
export const textValue = (value: string | undefined): ViewStateValue => ({
  type: 'plain_text_input',
  value: value === undefined || value === '' ? null : value,
});

/** A static select's state; nothing chosen comes as `null`. */
export const selectValue = (value: string | undefined, text = value ?? ''): ViewStateValue => ({
  type: 'static_select',
  selected_option: value === undefined ? null : { text: { type: 'plain_text', text, emoji: true }, value },
});

export type ViewSubmission = InteractionTeam & {
  userId: string;
  callbackId: string;
  privateMetadata?: string;
  /** `state.values`: block id → action id → value (build values with `textValue` / `selectValue`). */
  values: Record<string, Record<string, unknown>>;
  viewId?: string;
  triggerId?: string;
};

/** A `view_submission` payload, shaped like Slack's. */
export function viewSubmission(s: ViewSubmission) {
  const viewId = s.viewId ?? 'V0HALLPASS1';
  return {
    type: 'view_submission',
    team: { id: s.teamId ?? TEAM_ID, domain: TEAM_DOMAIN },
    user: slackUser(s.userId, s.userTeamId ?? s.teamId),
    api_app_id: API_APP_ID,
    token: VERIFICATION_TOKEN,
    trigger_id: s.triggerId ?? triggerId(),
    view: {
      id: viewId,
      team_id: TEAM_ID,
      type: 'modal',
      blocks: [],
      private_metadata: s.privateMetadata ?? '',
      callback_id: s.callbackId,
      state: { values: s.values },
      hash: '1700000000.abcdef12',
      title: { type: 'plain_text', text: 'hallpass', emoji: true },
      clear_on_close: false,
      notify_on_close: false,
      close: null,
      submit: { type: 'plain_text', text: 'Submit', emoji: true },
      previous_view_id: null,
      root_view_id: viewId,
      app_id: API_APP_ID,
      external_id: '',
      app_installed_team_id: TEAM_ID,
      bot_id: 'B0HALLPASS',
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: teamFields(s).enterprise,
  };
}

/** The request form's values, keyed by the block and action ids the modal uses. */
export function requestModalValues(v: {
  resourceId?: string;
  duration?: string;
  address?: string;
  reason?: string;
}): Record<string, Record<string, ViewStateValue>> {
  return {
    [BLOCK.requestResource]: { [ACTION.requestResourceSelect]: selectValue(v.resourceId) },
    [BLOCK.requestDuration]: { [ACTION.requestDurationInput]: textValue(v.duration) },
    [BLOCK.requestAddress]: { [ACTION.requestAddressInput]: textValue(v.address) },
    [BLOCK.requestReason]: { [ACTION.requestReasonInput]: textValue(v.reason) },
  };
}

/** The deny modal's values. */
export function denyModalValues(reason?: string): Record<string, Record<string, ViewStateValue>> {
  return { [BLOCK.denyReason]: { [ACTION.denyReasonInput]: textValue(reason) } };
}

export type PostOptions = {
  secret: string;
  /** Seconds; defaults to now (Bolt compares it with the real clock, not the test's fake one). */
  timestamp?: number;
  /** Sets `X-Slack-Retry-Num` (and `X-Slack-Retry-Reason`) like a redelivery. */
  retryNum?: number;
  retryReason?: string;
  /** Defaults to exactly `application/x-www-form-urlencoded` (Bolt refuses a charset suffix). */
  contentType?: string;
  /** Replaces the computed signature, to test refusals. */
  signature?: string;
};

/** Posts a signed body to the app, as Slack would, and returns the answer. */
export async function postToApp(
  url: string,
  body: string,
  opts: PostOptions,
): Promise<{ status: number; body: string; headers: Headers }> {
  const timestamp = opts.timestamp ?? unixSeconds();
  const signed = signRequest(opts.secret, body, timestamp);
  const headers: Record<string, string> = {
    'Content-Type': opts.contentType ?? 'application/x-www-form-urlencoded',
    'X-Slack-Request-Timestamp': signed['X-Slack-Request-Timestamp'],
    'X-Slack-Signature': opts.signature ?? signed['X-Slack-Signature'],
  };
  if (opts.retryNum !== undefined) {
    headers['X-Slack-Retry-Num'] = String(opts.retryNum);
    headers['X-Slack-Retry-Reason'] = opts.retryReason ?? 'http_timeout';
  }
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, body: await res.text(), headers: res.headers };
}
