import { ACTION } from '../../src/adapters/slack/ids';
import { APPROVER, type Harness, REQUESTER, startHarness } from '../support/harness';
import { lastRequestId } from '../support/slack-queries';

/**
 * What Slack reads when AWS refuses: a sentence, never an AWS error class or code name
 * (`UnauthorizedOperation`, `CredentialsProviderError`, …) — those belong in the logs.
 */
const AWS_NAMES =
  /UnauthorizedOperation|CredentialsProviderError|AccessDenied|InvalidClientTokenId|InvalidGroup\.NotFound|NoSuchEntity|Could not load credentials/;

/** Every text hallpass sent to Slack (messages, replies, views), as one string. */
const everythingSaid = (h: Harness): string =>
  h.slack.calls
    .filter((c) => c.method !== 'auth.test')
    .map((c) => JSON.stringify(c.args))
    .join('\n');

describe('AWS error names never reach Slack', () => {
  let h: Harness;
  const saved = { ...process.env };
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
    process.env = { ...saved };
  });

  it.each([
    ['EC2 refuses the open (UnauthorizedOperation)', 'UnauthorizedOperation'],
    ['EC2 does not find the group (InvalidGroup.NotFound)', 'InvalidGroup.NotFound'],
  ])('%s', async (_name, code) => {
    h.ec2.failNext('AuthorizeSecurityGroupIngress', code, code === 'UnauthorizedOperation' ? 403 : 400, 10);
    await h.command(REQUESTER, 'prod-db 30m from 203.0.113.7 checking the words');
    await h.click(APPROVER, ACTION.approveRequest, lastRequestId(h));
    const said = everythingSaid(h);
    expect(said).toMatch(/prod-db/);
    expect(said.match(AWS_NAMES)).toBeNull();
  });

  it('no AWS credentials (CredentialsProviderError), when start-up checks were off', async () => {
    for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'])
      delete process.env[key];
    Object.assign(process.env, {
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/hallpass-credentials',
      AWS_CONFIG_FILE: '/nonexistent/hallpass-config',
    });
    await h.command(REQUESTER, 'prod-db 30m from 203.0.113.7 checking the words');
    await h.click(APPROVER, ACTION.approveRequest, lastRequestId(h));
    const said = everythingSaid(h);
    expect(said).toMatch(/prod-db/);
    expect(h.ec2.calls.filter((c) => c.action === 'AuthorizeSecurityGroupIngress')).toEqual([]);
    expect(said.split('\n').filter((l) => AWS_NAMES.test(l))).toEqual([]);
  });
});
