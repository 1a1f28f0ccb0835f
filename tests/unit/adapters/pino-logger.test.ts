import { Writable } from 'node:stream';
import { createLogger } from '../../../src/adapters/log/pino-logger';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, stream };
}

describe('the pino logger', () => {
  it('writes structured JSON lines', () => {
    const { lines, stream } = capture();
    createLogger('info', stream).info({ grantId: 'grt_x' }, 'grant closed');
    const parsed = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(parsed).toMatchObject({ msg: 'grant closed', grantId: 'grt_x', app: 'hallpass', level: 30 });
  });

  it.each([
    ['a bot token', { token: 'xoxb-123-secret' }, 'xoxb-123-secret'],
    ['a signing secret', { signingSecret: 'sign-me-secret' }, 'sign-me-secret'],
    ['an authorization header', { headers: { authorization: 'Bearer abc.def' } }, 'Bearer abc.def'],
    [
      'STS credentials',
      { credentials: { SecretAccessKey: 'wJalrXUtnFEMI/K7MDENG', SessionToken: 'FQoGZXIvYXdz' } },
      'wJalrXUtnFEMI/K7MDENG',
    ],
    ['a nested session token', { response: { SessionToken: 'FQoGZXIvYXdzTOKEN' } }, 'FQoGZXIvYXdzTOKEN'],
    [
      'the audit keys of an env',
      { env: { auditKeys: { current: { id: 'k1', secret: 'c2VjcmV0LWF1ZGl0LWtleQ==' } } } },
      'c2VjcmV0LWF1ZGl0LWtleQ==',
    ],
    ['HALLPASS_AUDIT_KEY', { HALLPASS_AUDIT_KEY: 'k1:c2VjcmV0LWF1ZGl0LWtleQ==' }, 'c2VjcmV0LWF1ZGl0LWtleQ=='],
    [
      'HALLPASS_AUDIT_OLD_KEYS in an environment',
      { environment: { HALLPASS_AUDIT_OLD_KEYS: 'k0:b2xkLWF1ZGl0LWtleQ==' } },
      'b2xkLWF1ZGl0LWtleQ==',
    ],
  ])('redacts %s by configuration', (_name, fields, secret) => {
    const { lines, stream } = capture();
    createLogger('info', stream).warn(fields, 'something happened');
    expect(lines.join('')).not.toContain(secret);
    expect(lines.join('')).toContain('[redacted]');
  });
});
