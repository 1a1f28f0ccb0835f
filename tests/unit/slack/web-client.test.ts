import { ErrorCode } from '@slack/web-api';
import { classifySlackError, singleAttemptClientOptions } from '../../../src/adapters/slack/web-client';
import { InfraError } from '../../../src/app/infra-error';
import { MemoryLogger } from '../../support/harness';

/** The shapes the WebClient throws (see @slack/web-api's errors.d.ts). */
const coded = (code: ErrorCode, fields: Record<string, unknown>) =>
  Object.assign(new Error(`slack error ${code}`), { code, ...fields });

describe('Slack clients make single short attempts', () => {
  it('never retries, returns a 429 at once instead of pausing, and times out', () => {
    const options = singleAttemptClientOptions({
      apiUrl: 'http://127.0.0.1:1/api/',
      logger: new MemoryLogger(),
    });
    expect(options).toMatchObject({
      slackApiUrl: 'http://127.0.0.1:1/api/',
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: 10_000,
    });
  });
});

describe('classifySlackError', () => {
  it('keeps Retry-After of a 429, in milliseconds, as retryable', () => {
    const e = classifySlackError(coded(ErrorCode.RateLimitedError, { retryAfter: 20 }), 'chat.update');
    expect(e).toMatchObject({ providerCode: 'slack_rate_limited', retryable: true, retryAfterMs: 20_000 });
  });

  it.each([
    [coded(ErrorCode.HTTPError, { statusCode: 500 }), true],
    [coded(ErrorCode.HTTPError, { statusCode: 503 }), true],
    [coded(ErrorCode.HTTPError, { statusCode: 400 }), false],
    [coded(ErrorCode.PlatformError, { data: { ok: false, error: 'internal_error' } }), true],
    [coded(ErrorCode.PlatformError, { data: { ok: false, error: 'ratelimited' } }), true],
    [coded(ErrorCode.PlatformError, { data: { ok: false, error: 'channel_not_found' } }), false],
    [coded(ErrorCode.PlatformError, { data: { ok: false, error: 'invalid_blocks' } }), false],
    [coded(ErrorCode.RequestError, { original: new Error('socket hang up') }), true],
    [new Error('The operation was aborted due to timeout'), true],
  ])('says whether %s may succeed later', (error, retryable) => {
    const e = classifySlackError(error, 'chat.postMessage');
    expect(e).toBeInstanceOf(InfraError);
    expect(e.retryable).toBe(retryable);
    expect(e.message).toContain('chat.postMessage');
  });

  it('names a platform error by its Slack code', () => {
    const e = classifySlackError(
      coded(ErrorCode.PlatformError, { data: { ok: false, error: 'not_in_channel' } }),
      'x',
    );
    expect(e.providerCode).toBe('not_in_channel');
  });
});
