import type { ManagedRule, RuleHold } from '../../../src/app/ports';
import { compareRules, type GroupState, ownerOf } from '../../../src/app/reconcile-compare';
import type { Grant, GrantState } from '../../../src/domain/grant';
import { buildGrant, T0 } from '../../support/builders';

const MINUTE = 60_000;
const GROUP = 'sg-0123456789abcdef0';
const now = new Date(T0.getTime() + 10 * MINUTE);

const grant = (id: string, state: GrantState, overrides: Partial<Grant> = {}): Grant =>
  buildGrant({ id, state, startsAt: T0, expiresAt: new Date(T0.getTime() + 30 * MINUTE), ...overrides });

const hold = (grantId: string, ruleId: string, overrides: Partial<RuleHold> = {}): RuleHold => ({
  region: 'us-east-1',
  groupId: GROUP,
  protocol: 'tcp',
  fromPort: 5432,
  toPort: 5432,
  cidr: '203.0.113.7/32',
  grantId,
  ruleId,
  managed: true,
  ...overrides,
});

/** This deployment's name (`HALLPASS_DEPLOYMENT`) in every state below. */
const OWN = 'production';

/** A rule tagged by this deployment, unless `tags` names another (or `undefined`: made before the tag). */
const rule = (
  ruleId: string,
  tags: ManagedRule['tags'],
  overrides: Partial<ManagedRule> = {},
): ManagedRule => ({
  ruleId,
  protocol: 'tcp',
  fromPort: 5432,
  toPort: 5432,
  cidr: '203.0.113.7/32',
  tags: { deployment: OWN, ...tags },
  ...overrides,
});

const later = new Date(T0.getTime() + 30 * MINUTE);
const earlier = new Date(T0.getTime() + 5 * MINUTE);

function state(rules: ManagedRule[], holds: RuleHold[], grants: Grant[]): GroupState {
  return { rules, holds, grants: new Map(grants.map((g) => [g.id, g])), deployment: OWN };
}

describe('compareRules: orphans', () => {
  it.each([
    ['its grant is unknown (the database was lost)', [] as Grant[], later, 'unknown-grant'],
    ['its grant is closed', [grant('grt_a', 'closed')], later, 'grant-ended'],
    ['its grant failed', [grant('grt_a', 'failed')], later, 'grant-ended'],
    [
      'its grant is active but holds no such rule and the tag has expired',
      [grant('grt_a', 'active')],
      earlier,
      'tag-expired',
    ],
    [
      'its grant is active but the database records no hold on it',
      [grant('grt_a', 'active')],
      later,
      'untracked',
    ],
  ])('revokes a tagged rule nobody holds when %s', (_name, grants, expiresAt, reason) => {
    const r = rule('sgr-1', { grantId: 'grt_a', requesterId: 'U1', expiresAt });
    expect(compareRules(state([r], [], grants), now).orphans).toEqual([{ rule: r, reason }]);
  });

  it('treats a tagged rule without a grant tag as an orphan of an unknown grant', () => {
    const r = rule('sgr-1', {});
    expect(compareRules(state([r], [], []), now).orphans).toEqual([{ rule: r, reason: 'unknown-grant' }]);
  });

  it('keeps a rule whose tag names an ended grant while another live grant still holds it', () => {
    // The tag follows the holder that ends last; grt_b ended early, grt_a still holds the shared rule.
    const r = rule('sgr-1', { grantId: 'grt_b', expiresAt: later });
    const result = compareRules(
      state([r], [hold('grt_a', 'sgr-1')], [grant('grt_a', 'active'), grant('grt_b', 'closed')]),
      now,
    );
    expect(result.orphans).toEqual([]);
  });

  it('keeps a rule whose expiry tag has passed while its grant holds it (the expiry sweep closes it)', () => {
    const r = rule('sgr-1', { grantId: 'grt_a', expiresAt: earlier });
    expect(
      compareRules(state([r], [hold('grt_a', 'sgr-1')], [grant('grt_a', 'active')]), now).orphans,
    ).toEqual([]);
  });

  it('keeps a rule held by a grant that is closing (its close is in progress)', () => {
    const r = rule('sgr-1', { grantId: 'grt_a', expiresAt: earlier });
    expect(
      compareRules(state([r], [hold('grt_a', 'sgr-1')], [grant('grt_a', 'closing')]), now).orphans,
    ).toEqual([]);
  });

  it('skips a rule whose grant is still opening: its hold is being recorded right now', () => {
    const r = rule('sgr-1', { grantId: 'grt_a', expiresAt: later });
    expect(compareRules(state([r], [], [grant('grt_a', 'opening')]), now).orphans).toEqual([]);
  });

  it('does not count a leftover hold of a closed grant as keeping the rule', () => {
    const r = rule('sgr-1', { grantId: 'grt_a', expiresAt: later });
    const result = compareRules(state([r], [hold('grt_a', 'sgr-1')], [grant('grt_a', 'closed')]), now);
    expect(result.orphans).toEqual([{ rule: r, reason: 'grant-ended' }]);
  });
});

