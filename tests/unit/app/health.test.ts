import {
  CLOSE_FAILING_UNHEALTHY_ATTEMPTS,
  CLOSE_OVERDUE_UNHEALTHY_MS,
  closesFailing,
  evaluateHealth,
  type HealthFacts,
  OUTBOX_BACKLOG_DEGRADED,
} from '../../../src/app/health';
import { buildGrant } from '../../support/builders';

const NOW = new Date('2026-03-01T12:00:00Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms);
const MIN = 60_000;
const healthy: HealthFacts = { now: NOW, database: 'ok', grants: [], slack: 'ready', outboxDepth: 0 };
const whats = (f: Partial<HealthFacts>) => evaluateHealth({ ...healthy, ...f }).problems.map((p) => p.what);

describe('the health evaluation', () => {
  it('is ok with nothing wrong', () => {
    expect(evaluateHealth(healthy)).toEqual({ status: 'ok', problems: [] });
  });

  it('is unhealthy when the database does not answer', () => {
    const report = evaluateHealth({
      ...healthy,
      database: 'unreachable',
      grants: undefined,
      outboxDepth: undefined,
    });
    expect(report.status).toBe('unhealthy');
    expect(report.problems).toEqual([expect.objectContaining({ what: 'database-unreachable' })]);
  });

  it.each([
    [
      'one failed attempt, just due',
      { state: 'closing', closeAttempts: 1, expiresAt: ago(10_000) },
      'degraded',
    ],
    [
      `${CLOSE_FAILING_UNHEALTHY_ATTEMPTS} failed attempts`,
      { state: 'closing', closeAttempts: CLOSE_FAILING_UNHEALTHY_ATTEMPTS, expiresAt: ago(30_000) },
      'unhealthy',
    ],
    [
      'no attempt recorded, but open past the overdue threshold',
      { state: 'active', closeAttempts: 0, expiresAt: ago(CLOSE_OVERDUE_UNHEALTHY_MS) },
      'unhealthy',
    ],
    [
      'active, a minute past its end (the scheduler is on it)',
      { state: 'active', expiresAt: ago(MIN) },
      'ok',
    ],
    ['active, not yet due', { state: 'active', expiresAt: new Date(NOW.getTime() + MIN) }, 'ok'],
  ] as const)('a grant with %s: %s', (_name, grant, status) => {
    const report = evaluateHealth({ ...healthy, grants: [buildGrant({ id: 'grt_x', ...grant })] });
    expect(report.status).toBe(status);
    if (status !== 'ok') {
      expect(report.problems).toEqual([
        expect.objectContaining({ what: 'close-failing', detail: expect.stringContaining('grt_x') }),
      ]);
    }
  });

  it('counts the grants whose close is failing', () => {
    const grants = [
      buildGrant({ state: 'closing', closeAttempts: 2, expiresAt: ago(MIN) }),
      buildGrant({ state: 'active', expiresAt: ago(10 * MIN) }),
      buildGrant({ state: 'active', expiresAt: ago(MIN) }),
    ];
    expect(closesFailing(grants, NOW).map((f) => f.pastThreshold)).toEqual([false, true]);
  });

  it.each([
    ['Slack not ready yet', { slack: 'connecting' }, 'slack-not-ready'],
    [
      'the Socket Mode link down',
      { slack: 'connecting', socket: { state: 'down', since: ago(MIN) } },
      'socket-down',
    ],
    [
      'recent Slack API errors',
      { slackErrors: { count: 2, last: ago(MIN), error: 'chat.postMessage: x' } },
      'slack-errors',
    ],
    [
      'recent AWS errors',
      { awsErrors: { count: 1, last: ago(MIN), error: 'network.revoke: Throttling' } },
      'aws-errors',
    ],
    ['an outbox backlog', { outboxDepth: OUTBOX_BACKLOG_DEGRADED + 1 }, 'outbox-backlog'],
  ] as const)('is degraded, never unhealthy, with %s', (_name, facts, what) => {
    const report = evaluateHealth({ ...healthy, ...facts });
    expect(report.status).toBe('degraded');
    expect(report.problems.map((p) => p.what)).toEqual([what]);
  });

  it('lists the unhealthy problems before the degraded ones', () => {
    expect(whats({ slack: 'connecting', database: 'unreachable' })).toEqual([
      'database-unreachable',
      'slack-not-ready',
    ]);
  });

  it('keeps an outbox at the threshold ok', () => {
    expect(whats({ outboxDepth: OUTBOX_BACKLOG_DEGRADED })).toEqual([]);
  });
});
