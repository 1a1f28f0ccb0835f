import { grantAlertMessage } from '../../../src/adapters/slack/views/alerts';
import type { GrantAlert } from '../../../src/app/notices';
import { messageProblems } from '../../support/block-kit';

const alert = (overrides: Partial<GrantAlert> = {}): GrantAlert => ({
  type: 'grant-alert',
  what: 'close-failing',
  grantId: 'grt_a',
  requestId: 'req_a',
  resourceId: 'prod-db',
  requesterId: 'U0REQ',
  expiresAt: '2026-03-01T12:00:00.000Z',
  detail: 'UnauthorizedOperation: not allowed',
  attempts: 3,
  admins: ['U0ADMIN', '@security'],
  ...overrides,
});

const text = (a: GrantAlert): string => JSON.stringify(grantAlertMessage(a).blocks);

describe('the top-level alert about a grant', () => {
  it('names the grant, its resource, requester and end, the attempts and the error, and mentions the admins', () => {
    const shown = text(alert());
    for (const part of [
      'grt_a',
      'prod-db',
      '<@U0REQ>',
      '3 attempts',
      'UnauthorizedOperation',
      '<@U0ADMIN>',
      '@security',
      'req_a',
    ])
      expect(shown).toContain(part);
    expect(grantAlertMessage(alert()).text).toContain('could not close grant grt_a');
    expect(messageProblems(grantAlertMessage(alert()))).toEqual([]);
  });

  it('says how many other grants failed with it, once for a whole batch, and nothing of the kind for one grant', () => {
    expect(text(alert({ others: 11 }))).toContain('nor 11 other grants closed with it in one call');
    expect(text(alert({ others: 1 }))).toContain('nor 1 other grant closed with it');
    expect(text(alert())).not.toContain('other grant');
    expect(messageProblems(grantAlertMessage(alert({ others: 11 })))).toEqual([]);
  });

  it('says how the policy no longer describes a stranded grant, and how to end it', () => {
    const message = grantAlertMessage(
      alert({ what: 'stranded', detail: 'its ports are now tcp 6432', attempts: undefined }),
    );
    expect(JSON.stringify(message.blocks)).toContain('its ports are now tcp 6432');
    expect(JSON.stringify(message.blocks)).toContain('/access revoke grt_a');
    expect(message.text).toContain('no longer describes grant grt_a');
  });

  it('keeps text from AWS and the policy inert', () => {
    const shown = text(alert({ detail: '<!channel> *bold* <https://evil.example|click>' }));
    expect(shown).not.toContain('<!channel>');
    expect(shown).not.toContain('<https://evil.example');
  });
});
