import {
  type Actor,
  isAdmin,
  isApprover,
  mayRequest,
  type Policy,
  requestableBy,
  type SecurityGroupResource,
  standingRefusal,
} from '../../../src/domain/policy';
import {
  type Account,
  type IdentityFacts,
  type Installation,
  isHome,
  type Place,
  refusalOf,
  type Standing,
  standingOf,
} from '../../../src/domain/standing';
import { buildSgResource } from '../../support/builders';

const HOME: Installation = { teamId: 'T0HOME', orgWide: false };
const GRID_HOME: Installation = { teamId: 'T0HOME', enterpriseId: 'E0ORG', orgWide: false };
const ORG_INSTALL: Installation = { enterpriseId: 'E0ORG', orgWide: true };

const member = (overrides: Partial<Account> = {}): Account => ({
  teamId: 'T0HOME',
  teams: [],
  restricted: false,
  ultraRestricted: false,
  stranger: false,
  deleted: false,
  ...overrides,
});

const facts = (
  account: Account | undefined,
  origin: readonly Place[] = [{ teamId: 'T0HOME' }],
  installation: Installation | undefined = HOME,
): IdentityFacts => ({ installation, account, origin });

describe('standingOf: who counts as a member', () => {
  it.each<[string, IdentityFacts, readonly string[], Standing]>([
    ['a full member of the installed workspace, acting there', facts(member()), [], 'member'],
    ['a member re-checked without a payload (a voter at the quorum)', facts(member(), []), [], 'member'],
    ['security: a multi-channel guest', facts(member({ restricted: true })), [], 'guest'],
    ['security: a single-channel guest', facts(member({ ultraRestricted: true })), [], 'guest'],
    ['security: a deactivated account', facts(member({ deleted: true })), [], 'deactivated'],
    [
      'security: a Slack Connect user (account of another workspace)',
      facts(member({ teamId: 'T0OTHER' })),
      [],
      'external',
    ],
    ['security: a user Slack calls a stranger', facts(member({ stranger: true })), [], 'external'],
    [
      'security: a member of ours whose command was signed in another workspace',
      facts(member(), [{ teamId: 'T0OTHER' }]),
      [],
      'external',
    ],
    [
      'security: a command signed in another organisation, though naming our workspace',
      facts(member(), [{ teamId: 'T0HOME', enterpriseId: 'E0OTHER' }]),
      [],
      'external',
    ],
    [
      'security: a click whose user.team_id is another workspace',
      facts(member(), [{ teamId: 'T0HOME' }, { teamId: 'T0OTHER' }]),
      [],
      'external',
    ],
    ['security: Slack did not answer users.info (fail closed)', facts(undefined), [], 'unknown'],
    [
      'security: auth.test has not answered (fail closed)',
      { installation: undefined, account: member(), origin: [] },
      [],
      'unknown',
    ],
    [
      'a full member of a trusted workspace',
      facts(member({ teamId: 'T0PARTNER' }), [{ teamId: 'T0PARTNER' }]),
      ['T0PARTNER'],
      'member',
    ],
    [
      'a guest of a trusted workspace is still a guest',
      facts(member({ teamId: 'T0PARTNER', restricted: true }), [{ teamId: 'T0PARTNER' }]),
      ['T0PARTNER'],
      'guest',
    ],
    [
      'a member of a trusted organisation, from any of its workspaces',
      facts(member({ teamId: 'T0SISTER', enterpriseId: 'E0PARTNER' }), [
        { teamId: 'T0SISTER', enterpriseId: 'E0PARTNER' },
      ]),
      ['E0PARTNER'],
      'member',
    ],
    [
      'trusting one workspace does not trust another',
      facts(member({ teamId: 'T0OTHER' }), [{ teamId: 'T0OTHER' }]),
      ['T0PARTNER'],
      'external',
    ],
    [
      'a Grid member of our workspace whose home workspace is another of the organisation',
      facts(
        member({ teamId: 'T0SISTER', enterpriseId: 'E0ORG', teams: ['T0SISTER', 'T0HOME'] }),
        [{ teamId: 'T0HOME', enterpriseId: 'E0ORG' }],
        GRID_HOME,
      ),
      [],
      'member',
    ],
    [
      'security: a Grid member of another workspace of our organisation, not of ours (workspace install)',
      facts(
        member({ teamId: 'T0SISTER', enterpriseId: 'E0ORG', teams: ['T0SISTER'] }),
        [{ teamId: 'T0SISTER', enterpriseId: 'E0ORG' }],
        GRID_HOME,
      ),
      [],
      'external',
    ],
    [
      'an org-wide install: a member of any workspace of the organisation',
      facts(
        member({ teamId: 'T0SISTER', enterpriseId: 'E0ORG' }),
        [{ teamId: 'T0SISTER', enterpriseId: 'E0ORG' }],
        ORG_INSTALL,
      ),
      [],
      'member',
    ],
    [
      'security: an org-wide install: another organisation',
      facts(
        member({ teamId: 'T0X', enterpriseId: 'E0OTHER' }),
        [{ teamId: 'T0X', enterpriseId: 'E0OTHER' }],
        ORG_INSTALL,
      ),
      [],
      'external',
    ],
  ])('%s', (_name, input, trusted, expected) => {
    expect(standingOf(input, trusted)).toBe(expected);
  });

  it('isHome: a place that names nothing contradicts nothing; a workspace install ignores no organisation', () => {
    const trusted = new Set<string>();
    expect(isHome({}, HOME, trusted)).toBe(true);
    expect(isHome({ teamId: 'T0HOME' }, HOME, trusted)).toBe(true);
    expect(isHome({ teamId: 'T0HOME', enterpriseId: 'E0ORG' }, HOME, trusted)).toBe(false);
    expect(isHome({ teamId: 'T0HOME', enterpriseId: 'E0ORG' }, GRID_HOME, trusted)).toBe(true);
    expect(isHome({ teamId: 'T0HOME' }, ORG_INSTALL, trusted)).toBe(false);
  });
});

