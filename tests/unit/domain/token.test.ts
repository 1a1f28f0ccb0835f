import { parseCommand } from '../../../src/domain/command';
import { automationAutoApproves, type Resource } from '../../../src/domain/policy';
import { hashToken, parsePresentedToken, presentedToken, tokenMatches } from '../../../src/domain/token';

const MIN = 60_000;

const resource = (over: Partial<Resource> = {}): Resource =>
  ({
    id: 'prod-db',
    kind: 'aws-role',
    roleArn: 'arn:aws:iam::123456789012:role/X',
    region: 'us-east-1',
    channel: 'C1',
    approvers: ['@sre'],
    approvals: 1,
    autoApprove: false,
    allowSelfApproval: false,
    minDuration: MIN,
    maxDuration: 60 * MIN,
    approvalTimeout: 30 * MIN,
    breakGlass: false,
    breakGlassMaxDuration: 60 * MIN,
    ...over,
  }) as Resource;

describe('automation auto-approval', () => {
  const policyAllows = {
    automation: { autoApproveWithin: 15 * MIN, agents: { autoApproveWithin: 5 * MIN } },
  };
  it.each([
    ['a token within both limits', policyAllows, 15 * MIN, false, 10 * MIN, true],
    ['a token over its own limit', policyAllows, 5 * MIN, false, 10 * MIN, false],
    ['a token over the policy limit', policyAllows, 30 * MIN, false, 20 * MIN, false],
    ['a token without --auto-approve-within', policyAllows, undefined, false, 1 * MIN, false],
    ['a token where the policy has no automation key', {}, 15 * MIN, false, 1 * MIN, false],
    ['a token on an autoApprove resource', { autoApprove: true }, undefined, false, 30 * MIN, true],
    ['an agent within the agents limit', policyAllows, 15 * MIN, true, 5 * MIN, true],
    ['an agent over the agents limit', policyAllows, 15 * MIN, true, 6 * MIN, false],
    [
      'an agent on an autoApprove resource without an agents key',
      { autoApprove: true },
      15 * MIN,
      true,
      1 * MIN,
      false,
    ],
    [
      'an agent where only tokens are allowed',
      { automation: { autoApproveWithin: 15 * MIN } },
      15 * MIN,
      true,
      1 * MIN,
      false,
    ],
  ] as const)('%s', (_what, over, tokenLimit, agent, duration, expected) => {
    expect(
      automationAutoApproves(resource(over), { tokenAutoApproveWithin: tokenLimit, agent }, duration),
    ).toBe(expected);
  });
});

describe('token secrets', () => {
  it('finds the token id in the secret, and matches only the secret itself', () => {
    const secret = presentedToken('tok_ABCDEFGH12345678', 'x'.repeat(40));
    expect(parsePresentedToken(secret)).toEqual({ tokenId: 'tok_ABCDEFGH12345678', secret });
    expect(tokenMatches(secret, hashToken(secret))).toBe(true);
    expect(tokenMatches(`${secret}y`, hashToken(secret))).toBe(false);
    expect(tokenMatches(secret, undefined)).toBe(false);
    expect(parsePresentedToken('Bearer nope')).toBeUndefined();
  });
});

describe('/access token …', () => {
  it.each([
    [
      'token create ci prod-db,prod-web --auto-approve-within 15m --expires 30d',
      {
        kind: 'token-create',
        name: 'ci',
        resources: ['prod-db', 'prod-web'],
        autoApproveWithinMs: 15 * MIN,
        ttlMs: 30 * 24 * 60 * MIN,
      },
    ],
    ['token list', { kind: 'token-list' }],
    ['token revoke ci', { kind: 'token-revoke', name: 'ci' }],
    ['token rotate ci --overlap 2h', { kind: 'token-rotate', name: 'ci', overlapMs: 120 * MIN }],
  ])('parses %s', (text, expected) => {
    expect(parseCommand(text)).toEqual({ ok: true, value: expected });
  });

  it.each([
    'token',
    'token create',
    'token create ci',
    'token create ci prod-db extra',
    'token create Bad! prod-db',
    'token create ci prod-db --expires',
    'token create ci prod-db --expires 1x',
    'token create ci prod-db --overlap 1h',
    'token rotate ci --overlap 1h --overlap 2h',
    'token list everything',
  ])('refuses %s with its usage', (text) => {
    const parsed = parseCommand(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toBe('TOKEN_USAGE');
  });
});
