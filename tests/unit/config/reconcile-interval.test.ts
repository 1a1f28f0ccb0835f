import { type ConfigResult, type Env, loadEnv } from '../../../src/config/env';

const base = { SLACK_BOT_TOKEN: 'xoxb-1111-2222-bot-secret', SLACK_SIGNING_SECRET: 'signing-secret' };

function intervalOf(result: ConfigResult<Env>): number | undefined {
  if (!result.ok) throw new Error(result.section.problems.join('\n'));
  return result.value.reconcileIntervalMs;
}

describe('HALLPASS_RECONCILE_INTERVAL', () => {
  it('is left unset when absent or blank, so start-up applies the 60s default', () => {
    expect(intervalOf(loadEnv(base))).toBeUndefined();
    expect(intervalOf(loadEnv({ ...base, HALLPASS_RECONCILE_INTERVAL: ' ' }))).toBeUndefined();
  });

  it.each([
    ['60s', 60_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['10s', 10_000],
    ['0s', 0],
  ])('reads %s as %d ms', (text, ms) => {
    expect(intervalOf(loadEnv({ ...base, HALLPASS_RECONCILE_INTERVAL: text }))).toBe(ms);
  });

  it.each(['9s', 'soon', '-60s', '60'])('refuses %s with a message naming the variable', (text) => {
    const result = loadEnv({ ...base, HALLPASS_RECONCILE_INTERVAL: text });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.section.problems).toEqual([
      'HALLPASS_RECONCILE_INTERVAL: must be a duration of at least 10s, such as 60s or 5m, or 0s to turn the periodic sweep off',
    ]);
  });
});