describe('refusalOf: who counts for a resource', () => {
  it.each<[Standing, { allowGuests?: boolean; allowExternal?: boolean }, string | undefined]>([
    ['member', {}, undefined],
    ['guest', {}, 'GUEST_NOT_ALLOWED'],
    ['guest', { allowGuests: true }, undefined],
    ['guest', { allowExternal: true }, 'GUEST_NOT_ALLOWED'],
    ['external', {}, 'EXTERNAL_NOT_ALLOWED'],
    ['external', { allowGuests: true }, 'EXTERNAL_NOT_ALLOWED'],
    ['external', { allowExternal: true }, undefined],
    ['deactivated', { allowGuests: true, allowExternal: true }, 'ACCOUNT_DEACTIVATED'],
    ['unknown', { allowGuests: true, allowExternal: true }, 'IDENTITY_UNVERIFIED'],
  ])('%s with %j → %s', (standing, admission, expected) => {
    expect(refusalOf(standing, admission)).toBe(expected);
  });
});

describe('the policy rules read the standing', () => {
  const actor = (standing: Standing, ...groups: string[]): Actor => ({
    userId: 'U0SOMEONE',
    groups: new Set(groups),
    standing,
  });
  const open = buildSgResource({ id: 'open-db', requesters: undefined, approvers: ['@sre'] });
  const guests = buildSgResource({ id: 'guest-db', requesters: undefined, allowGuests: true });
  const named: SecurityGroupResource = buildSgResource({ id: 'named-db', requesters: ['U0SOMEONE'] });
  const policy: Policy = {
    admins: ['@security'],
    approvalTimeout: 30 * 60_000,
    warnBefore: 0,
    resources: [open, guests, named],
  };

  it('security: a resource without requesters is open to members only, unless it admits guests', () => {
    expect(mayRequest(open, actor('member'))).toBe(true);
    expect(mayRequest(open, actor('guest'))).toBe(false);
    expect(mayRequest(open, actor('external'))).toBe(false);
    expect(mayRequest(open, actor('unknown'))).toBe(false);
    expect(mayRequest(guests, actor('guest'))).toBe(true);
    expect(requestableBy(policy, actor('guest')).map((r) => r.id)).toEqual(['guest-db']);
  });

  it('security: naming a guest in requesters is not enough; the resource must admit guests', () => {
    expect(mayRequest(named, actor('member'))).toBe(true);
    expect(mayRequest(named, actor('guest'))).toBe(false);
    expect(standingRefusal(named, actor('guest'))).toBe('GUEST_NOT_ALLOWED');
  });

  it('security: a guest in the approvers’ group is no approver (unless the resource admits guests); a guest in the admins’ group is no admin', () => {
    expect(isApprover(open, actor('member', 'sre'))).toBe(true);
    expect(isApprover(open, actor('guest', 'sre'))).toBe(false);
    expect(isApprover(guests, actor('guest', 'sre'))).toBe(true);
    expect(isAdmin(policy, actor('member', 'security'))).toBe(true);
    expect(isAdmin(policy, actor('guest', 'security'))).toBe(false);
    expect(isAdmin(policy, actor('external', 'security'))).toBe(false);
    expect(standingRefusal(undefined, actor('external'))).toBe('EXTERNAL_NOT_ALLOWED');
  });
});
