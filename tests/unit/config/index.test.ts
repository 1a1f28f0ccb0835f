import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../../src/config';

const FIXTURES = join(__dirname, '..', '..', 'fixtures');
const MINIMAL = join(FIXTURES, 'policy-minimal.yml');
const INVALID = join(FIXTURES, 'policy-invalid.yml');

const SECRET = 'signing-secret-0cc175b9c0f1b6a8';

const env = (overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  SLACK_BOT_TOKEN: 'xoxb-1-2-3',
  SLACK_SIGNING_SECRET: SECRET,
  HALLPASS_POLICY: MINIMAL,
  ...overrides,
});

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('returns the env and the policy it names', () => {
    const config = loadConfig(env({ PORT: '0' }));
    expect(config.env).toMatchObject({ mode: 'http', port: 0, policyPath: MINIMAL });
    expect(config.policy.resources.map((r) => r.id)).toEqual(['prod-db']);
  });

  it('reports a missing policy file with its path', () => {
    const missing = join(FIXTURES, 'nope.yml');
    const error = errorOf(() => loadConfig(env({ HALLPASS_POLICY: missing })));
    expect(error.sections.map((s) => s.title)).toEqual([`Invalid policy file ${missing}`]);
    expect(error.message).toContain(`file not found: ${missing}`);
    expect(error.message).toContain('policy.example.yml');
  });

  it('reports env and policy problems together in one error', () => {
    const error = errorOf(() =>
      loadConfig(env({ SLACK_BOT_TOKEN: undefined, PORT: 'x', HALLPASS_POLICY: INVALID })),
    );
    expect(error.message).toBe(
      [
        'Invalid configuration:',
        '  - SLACK_BOT_TOKEN: required',
        '  - PORT: must be an integer between 0 and 65535',
        `Invalid policy file ${INVALID}:`,
        '  - resources[0].ports[0]: "80-70" is not a port or a range low-high within 1-65535',
        '  - resources[0].aproverss: unknown field (did you mean approvers?)',
        '  - resources[0].approvers: required unless autoApprove: true',
      ].join('\n'),
    );
    expect(error.problems).toHaveLength(5);
    expect(error.message).not.toContain(SECRET);
  });
});
