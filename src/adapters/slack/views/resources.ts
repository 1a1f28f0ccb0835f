import type { types } from '@slack/bolt';
import { formatDuration } from '../../../domain/duration';
import { describePorts, type Resource } from '../../../domain/policy';
import { channelLink, escapeMrkdwn, safeCode, safeText } from '../escape';
import { context, header, pack, type SlackMessage, section } from './blocks';
import { resourceTitle } from './describe';
import { LIMITS } from './limits';

/** The answer to `/access resources`: what the user may ask for, in policy order. */
export function resourcesMessage(
  resources: readonly Resource[],
  lingering: ReadonlyMap<string, number> = new Map(),
): SlackMessage {
  if (resources.length === 0) {
    const sentence = 'You may not request any resource. Ask an admin if you need access to something.';
    return { text: sentence, blocks: [section(sentence)] };
  }
  const { chunks, dropped } = pack(
    resources.map((r) => entry(r, lingering.get(r.id))),
    {
      // Header, "and N more" and the usage line take three blocks.
      maxChunks: LIMITS.messageBlocks - 3,
      separator: '\n\n',
    },
  );
  const blocks: types.KnownBlock[] = [header('Resources you may request'), ...chunks.map(section)];
  if (dropped > 0) blocks.push(context([`…and ${dropped} more not shown here.`]));
  blocks.push(
    context([escapeMrkdwn('Ask with `/access <resource> [<duration>] [from <ip|cidr>] <reason…>`')]),
  );
  const n = resources.length;
  return {
    text: `You may request ${n} resource${n === 1 ? '' : 's'}: ${resources
      .slice(0, 20)
      .map((r) => r.id)
      .join(', ')}${n > 20 ? ', …' : ''}`,
    blocks,
  };
}

function entry(r: Resource, lingeringSeconds: number | undefined): string {
  const what =
    r.kind === 'security-group'
      ? `security group · ${safeText(describePorts(r), 300)}`
      : `AWS role ${safeCode(r.roleArn, 300)}`;
  const duration = `up to ${formatDuration(r.maxDuration)}${
    r.defaultDuration === undefined ? '' : ` (default ${formatDuration(r.defaultDuration)})`
  }`;
  const approval = r.autoApprove
    ? 'no approval needed'
    : `${r.approvals} approval${r.approvals === 1 ? '' : 's'} in ${channelLink(r.channel)}`;
  const line = `${resourceTitle(r)}\n${what} · ${duration} · ${approval} · ${safeText(r.region, 60)}`;
  return lingeringSeconds === undefined
    ? line
    : `${line}\n:warning: Connections opened during a grant are not cut at its end: this group's network interfaces keep an idle TCP connection for up to ${formatDuration(lingeringSeconds * 1000)}.`;
}
