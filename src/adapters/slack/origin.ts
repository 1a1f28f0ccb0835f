import type { Place } from '../../domain/standing';

const field = (value: unknown, key: string): unknown =>
  typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined;
const id = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/**
 * Where a signed Slack payload says the action happened, for the directory to check against the
 * installation: every workspace it names — a command's `team_id` (and `user_team`), an interaction's
 * `team.id` and `user.team_id`, an event's `team_id` — each with the payload's organisation
 * (`enterprise_id` / `enterprise.id`). A command typed in another workspace, or a click by a Slack
 * Connect user, names a workspace that is not the installation's.
 */
export function originOf(body: unknown): Place[] {
  const enterpriseId = id(field(body, 'enterprise_id')) ?? id(field(field(body, 'enterprise'), 'id'));
  const teams = [
    id(field(body, 'team_id')),
    id(field(body, 'user_team')),
    id(field(field(body, 'team'), 'id')),
    id(field(field(body, 'user'), 'team_id')),
  ].filter((t): t is string => t !== undefined);
  const places: Place[] = [...new Set(teams)].map((teamId) => ({ teamId, enterpriseId }));
  if (places.length === 0 && enterpriseId !== undefined) places.push({ enterpriseId });
  return places;
}
