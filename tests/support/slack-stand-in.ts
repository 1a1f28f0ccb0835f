/** The Slack Web API stand-in, shared with `npm run demo` (demo/stand-ins/slack.ts): one copy for tests and the demo. */
import type { SlackStandIn } from '../../demo/stand-ins/slack';
import { USERS_INFO_RETRY_DELAYS_MS } from '../../src/adapters/slack/directory';

export * from '../../demo/stand-ins/slack';

/** Makes the next look-up of a user fail for good: `users.info` answers 500 to every attempt the directory makes. */
export function failUsersInfo(slack: Pick<SlackStandIn, 'failNext'>): void {
  for (let i = 0; i <= USERS_INFO_RETRY_DELAYS_MS.length; i++) slack.failNext('users.info', { status: 500 });
}