describe('compareRules: drift', () => {
  it('reports an active grant whose rule vanished from AWS', () => {
    const g = grant('grt_a', 'active');
    const h = hold('grt_a', 'sgr-1');
    expect(compareRules(state([], [h], [g]), now).drift).toEqual([{ kind: 'vanished', grant: g, hold: h }]);
  });

  it.each([
    ['widened to a larger range', { cidr: '203.0.113.0/24' }],
    ['opened to the whole internet', { cidr: '0.0.0.0/0' }],
    ['widened to more ports', { fromPort: 0, toPort: 65535 }],
    ['switched to all traffic', { protocol: '-1', fromPort: -1, toPort: -1 }],
    ['pointed at a non-address source', { cidr: undefined }],
  ])('reports an active grant whose rule was %s', (_name, change) => {
    const g = grant('grt_a', 'active');
    const h = hold('grt_a', 'sgr-1');
    const r = rule('sgr-1', { grantId: 'grt_a', expiresAt: later }, change);
    expect(compareRules(state([r], [h], [g]), now)).toEqual({
      orphans: [],
      drift: [{ kind: 'modified', grant: g, hold: h, rule: r }],
      othersLeft: [],
      legacyLeft: [],
    });
  });

  it('finds no drift when the rule matches in another spelling of the same range', () => {
    const g = grant('grt_a', 'active');
    const h = hold('grt_a', 'sgr-1', { cidr: '2001:db8::/64' });
    const r = rule(
      'sgr-1',
      { grantId: 'grt_a', expiresAt: later },
      { cidr: '2001:DB8:0:0::/64', protocol: 'TCP' },
    );
    expect(compareRules(state([r], [h], [g]), now)).toEqual({
      orphans: [],
      drift: [],
      othersLeft: [],
      legacyLeft: [],
    });
  });

  it('watches only managed holds: a rule made by hand is not ours and is not listed', () => {
    const g = grant('grt_a', 'active');
    expect(compareRules(state([], [hold('grt_a', 'sgr-1', { managed: false })], [g]), now).drift).toEqual([]);
  });

  it.each<[string, GrantState, Partial<Grant>]>([
    ['opening', 'opening', {}],
    ['closing', 'closing', {}],
    ['active but already due (the expiry sweep has it)', 'active', { expiresAt: now }],
  ])('leaves a grant that is %s alone', (_name, grantState, overrides) => {
    const g = grant('grt_a', grantState, overrides);
    expect(compareRules(state([], [hold('grt_a', 'sgr-1')], [g]), now).drift).toEqual([]);
  });
});

