import type { GrantAlert } from '../../../app/notices';
import { mention, safeCode, safeText, slackDate } from '../escape';
import { context, fallback, type SlackMessage, section } from './blocks';
import { type MentionPrincipal, plainPrincipal, principalsText } from './describe';
import { alsoFailed } from './notices';

/**
 * An alert about one grant, at the top level of a channel (the resource's, and the policy's
 * `alertsChannel`): a close that keeps failing, or a grant the policy no longer describes. The
 * approval thread carries the same news; this one is for whoever watches the channel, not the thread.
 */
export function grantAlertMessage(a: GrantAlert, render: MentionPrincipal = plainPrincipal): SlackMessage {
  const grant = `grant ${safeCode(a.grantId, 80)} (${safeText(a.resourceId, 60)} for ${mention(a.requesterId)}, due ${slackDate(new Date(a.expiresAt))})`;
  const admins = principalsText(a.admins ?? [], render);
  const main =
    a.what === 'close-failing'
      ? `:rotating_light: *hallpass could not close* ${grant} after ${a.attempts ?? 0} attempts${alsoFailed(a.others)}. AWS says: ${safeCode(a.detail, 300)}. It keeps retrying until AWS confirms; check hallpass's AWS permissions and the AWS console.${admins === '' ? '' : ` ${admins}: please check.`}`
      : `:warning: *The policy no longer describes* ${grant}: ${safeText(a.detail, 600)}. It keeps exactly what was approved and closes on time with what opened it; revoke it with \`/access revoke ${safeText(a.grantId, 80)}\` if it should end now.`;
  return {
    text: fallback(
      a.what === 'close-failing'
        ? `hallpass could not close grant ${a.grantId} on ${a.resourceId}`
        : `the policy no longer describes grant ${a.grantId} on ${a.resourceId}`,
    ),
    blocks: [
      section(main),
      context([`Request ${safeCode(a.requestId, 80)}; details in its approval thread.`]),
    ],
  };
}
