import { reconcileReportMessage } from '../../../src/adapters/slack/views/reconcile';
import type { ReconcileReport } from '../../../src/app/notices';
import type { ManagedRule, RuleHold } from '../../../src/app/ports';
import { messageProblems } from '../../support/block-kit';
import { buildGrant, T0 } from '../../support/builders';

const GROUP = 'sg-0123456789abcdef0';

const rule = (overrides: Partial<ManagedRule> = {}): ManagedRule => ({
  ruleId: 'sgr-0aaaaaaaaaaaaaaaa',
  protocol: 'tcp',
  fromPort: 5432,
  toPort: 5432,
  cidr: '198.51.100.9/32',
  tags: { grantId: 'grt_lost', requesterId: 'U123', expiresAt: new Date(T0.getTime() + 60_000) },
  ...overrides,
});

const hold: RuleHold = {
  region: 'us-east-1',
  groupId: GROUP,
  protocol: 'tcp',
  fromPort: 5432,
  toPort: 5432,
  cidr: '203.0.113.7/32',
  grantId: 'grt_a',
  ruleId: 'sgr-0bbbbbbbbbbbbbbbb',
  managed: true,
};

const text = (report: ReconcileReport): string => {
  const m = reconcileReportMessage(report);
  return [m.text, ...m.blocks.map((b) => JSON.stringify(b))].join('\n');
};

const empty: ReconcileReport = { type: 'reconcile-report', orphans: [], drift: [] };

describe('the reconciliation report', () => {
  it('names each revoked orphan, where it was, whose tag it carried and why it went', () => {
    const t = text({
      ...empty,
      orphans: [{ rule: rule(), reason: 'unknown-grant', region: 'us-east-1', groupId: GROUP }],
    });
    expect(t).toContain('sgr-0aaaaaaaaaaaaaaaa');
    expect(t).toContain(GROUP);
    expect(t).toContain('tcp 5432 from 198.51.100.9/32');
    expect(t).toContain('<@U123>');
    expect(t).toContain('unknown to the database');
  });

  it('says loudly that a modified rule now allows more, and what hallpass did about it', () => {
    const grant = buildGrant({ id: 'grt_a', state: 'closed', requesterId: 'U_REQ' });
    const wide = rule({ ruleId: hold.ruleId, cidr: '0.0.0.0/0', fromPort: 0, toPort: 65535 });
    const revoked = text({
      ...empty,
      drift: [{ kind: 'modified', grant, hold, rule: wide, revoked: true, grantEnded: true }],
    });
    expect(revoked).toContain('changed by hand');
    expect(revoked).toContain('tcp 5432 from 203.0.113.7/32');
    expect(revoked).toContain('tcp 0-65535 from 0.0.0.0/0');
    expect(revoked).toContain('revoked and the grant ended');
    const failed = text({
      ...empty,
      drift: [{ kind: 'modified', grant, hold, rule: wide, revoked: false, grantEnded: false }],
    });
    expect(failed).toContain('Revoking it failed');
  });

  it('says a vanished rule was not reopened', () => {
    const grant = buildGrant({ id: 'grt_a', state: 'active' });
    expect(
      text({ ...empty, drift: [{ kind: 'vanished', grant, hold, revoked: false, grantEnded: false }] }),
    ).toContain('did not reopen');
  });

  it('escapes whatever the AWS tags say, so a tag can never ping or link', () => {
    const hostile = rule({
      tags: { grantId: '<!channel> grt_x', requesterId: '<!here>', expiresAt: undefined },
    });
    const t = text({
      ...empty,
      orphans: [{ rule: hostile, reason: 'unknown-grant', region: 'us-east-1', groupId: GROUP }],
    });
    expect(t).not.toContain('<!channel>');
    expect(t).not.toContain('<!here>');
  });

  it('stays within Slack’s limits however many findings there are', () => {
    const orphans = Array.from({ length: 2000 }, (_, i) => ({
      rule: rule({ ruleId: `sgr-${String(i).padStart(17, '0')}` }),
      reason: 'tag-expired' as const,
      region: 'us-east-1',
      groupId: GROUP,
    }));
    const message = reconcileReportMessage({ ...empty, orphans });
    expect(messageProblems(message)).toEqual([]);
    expect(JSON.stringify(message.blocks)).toContain('more (see the audit log)');
  });
});
