import pino from 'pino';
import type { Logger } from '../../app/ports';

/**
 * Paths pino censors wherever they appear in a log line's fields. Secrets must never be logged in
 * the first place; this is the second line of defence.
 */
export const REDACT_PATHS = [
  'token',
  'botToken',
  'appToken',
  'signingSecret',
  'secret',
  'password',
  'authorization',
  'headers.authorization',
  'credentials',
  '*.token',
  '*.signingSecret',
  '*.secret',
  '*.credentials',
  '*.SecretAccessKey',
  '*.SessionToken',
  'SecretAccessKey',
  'SessionToken',
  // The audit chain's HMAC keys: never logged, wherever they would appear.
  'auditKeys',
  '*.auditKeys',
  'HALLPASS_AUDIT_KEY',
  'HALLPASS_AUDIT_OLD_KEYS',
  '*.HALLPASS_AUDIT_KEY',
  '*.HALLPASS_AUDIT_OLD_KEYS',
];

/** Structured JSON logs on stdout (or the given destination), with secrets redacted by configuration. */
export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
): Logger & { pino: pino.Logger } {
  const log = pino(
    { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { app: 'hallpass' } },
    destination,
  );
  return {
    pino: log,
    info: (fields, msg) => log.info(fields, msg),
    warn: (fields, msg) => log.warn(fields, msg),
    error: (fields, msg) => log.error(fields, msg),
  };
}
