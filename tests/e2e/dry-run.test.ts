import { DRY_RUN_CREDENTIALS } from '../../src/adapters/aws/dry-run-aws';
import { ACTION } from '../../src/adapters/slack/ids';
import { APPROVER, GROUP_ID, type Harness, REQUESTER, startHarness } from '../support/harness';
import { allText, approvalPosts, dmsTo, lastRequestId, threadPosts } from '../support/slack-queries';

const MINUTE = 60_000;
const DRY = 'Dry run';

/**
 * HALLPASS_AWS=dry-run: every flow against (a stand-in for) real Slack, no AWS request at all; the calls
 * hallpass would make are logged, and every announcement says it is a dry run.
 */
describe('HALLPASS_AWS=dry-run', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({
      env: {
        HALLPASS_AWS: 'dry-run',
        HALLPASS_BACKSTOP_ROLE_ARN: 'arn:aws:iam::123456789012:role/hallpass-backstop',
      },
      reconcileInterval: '60s',
    });
  });
  afterEach(async () => {
    await h.close();
  });

  const noAwsRequest = () => {
    expect(h.ec2.calls).toEqual([]);
    expect(h.sts.calls).toEqual([]);
    expect(h.scheduler.calls).toEqual([]);
  };

  it('runs request → approve → open → expire, saying "dry run" at each announcement, with no AWS request', async () => {
    await h.command(REQUESTER, 'prod-db 30m from 203.0.113.7 trying hallpass');
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    expect(allText(approvalPosts(h.slack)[0])).toContain(DRY);
    await h.click(APPROVER, ACTION.approveRequest, lastRequestId(h));
    await h.slack.waitFor(() => threadPosts(h.slack).some((c) => allText(c).includes('until')));
    const grant = (await h.hallpass.useCases.cardOf(lastRequestId(h)))?.grant;
    expect(grant?.state).toBe('active');
    const opened = h.logger.lines.find((l) => l.fields['action'] === 'ec2:AuthorizeSecurityGroupIngress');
    expect(opened?.fields['params']).toMatchObject({
      groupId: GROUP_ID,
      cidr: '203.0.113.7/32',
      fromPort: 5432,
    });
    expect(JSON.stringify(opened?.fields['params'])).toMatch(/"ruleId":"sgr-dryrun[0-9a-f]{7}"/);

    await h.advance(30 * MINUTE);
    expect((await h.hallpass.useCases.cardOf(lastRequestId(h)))?.grant?.state).toBe('closed');
    const posts = [...threadPosts(h.slack), ...dmsTo(h.slack, REQUESTER)];
    expect(posts.length).toBeGreaterThanOrEqual(3);
    for (const post of posts) expect(allText(post)).toContain(`${DRY}: no AWS change was made`);
    noAwsRequest();
    expect(h.ec2.rules(GROUP_ID)).toEqual([]);

    // What would have been called is logged: the open, its backstop, the close.
    const would = h.logger.lines.filter((l) => l.fields['dryRun'] === true).map((l) => l.fields['action']);
    expect(would).toEqual([
      'ec2:AuthorizeSecurityGroupIngress',
      'scheduler:CreateSchedule',
      'ec2:RevokeSecurityGroupIngress',
      'scheduler:DeleteSchedule',
    ]);
    const health = await fetch(h.url.replace('/slack/events', '/healthz'));
    expect(await health.json()).toMatchObject({ ok: true, aws: 'dry-run' });
  });

  it('hands out no credentials for a role, and says so', async () => {
    await h.command(REQUESTER, 'prod-readonly 30m trying roles');
    await h.slack.waitFor(() => approvalPosts(h.slack).length === 1);
    await h.click(APPROVER, ACTION.approveRequest, lastRequestId(h));
    const dm = await h.slack.waitFor(() =>
      dmsTo(h.slack, REQUESTER).find((c) => allText(c).includes(DRY_RUN_CREDENTIALS.accessKeyId)),
    );
    expect(allText(dm)).toContain(`${DRY}: no credentials were issued`);
    noAwsRequest();
  });
});
