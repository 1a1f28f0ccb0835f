import type { ApprovalCard } from '../../../app/notices';
import type { SessionCredentials } from '../../../app/ports';
import type { Grant } from '../../../domain/grant';
import { safeText, slackDate } from '../escape';
import { context, type SlackMessage, section } from './blocks';

/**
 * The one message that carries role credentials: a direct message to the requester with
 * ready-to-paste `export` lines. The secret is only in the code block; the fallback text (which
 * shows in notifications and on lock screens) carries none of it.
 */
export function credentialsMessage(
  card: ApprovalCard,
  grant: Grant,
  credentials: SessionCredentials,
): SlackMessage {
  const role = card.resource.kind === 'aws-role' ? card.resource.roleArn : card.resource.id;
  const region = card.resource.region;
  const exports = [
    `export AWS_ACCESS_KEY_ID=${credentials.accessKeyId}`,
    `export AWS_SECRET_ACCESS_KEY=${credentials.secretAccessKey}`,
    `export AWS_SESSION_TOKEN=${credentials.sessionToken}`,
    `export AWS_REGION=${region}`,
  ].join('\n');
  const until = slackDate(grant.expiresAt);
  const text = `Your access to ${card.resource.id} is open until ${grant.expiresAt.toISOString()} (grant ${grant.id}). Credentials are in this message.`;
  return {
    text,
    blocks: [
      section(
        `Your access to *${safeText(card.resource.id, 80)}* as role \`${safeText(role, 300)}\` is open until ${until} (grant ${safeText(grant.id, 80)}). Paste these into your shell:`,
      ),
      // STS credential characters are base64 and alphanumerics: nothing Slack would parse in a code block.
      section(`\`\`\`${exports}\`\`\``),
      context([
        `They stop working at ${until}; ending the grant early cuts them off too. Keep them to yourself: they act as you, and CloudTrail records your identity with every call.`,
      ]),
    ],
  };
}
