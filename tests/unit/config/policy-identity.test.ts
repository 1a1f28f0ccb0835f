import { stringify } from 'yaml';
import { checkPolicy } from '../../../src/config/policy';
import type { Policy } from '../../../src/domain/policy';
import { SG_RESOURCE } from '../../support/policy-documents';

/** Who counts as anyone: `trustedWorkspaces`, `allowGuests`, `allowExternal`. */

const SG = SG_RESOURCE;

const check = (doc: Record<string, unknown>) => checkPolicy(stringify(doc));
function policyOf(doc: Record<string, unknown>): Policy {
  const result = check(doc);
  if (!result.ok) throw new Error(result.section.problems.join('\n'));
  return result.value;
}
function problemsOf(doc: Record<string, unknown>): readonly string[] {
  const result = check(doc);
  if (result.ok) throw new Error('expected the policy to be refused');
  return result.section.problems;
}

describe('the policy: who counts as anyone', () => {
  it('admits neither guests nor external users, and trusts no other workspace, by default', () => {
    const policy = policyOf({ resources: [SG] });
    expect(policy.trustedWorkspaces).toEqual([]);
    expect(policy.resources[0]).toMatchObject({ allowGuests: false, allowExternal: false });
  });

  it('reads trustedWorkspaces (T… and E… ids) and a resource’s allowGuests / allowExternal', () => {
    const policy = policyOf({
      trustedWorkspaces: ['T0PARTNER', 'E0ORG123'],
      resources: [{ ...SG, allowGuests: true, allowExternal: true }],
    });
    expect(policy.trustedWorkspaces).toEqual(['T0PARTNER', 'E0ORG123']);
    expect(policy.resources[0]).toMatchObject({ allowGuests: true, allowExternal: true });
  });

  it.each([
    [
      { trustedWorkspaces: ['C0123ABCD'], resources: [SG] },
      'trustedWorkspaces[0]: "C0123ABCD" is not a Slack workspace id (T…) or organisation id (E…)',
    ],
    [{ trustedWorkspaces: 'T0PARTNER', resources: [SG] }, 'trustedWorkspaces: must be a list'],
    [{ resources: [{ ...SG, allowGuests: 'yes' }] }, 'resources[0].allowGuests: must be true or false'],
    [{ resources: [{ ...SG, allowExternal: 1 }] }, 'resources[0].allowExternal: must be true or false'],
    [
      { resources: [{ ...SG, allowGuest: true }] },
      'resources[0].allowGuest: unknown field (did you mean allowGuests?)',
    ],
    [
      { trustedWorkspace: ['T0PARTNER'], resources: [SG] },
      'trustedWorkspace: unknown field (did you mean trustedWorkspaces?)',
    ],
  ])('refuses %j: %s', (doc, problem) => {
    expect(problemsOf(doc)).toEqual(expect.arrayContaining([expect.stringContaining(problem)]));
  });
});