describe('ownerOf', () => {
  it.each<[string, string | undefined, { held: boolean; grantKnown: boolean }, string]>([
    ['tagged with this deployment', OWN, { held: false, grantKnown: false }, 'own'],
    [
      'tagged with another deployment, even if held here',
      'staging',
      { held: true, grantKnown: true },
      'other',
    ],
    ['made before the tag, held here', undefined, { held: true, grantKnown: false }, 'own'],
    ['made before the tag, its grant known here', undefined, { held: false, grantKnown: true }, 'own'],
    ['made before the tag, unknown here', undefined, { held: false, grantKnown: false }, 'unknown'],
  ])('says a rule %s is %s', (_name, deployment, known, owner) => {
    const r: ManagedRule = { ...rule('sgr-1', {}), tags: { deployment, grantId: 'grt_a' } };
    expect(ownerOf(r, OWN, known)).toBe(owner);
  });
});

describe('compareRules: several deployments', () => {
  /** A rule as another deployment, or a hallpass from before the tag (`undefined`), made it. */
  const made = (ruleId: string, deployment: string | undefined, tags: ManagedRule['tags']): ManagedRule => ({
    ...rule(ruleId, {}),
    tags: { ...tags, deployment },
  });

  it.each<[string, Grant[]]>([
    ['its grant is unknown here', []],
    ['a grant of the same id ended here (a copied database)', [grant('grt_a', 'closed')]],
  ])(
    "leaves another deployment's rule alone when %s: no orphan, no drift, counted apart",
    (_name, grants) => {
      const r = made('sgr-1', 'staging', { grantId: 'grt_a', expiresAt: earlier });
      expect(compareRules(state([r], [], grants), now)).toEqual({
        orphans: [],
        drift: [],
        othersLeft: [r],
        legacyLeft: [],
      });
    },
  );

  it('leaves alone a rule made before the deployment tag whose grant this database does not know', () => {
    const r = made('sgr-1', undefined, { grantId: 'grt_elsewhere', expiresAt: earlier });
    expect(compareRules(state([r], [], []), now)).toEqual({
      orphans: [],
      drift: [],
      othersLeft: [],
      legacyLeft: [r],
    });
  });

  it('leaves alone a rule made before the deployment tag that carries no grant tag at all', () => {
    const r = made('sgr-1', undefined, {});
    expect(compareRules(state([r], [], []), now).legacyLeft).toEqual([r]);
  });

  it.each<[string, Grant[], string]>([
    ['its grant ended here', [grant('grt_a', 'closed')], 'grant-ended'],
    [
      'its grant is active here but holds no such rule, tag expired',
      [grant('grt_a', 'active')],
      'tag-expired',
    ],
  ])('revokes a rule made before the deployment tag when %s', (_name, grants, reason) => {
    const r = made('sgr-1', undefined, { grantId: 'grt_a', expiresAt: earlier });
    const result = compareRules(state([r], [], grants), now);
    expect(result.orphans).toEqual([{ rule: r, reason }]);
    expect(result.legacyLeft).toEqual([]);
  });

  it('keeps a rule made before the deployment tag while a live grant here holds it', () => {
    const r = made('sgr-1', undefined, { grantId: 'grt_gone', expiresAt: earlier });
    const result = compareRules(state([r], [hold('grt_a', 'sgr-1')], [grant('grt_a', 'active')]), now);
    expect(result).toEqual({ orphans: [], drift: [], othersLeft: [], legacyLeft: [] });
  });

  it("still revokes this deployment's own orphans beside another deployment's rules", () => {
    const own = rule('sgr-own', { grantId: 'grt_unknown', expiresAt: later });
    const theirs = made('sgr-theirs', 'staging', { grantId: 'grt_x', expiresAt: later });
    const legacy = made('sgr-legacy', undefined, { grantId: 'grt_y', expiresAt: later });
    const result = compareRules(state([own, theirs, legacy], [], []), now);
    expect(result.orphans).toEqual([{ rule: own, reason: 'unknown-grant' }]);
    expect(result.othersLeft).toEqual([theirs]);
    expect(result.legacyLeft).toEqual([legacy]);
  });
});
