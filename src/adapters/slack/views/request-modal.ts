import type { types } from '@slack/bolt';
import { MIN_BREAK_GLASS_REASON } from '../../../app/submit-request';
import { MAX_REASON_LENGTH } from '../../../domain/command';
import { formatDuration } from '../../../domain/duration';
import type { Resource } from '../../../domain/policy';
import { escapeMrkdwn, truncate } from '../escape';
import { ACTION, BLOCK, BREAK_GLASS_OPTION, CALLBACK } from '../ids';
import { context, plain, section } from './blocks';
import { LIMITS } from './limits';

const TITLE = 'Request access';

/** Longest duration text the parser accepts (src/domain/duration.ts). */
const DURATION_INPUT_MAX = 24;
/** Longest address text the parser accepts (src/domain/cidr.ts). */
const ADDRESS_INPUT_MAX = 64;

/**
 * The request form (`/access` with no arguments). The picker holds only the given resources —
 * the ones this user may ask for; at most 100 (Slack's limit), the rest reachable by typing
 * `/access <resource> …`. `private_metadata` is the channel `/access` was typed in, or `''`.
 * With no resources it is `noResourcesModal()` (a select needs at least one option).
 */
export function requestModal(resources: readonly Resource[], channelId?: string): types.ModalView {
  if (resources.length === 0) return noResourcesModal();
  const shown = resources.slice(0, LIMITS.options);
  const options = shown.map(option);
  const select: types.StaticSelect = {
    type: 'static_select',
    action_id: ACTION.requestResourceSelect,
    placeholder: plain('Choose a resource', LIMITS.placeholder),
    options,
  };
  const only = options[0];
  if (options.length === 1 && only !== undefined) select.initial_option = only;

  const blocks: types.KnownBlock[] = [
    { type: 'input', block_id: BLOCK.requestResource, label: plain('Resource', 100), element: select },
  ];
  if (resources.length > shown.length) {
    blocks.push(
      context([
        escapeMrkdwn(
          `Showing the first ${shown.length} of ${resources.length}; type \`/access <resource> …\` for the others.`,
        ),
      ]),
    );
  }

  // Duration is optional only where a default exists; the use case answers DURATION_REQUIRED otherwise.
  const withDefault = shown.filter((r) => r.defaultDuration !== undefined);
  const durationOptional = withDefault.length > 0;
  const maxima = [...new Set(shown.map((r) => r.maxDuration))];
  const maxHint =
    maxima.length === 1 && maxima[0] !== undefined ? ` Up to ${formatDuration(maxima[0])}.` : '';
  blocks.push({
    type: 'input',
    block_id: BLOCK.requestDuration,
    label: plain('Duration', 100),
    optional: durationOptional,
    element: {
      type: 'plain_text_input',
      action_id: ACTION.requestDurationInput,
      placeholder: plain('e.g. 30m', LIMITS.placeholder),
      max_length: DURATION_INPUT_MAX,
    },
    hint: plain(
      `Like 90s, 15m, 1h or 1h30m.${maxHint}${
        durationOptional
          ? withDefault.length === shown.length
            ? ' Leave empty for the resource’s default.'
            : ' Leave empty for the resource’s default, where it has one.'
          : ''
      }`,
      LIMITS.inputHint,
    ),
  });

  if (shown.some((r) => r.kind === 'security-group')) {
    blocks.push({
      type: 'input',
      block_id: BLOCK.requestAddress,
      label: plain('Your address', 100),
      optional: true,
      element: {
        type: 'plain_text_input',
        action_id: ACTION.requestAddressInput,
        placeholder: plain('e.g. 203.0.113.7', LIMITS.placeholder),
        max_length: ADDRESS_INPUT_MAX,
      },
      hint: plain(
        'Required for security groups: the IP address (or narrow CIDR) you connect from. Leave empty for AWS roles.',
        LIMITS.inputHint,
      ),
    });
  }

  blocks.push({
    type: 'input',
    block_id: BLOCK.requestReason,
    label: plain('Reason', 100),
    element: {
      type: 'plain_text_input',
      action_id: ACTION.requestReasonInput,
      multiline: true,
      placeholder: plain('What will you do, and why now?', LIMITS.placeholder),
      max_length: MAX_REASON_LENGTH,
    },
    hint: plain('Approvers and the audit log see this.', LIMITS.inputHint),
  });

  const breakGlass = shown.filter((r) => r.breakGlass);
  if (breakGlass.length > 0) blocks.push(breakGlassInput(breakGlass, shown.length));

  return {
    type: 'modal',
    callback_id: CALLBACK.requestModal,
    title: plain(TITLE, LIMITS.modalTitle),
    submit: plain('Request', LIMITS.modalButton),
    close: plain('Cancel', LIMITS.modalButton),
    private_metadata: channelId ?? '',
    blocks,
  };
}

/**
 * The optional break-glass checkbox: one option, value `BREAK_GLASS_OPTION`. The hint says what
 * it costs — a real reason, a shorter maximum, approvers alerted who must review it — and, when
 * only some offered resources allow it, which ones.
 */
function breakGlassInput(allowing: readonly Resource[], offered: number): types.InputBlock {
  const maxima = [...new Set(allowing.map((r) => r.breakGlassMaxDuration))];
  const max =
    maxima.length === 1 && maxima[0] !== undefined
      ? `up to ${formatDuration(maxima[0])}`
      : 'up to a shorter maximum per resource';
  const ids = allowing.slice(0, 10).map((r) => r.id);
  const where =
    allowing.length === offered
      ? ''
      : ` Only for ${ids.join(', ')}${allowing.length > ids.length ? ` and ${allowing.length - ids.length} more` : ''}.`;
  const option: types.PlainTextOption = {
    text: plain('Break glass: open now without approval', LIMITS.optionText),
    value: BREAK_GLASS_OPTION,
  };
  return {
    type: 'input',
    block_id: BLOCK.requestBreakGlass,
    label: plain('Emergency', 100),
    optional: true,
    element: { type: 'checkboxes', action_id: ACTION.requestBreakGlassInput, options: [option] },
    hint: plain(
      `Emergencies only.${where} Needs a reason of at least ${MIN_BREAK_GLASS_REASON} characters; access lasts ${max}. The approvers are alerted at once and must review it afterwards.`,
      LIMITS.inputHint,
    ),
  };
}

/** Option text is plain text (no escaping needed), at most 75 characters; the value is the resource id. */
function option(r: Resource): types.PlainTextOption {
  const description = r.description?.trim();
  const label = description === undefined || description === '' ? r.id : `${r.id} — ${description}`;
  return { text: plain(label, LIMITS.optionText), value: truncate(r.id, LIMITS.optionValue) };
}

/**
 * Opened at once with the `trigger_id` (valid about 3 s), then replaced by `requestModal` via
 * `views.update` once the user's resources are known.
 */
export function loadingModal(): types.ModalView {
  return {
    type: 'modal',
    title: plain(TITLE, LIMITS.modalTitle),
    close: plain('Cancel', LIMITS.modalButton),
    blocks: [section('Loading the resources you may request…')],
  };
}

/**
 * Shown instead of the form when the user may not ask for anything; `why` (a sentence from
 * errors.ts, e.g. for a guest) replaces the default explanation.
 */
export function noResourcesModal(why?: string): types.ModalView {
  return {
    type: 'modal',
    title: plain(TITLE, LIMITS.modalTitle),
    close: plain('Close', LIMITS.modalButton),
    blocks: [
      section(
        why ??
          'You may not request any resource. If you need access to something, ask an admin to add you to its requesters.',
      ),
    ],
  };
}
