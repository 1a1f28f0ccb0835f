import { type ConfigResult, type Env, loadEnv } from '../../../src/config/env';

const base = { SLACK_BOT_TOKEN: 'xoxb-1111-2222-bot-secret', SLACK_SIGNING_SECRET: 'signing-secret' };

function timeoutOf(result: ConfigResult<Env>): number | undefined {
  if (!result.ok) throw new Error(result.section.problems.join('\n'));
  return result.value.awsTimeoutMs;
}

describe('HALLPASS_AWS_TIMEOUT', () => {
  it('is left unset when absent or blank, so the AWS clients apply their 10s default', () => {
    expect(timeoutOf(loadEnv(base))).toBeUndefined();
    expect(timeoutOf(loadEnv({ ...base, HALLPASS_AWS_TIMEOUT: ' ' }))).toBeUndefined();
  });

  it.each([
    ['1s', 1_000],
    ['10s', 10_000],
    ['30s', 30_000],
    ['2m', 120_000],
  ])('reads %s as %d ms', (text, ms) => {
    expect(timeoutOf(loadEnv({ ...base, HALLPASS_AWS_TIMEOUT: text }))).toBe(ms);
  });

  it.each(['0s', '3m', 'soon', '-10s', '10'])('refuses %s with a message naming the variable', (text) => {
    const result = loadEnv({ ...base, HALLPASS_AWS_TIMEOUT: text });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.section.problems).toEqual([
      'HALLPASS_AWS_TIMEOUT: must be a duration from 1s to 2m, such as 10s or 30s',
    ]);
  });
});
