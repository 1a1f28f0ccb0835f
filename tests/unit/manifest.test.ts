import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { REQUIRED_SCOPES } from '../../src/adapters/slack/slack-check';

const root = join(__dirname, '..', '..');
const EVENTS_URL = 'https://hallpass.example.com/slack/events';

/**
 * Slack's manifest schema (draft-07, so the default Ajv class) uses a non-standard `regex`
 * keyword and `format: uri`; both are implemented here rather than ignored.
 */
function manifestValidator() {
  const schema: unknown = JSON.parse(readFileSync(join(root, 'tests/support/manifest.schema.json'), 'utf8'));
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addKeyword({
    keyword: 'regex',
    type: 'string',
    schemaType: 'string',
    validate: (pattern: string, data: string) => new RegExp(pattern).test(data),
  });
  ajv.addFormat('uri', (value: string) => URL.canParse(value));
  return ajv.compile(schema as object);
}

type Manifest = {
  display_information: { name: string };
  features: {
    app_home: {
      home_tab_enabled: boolean;
      messages_tab_enabled: boolean;
      messages_tab_read_only_enabled: boolean;
    };
    bot_user: { display_name: string };
    slash_commands: { command: string; url: string; should_escape: boolean; usage_hint?: string }[];
  };
  oauth_config: { scopes: { bot: string[]; user?: string[] } };
  settings: {
    event_subscriptions: { request_url: string; bot_events: string[] };
    interactivity: { is_enabled: boolean; request_url: string };
    org_deploy_enabled: boolean;
    socket_mode_enabled: boolean;
    token_rotation_enabled: boolean;
  };
};

const raw: unknown = parse(readFileSync(join(root, 'manifest.yml'), 'utf8'));
const manifest = raw as Manifest;

describe('manifest.yml', () => {
  it("is valid against Slack's app manifest schema", () => {
    const validate = manifestValidator();
    const valid = validate(raw);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('the validator rejects a broken manifest (so the check above can fail)', () => {
    const validate = manifestValidator();
    expect(validate({ ...manifest, display_information: { name: 'x'.repeat(36) } })).toBe(false);
    expect(
      validate({ ...manifest, display_information: { name: 'hallpass', background_color: 'blue' } }),
    ).toBe(false);
  });

  it('is named hallpass and has a bot user', () => {
    expect(manifest.display_information.name).toBe('hallpass');
    expect(manifest.features.bot_user.display_name).toBe('hallpass');
  });

  it('declares /access posting to /slack/events, unescaped', () => {
    expect(manifest.features.slash_commands).toHaveLength(1);
    expect(manifest.features.slash_commands[0]).toMatchObject({
      command: '/access',
      url: EVENTS_URL,
      should_escape: false,
    });
  });

  it('asks exactly the bot scopes hallpass uses, and no user scopes', () => {
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual(
      [
        'chat:write',
        'chat:write.public',
        'commands',
        'files:write',
        'im:write',
        'usergroups:read',
        'users:read',
        'users:read.email',
      ].sort(),
    );
    expect(manifest.oauth_config.scopes.user).toBeUndefined();
  });

  it('sends interactivity, app_home_opened, the user-group and user change events to /slack/events over HTTP', () => {
    expect(manifest.settings.interactivity).toEqual({ is_enabled: true, request_url: EVENTS_URL });
    expect(manifest.settings.event_subscriptions).toEqual({
      request_url: EVENTS_URL,
      bot_events: ['app_home_opened', 'subteam_members_changed', 'subteam_updated', 'user_change'],
    });
    expect(manifest.settings.socket_mode_enabled).toBe(false);
    expect(manifest.settings.org_deploy_enabled).toBe(false);
    expect(manifest.settings.token_rotation_enabled).toBe(false);
  });

  it('subscribes only to events hallpass listens to, each covered by a scope it asks for', () => {
    const listeners = readFileSync(join(root, 'src/adapters/slack/listeners/index.ts'), 'utf8');
    // Slack's documented scope for each event (usergroups:read for the subteam_* events, users:read for user_change).
    const scopeOf: Record<string, string | undefined> = {
      app_home_opened: undefined,
      subteam_members_changed: 'usergroups:read',
      subteam_updated: 'usergroups:read',
      user_change: 'users:read',
    };
    for (const event of manifest.settings.event_subscriptions.bot_events) {
      expect(listeners).toContain(`app.event('${event}'`);
      expect(Object.keys(scopeOf)).toContain(event);
      const scope = scopeOf[event];
      if (scope !== undefined) expect(manifest.oauth_config.scopes.bot).toContain(scope);
    }
  });

  it('enables the Home tab and shows the DMs the bot sends', () => {
    expect(manifest.features.app_home.home_tab_enabled).toBe(true);
    expect(manifest.features.app_home.messages_tab_enabled).toBe(true);
  });
});

describe('the scopes `hallpass check` requires', () => {
  it('are exactly the bot scopes of manifest.yml', () => {
    const manifest = parse(readFileSync(join(root, 'manifest.yml'), 'utf8')) as Manifest;
    expect([...REQUIRED_SCOPES].sort()).toEqual([...manifest.oauth_config.scopes.bot].sort());
  });
});
