import { MIN_BREAK_GLASS_REASON } from '../../../app/submit-request';
import { MAX_REASON_LENGTH, TOKEN_USAGE } from '../../../domain/command';
import { escapeMrkdwn } from '../escape';
import { context, header, type SlackMessage, section } from './blocks';

/** Every form of the `/access` grammar (src/domain/command.ts), with an example each. */
const FORMS: readonly { usage: string; what: string; example?: string }[] = [
  { usage: '/access', what: 'opens the request form' },
  {
    usage: '/access <resource> [<duration>] [from <ip|cidr>] <reason…>',
    what: 'asks for access; approvers are asked in the resource’s channel',
    example: '/access prod-db 30m from 203.0.113.7 debugging slow queries',
  },
  {
    usage: '/access <resource> [<duration>] [from <ip|cidr>] --break-glass <reason…>',
    what: `emergencies only, where the resource allows it: opens at once without approval, for at most the resource’s break-glass maximum; the reason needs at least ${MIN_BREAK_GLASS_REASON} characters, and the approvers are alerted and must review it`,
    example: '/access prod-db 30m from 203.0.113.7 --break-glass primary is down, failing over by hand',
  },
  { usage: '/access list', what: 'shows what is pending or active, with ids' },
  { usage: '/access resources', what: 'shows what you may ask for' },
  {
    usage: '/access revoke <grant-id>',
    what: 'ends a grant now',
    example: '/access revoke grt_abc123',
  },
  {
    usage: '/access extend <grant-id> <duration>',
    what: 'asks for more time on a grant (not for AWS roles: a role session cannot be lengthened)',
    example: '/access extend grt_abc123 30m',
  },
  {
    usage: '/access cancel <request-id>',
    what: 'withdraws a request that is still pending',
    example: '/access cancel req_abc123',
  },
  {
    usage: '/access audit [<days>]',
    what: 'admins only: the audit log of the last <days> days (default 30) as a file',
    example: '/access audit 7',
  },
  {
    usage: TOKEN_USAGE.create,
    what: 'admins only: an API token for a script, CI job or AI agent, limited to those resources, always expiring (default 90d, at most 365d); shown once (see docs/api.md)',
    example: '/access token create nightly-vacuum prod-db --auto-approve-within 15m --expires 90d',
  },
  {
    usage: `${TOKEN_USAGE.list} | ${TOKEN_USAGE.revoke}`,
    what: 'admins only: the live tokens; revoke one (refused at once)',
  },
  {
    usage: TOKEN_USAGE.rotate,
    what: 'admins only: a new secret, shown once; the old one stays valid for the overlap (default 1h)',
  },
  { usage: '/access help', what: 'shows this help' },
];

/** The answer to `/access help`. */
export function helpMessage(): SlackMessage {
  const lines = FORMS.map(
    (f) => `\`${f.usage}\` — ${f.what}${f.example === undefined ? '' : `\n      e.g. \`${f.example}\``}`,
  );
  return {
    text: escapeMrkdwn(
      'How to use /access: /access <resource> [<duration>] [from <ip|cidr>] [--break-glass] <reason…>, or list, resources, revoke, extend, cancel, audit, token, help.',
    ),
    blocks: [
      header('hallpass: temporary access, approved and time-bound'),
      // `<resource>` must not reach Slack raw: `<…>` is Slack's link syntax.
      section(escapeMrkdwn(lines.join('\n'))),
      section(
        [
          '*Durations*: `90s`, `15m`, `1h`, `1h30m`, `2d` — units in that order, each once. Leave it out to get the resource’s default, if it has one.',
          '*Addresses*: a single address (`203.0.113.7`, `2001:db8::1`) or a narrow range (`203.0.113.0/28`); security-group resources need one, roles take none. Wider ranges than the resource allows, and `0.0.0.0/0`, are refused.',
          `*Reason*: everything after the address, up to ${MAX_REASON_LENGTH} characters; approvers and the audit log see it.`,
        ].join('\n'),
      ),
      context([
        'Access starts when it is approved and closes by itself at the end. The channel is told when it opens and when it closes; you are warned before the end, with *Extend* and *Done* buttons (also on the Home tab).',
      ]),
    ],
  };
}
