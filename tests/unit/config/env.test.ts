import { ConfigError, type ConfigResult, type Env, loadEnv } from '../../../src/config/env';

const BOT_TOKEN = 'xoxb-1111-2222-bot-secret';
const SIGNING_SECRET = 'signing-secret-8f14e45fceea167a';
const APP_TOKEN = 'xapp-1-A111-333-app-secret';

const http = (overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  SLACK_BOT_TOKEN: BOT_TOKEN,
  SLACK_SIGNING_SECRET: SIGNING_SECRET,
  ...overrides,
});

function envOf(result: ConfigResult<Env>): Env {
  if (!result.ok) throw new Error(`expected a valid env, got:\n${result.section.problems.join('\n')}`);
  return result.value;
}

function messageOf(result: ConfigResult<Env>): string {
  if (result.ok) throw new Error('expected the env to be refused');
  return new ConfigError([result.section]).message;
}

describe('loadEnv', () => {
  it('accepts an HTTP-mode env and applies every default', () => {
    expect(envOf(loadEnv(http()))).toEqual({
      mode: 'http',
      slackBotToken: BOT_TOKEN,
      slackSigningSecret: SIGNING_SECRET,
      port: 3000,
      policyPath: './policy.yml',
      dbPath: './data/hallpass.db',
      logLevel: 'info',
      deployment: 'default',
      aws: 'live',
      trustedProxies: [],
    });
  });

  it('reads HALLPASS_PUBLIC_URL (without a trailing /) and HALLPASS_TRUSTED_PROXIES', () => {
    const env = envOf(
      loadEnv(
        http({
          HALLPASS_PUBLIC_URL: 'https://hallpass.example.com/',
          HALLPASS_TRUSTED_PROXIES: ' 10.0.0.0/8, 192.0.2.10 ,2001:db8::/32',
        }),
      ),
    );
    expect(env.publicUrl).toBe('https://hallpass.example.com');
    expect(env.trustedProxies).toEqual(['10.0.0.0/8', '192.0.2.10', '2001:db8::/32']);
  });

  it.each([
    ['HALLPASS_PUBLIC_URL', 'hallpass.example.com', 'HALLPASS_PUBLIC_URL: must be the http(s) URL'],
    ['HALLPASS_PUBLIC_URL', 'ftp://hallpass.example.com', 'HALLPASS_PUBLIC_URL: must be the http(s) URL'],
    [
      'HALLPASS_TRUSTED_PROXIES',
      '10.0.0.0/8,proxy.internal',
      'HALLPASS_TRUSTED_PROXIES: must be IP addresses or CIDRs',
    ],
    ['HALLPASS_TRUSTED_PROXIES', '10.0.0.1/8', 'HALLPASS_TRUSTED_PROXIES: must be IP addresses or CIDRs'],
  ])('refuses %s=%s, naming it', (key, value, message) => {
    expect(messageOf(loadEnv(http({ [key]: value })))).toContain(message);
  });

  it('ignores variables it does not know', () => {
    expect(envOf(loadEnv(http({ HOME: '/root', AWS_REGION: 'us-east-1' })))).not.toHaveProperty('HOME');
  });

  it('uses Socket Mode when SLACK_APP_TOKEN is set, without a signing secret', () => {
    const env = envOf(loadEnv({ SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_APP_TOKEN: APP_TOKEN }));
    expect(env.mode).toBe('socket');
    expect(env.slackAppToken).toBe(APP_TOKEN);
    expect(env.slackSigningSecret).toBeUndefined();
  });

  it('treats blank values as unset, as in a copied .env.example', () => {
    const env = envOf(loadEnv(http({ SLACK_APP_TOKEN: '', PORT: '  ', SLACK_API_URL: '' })));
    expect(env.mode).toBe('http');
    expect(env.port).toBe(3000);
    expect(env.slackApiUrl).toBeUndefined();
  });

  it.each([
    ['http://localhost:4000/api', 'http://localhost:4000/api/'],
    ['http://localhost:4000/api/', 'http://localhost:4000/api/'],
    ['https://slack.com/api', 'https://slack.com/api/'],
  ])('normalizes SLACK_API_URL %s to end with a slash', (input, expected) => {
    expect(envOf(loadEnv(http({ SLACK_API_URL: input }))).slackApiUrl).toBe(expected);
  });

  it.each([
    ['0', 0],
    ['3000', 3000],
    ['65535', 65535],
  ])('accepts PORT=%s', (input, expected) => {
    expect(envOf(loadEnv(http({ PORT: input }))).port).toBe(expected);
  });

  it('reads the paths and lowercases LOG_LEVEL', () => {
    const env = envOf(
      loadEnv(
        http({ HALLPASS_POLICY: '/etc/hallpass/policy.yml', HALLPASS_DB: ':memory:', LOG_LEVEL: 'DEBUG' }),
      ),
    );
    expect(env).toMatchObject({
      policyPath: '/etc/hallpass/policy.yml',
      dbPath: ':memory:',
      logLevel: 'debug',
    });
  });

  it.each<[string, NodeJS.ProcessEnv, string]>([
    ['a missing bot token', { SLACK_BOT_TOKEN: undefined }, 'SLACK_BOT_TOKEN: required'],
    ['a blank bot token', { SLACK_BOT_TOKEN: ' ' }, 'SLACK_BOT_TOKEN: required'],
    ['a user token as bot token', { SLACK_BOT_TOKEN: 'xoxp-123' }, 'SLACK_BOT_TOKEN: must be a bot token'],
    [
      'HTTP mode without a signing secret',
      { SLACK_SIGNING_SECRET: undefined },
      'SLACK_SIGNING_SECRET: required in HTTP mode',
    ],
    [
      'an app token of the wrong kind',
      { SLACK_APP_TOKEN: 'xoxb-9' },
      'SLACK_APP_TOKEN: must be an app-level token',
    ],
    ['a non-URL API base', { SLACK_API_URL: 'localhost:4000' }, 'SLACK_API_URL: must be an http(s) URL'],
    ['a non-http API base', { SLACK_API_URL: 'ftp://example.com/' }, 'SLACK_API_URL: must be an http(s) URL'],
    ['a non-numeric PORT', { PORT: 'abc' }, 'PORT: must be an integer between 0 and 65535'],
    ['a negative PORT', { PORT: '-1' }, 'PORT: must be an integer between 0 and 65535'],
    ['a PORT above 65535', { PORT: '65536' }, 'PORT: must be an integer between 0 and 65535'],
    ['a fractional PORT', { PORT: '3000.5' }, 'PORT: must be an integer between 0 and 65535'],
    ['an unknown LOG_LEVEL', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL: must be one of fatal, error, warn, info'],
  ])('refuses %s, naming the variable', (_name, overrides, expected) => {
    expect(messageOf(loadEnv(http(overrides)))).toContain(expected);
  });

  it('reports every bad variable in one message, in a fixed order', () => {
    expect(messageOf(loadEnv({ PORT: '99999', LOG_LEVEL: 'loud' }))).toBe(
      [
        'Invalid configuration:',
        '  - SLACK_BOT_TOKEN: required',
        '  - SLACK_SIGNING_SECRET: required in HTTP mode (set SLACK_APP_TOKEN to use Socket Mode instead)',
        '  - PORT: must be an integer between 0 and 65535',
        '  - LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent',
      ].join('\n'),
    );
  });

  it('never echoes a secret value in the error text', () => {
    // Tokens swapped between the two variables: both refused, neither value may appear.
    const message = messageOf(
      loadEnv({
        SLACK_BOT_TOKEN: APP_TOKEN,
        SLACK_APP_TOKEN: BOT_TOKEN,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        PORT: 'x',
      }),
    );
    expect(message).toContain('SLACK_BOT_TOKEN');
    expect(message).toContain('SLACK_APP_TOKEN');
    for (const secret of [BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, 'bot-secret', 'app-secret']) {
      expect(message).not.toContain(secret);
    }
  });
});

describe('loadEnv: the audit chain key', () => {
  const b64 = (bytes: number, fill = 7) => Buffer.alloc(bytes, fill).toString('base64');
  const KEY = `k2026:${b64(32)}`;

  it('reads HALLPASS_AUDIT_KEY as <id>:<base64>, and old keys for verifying', () => {
    const env = envOf(
      loadEnv(
        http({
          HALLPASS_AUDIT_KEY: KEY,
          HALLPASS_AUDIT_OLD_KEYS: `k2025:${b64(32, 1)}, k2024:${b64(48, 2)}`,
        }),
      ),
    );
    expect(env.auditKeys?.current?.id).toBe('k2026');
    expect(Buffer.from(env.auditKeys?.current?.secret ?? []).equals(Buffer.alloc(32, 7))).toBe(true);
    expect(env.auditKeys?.old?.map((k) => k.id)).toEqual(['k2025', 'k2024']);
  });

  it('accepts the URL-safe base64 alphabet too', () => {
    const urlSafe = Buffer.alloc(32, 0xfb).toString('base64url');
    expect(envOf(loadEnv(http({ HALLPASS_AUDIT_KEY: `k1:${urlSafe}` }))).auditKeys?.current?.id).toBe('k1');
  });

  it('leaves the chain unkeyed when the key is unset or blank', () => {
    expect(envOf(loadEnv(http({ HALLPASS_AUDIT_KEY: '' }))).auditKeys).toBeUndefined();
  });

  it('reads HALLPASS_AUDIT_ACCEPT_BROKEN as an event number', () => {
    expect(envOf(loadEnv(http({ HALLPASS_AUDIT_ACCEPT_BROKEN: '1234' }))).auditAcceptBroken).toBe(1234);
  });

  it.each([
    [
      'a key without an id',
      { HALLPASS_AUDIT_KEY: b64(32) },
      'HALLPASS_AUDIT_KEY: must be <id>:<base64 of at least 32 random bytes>',
    ],
    ['a short key', { HALLPASS_AUDIT_KEY: `k1:${b64(16)}` }, 'HALLPASS_AUDIT_KEY: must be <id>:<base64'],
    [
      'a key that is not base64',
      { HALLPASS_AUDIT_KEY: 'k1:not base64 at all!!' },
      'HALLPASS_AUDIT_KEY: must be',
    ],
    ['an id with spaces', { HALLPASS_AUDIT_KEY: `my key:${b64(32)}` }, 'HALLPASS_AUDIT_KEY: must be'],
    [
      'a bad old key',
      { HALLPASS_AUDIT_KEY: KEY, HALLPASS_AUDIT_OLD_KEYS: `k0:${b64(32)},oops` },
      'HALLPASS_AUDIT_OLD_KEYS: must be a comma-separated list of old keys',
    ],
    [
      'old keys without a current one',
      { HALLPASS_AUDIT_OLD_KEYS: `k0:${b64(32)}` },
      'HALLPASS_AUDIT_OLD_KEYS: needs HALLPASS_AUDIT_KEY too',
    ],
    [
      'one id twice',
      { HALLPASS_AUDIT_KEY: KEY, HALLPASS_AUDIT_OLD_KEYS: `k2026:${b64(32, 3)}` },
      'HALLPASS_AUDIT_OLD_KEYS: key id "k2026" is used twice',
    ],
    [
      'an event number that is not one',
      { HALLPASS_AUDIT_ACCEPT_BROKEN: 'head' },
      'HALLPASS_AUDIT_ACCEPT_BROKEN: must be the number of the event where the audit log breaks',
    ],
  ])('refuses %s, naming the variable and never the key', (_name, overrides, expected) => {
    const message = messageOf(loadEnv(http(overrides)));
    expect(message).toContain(expected);
    for (const value of Object.values(overrides)) {
      for (const part of value.split(/[:,]/).filter((p) => p.length > 8)) expect(message).not.toContain(part);
    }
  });
});

describe('loadEnv: the backstop', () => {
  const ROLE = 'arn:aws:iam::123456789012:role/hallpass-backstop';

  it('is off without HALLPASS_BACKSTOP_ROLE_ARN, and on in the default group with it', () => {
    expect(envOf(loadEnv(http())).backstop).toBeUndefined();
    expect(envOf(loadEnv(http({ HALLPASS_BACKSTOP_ROLE_ARN: ROLE }))).backstop).toEqual({
      roleArn: ROLE,
      group: 'default',
    });
    expect(
      envOf(loadEnv(http({ HALLPASS_BACKSTOP_ROLE_ARN: ROLE, HALLPASS_BACKSTOP_GROUP: 'hallpass' })))
        .backstop,
    ).toEqual({ roleArn: ROLE, group: 'hallpass' });
  });

  it('refuses a role that is not an IAM role ARN and a group Scheduler would not accept', () => {
    const message = messageOf(
      loadEnv(http({ HALLPASS_BACKSTOP_ROLE_ARN: 'hallpass-backstop', HALLPASS_BACKSTOP_GROUP: 'my group' })),
    );
    expect(message).toContain('HALLPASS_BACKSTOP_ROLE_ARN: must be an IAM role ARN');
    expect(message).toContain(
      'HALLPASS_BACKSTOP_GROUP: must be an EventBridge Scheduler schedule group name',
    );
  });

  it('refuses a group without a role: the backstop would be off while the setting says otherwise', () => {
    expect(messageOf(loadEnv(http({ HALLPASS_BACKSTOP_GROUP: 'hallpass' })))).toContain(
      'HALLPASS_BACKSTOP_GROUP: needs HALLPASS_BACKSTOP_ROLE_ARN',
    );
  });
});

describe('loadEnv: HALLPASS_DEPLOYMENT', () => {
  it.each(['production', 'staging-2', 'eu1', 'a'])('accepts the short name %s', (name) => {
    expect(envOf(loadEnv(http({ HALLPASS_DEPLOYMENT: name }))).deployment).toBe(name);
  });

  it.each([
    ['capitals', 'Production'],
    ['a space', 'prod west'],
    ['a leading hyphen', '-prod'],
    ['a colon', 'prod:1'],
    ['more than 32 characters', 'a'.repeat(33)],
  ])('refuses a name with %s, naming the variable', (_what, name) => {
    expect(messageOf(loadEnv(http({ HALLPASS_DEPLOYMENT: name })))).toContain(
      'HALLPASS_DEPLOYMENT: must be a short name',
    );
  });
});

describe('loadEnv: HALLPASS_AWS', () => {
  it.each([
    ['live', 'live'],
    ['dry-run', 'dry-run'],
    ['DRY-RUN', 'dry-run'],
  ] as const)('reads %s', (value, mode) => {
    expect(envOf(loadEnv(http({ HALLPASS_AWS: value }))).aws).toBe(mode);
  });

  it.each(['dryrun', 'off', 'true'])('refuses %s, naming the variable and the values', (value) => {
    expect(messageOf(loadEnv(http({ HALLPASS_AWS: value })))).toContain(
      'HALLPASS_AWS: must be live or dry-run',
    );
  });
});
