/** What the command-line tools (`npm run audit`, `npm run db:copy`) share: refusals, and the audit keys. */
import dotenv from 'dotenv';
import type { AuditKey, AuditKeyring } from '../app/audit-ports';
import { parseAuditKey } from '../config/env';

/** A refusal to run as asked: printed with the usage hint, exit 2. */
export class UsageError extends Error {}

/**
 * `parseArgs` reports unknown or malformed flags with `ERR_PARSE_ARGS_*` codes. Checked by shape, not
 * `instanceof Error`: Node's own errors come from another realm under jest's sandbox.
 */
export const isParseArgsError = (e: unknown): e is Error =>
  typeof e === 'object' &&
  e !== null &&
  'code' in e &&
  typeof e.code === 'string' &&
  e.code.startsWith('ERR_PARSE_ARGS') &&
  'message' in e &&
  typeof e.message === 'string';

/** The audit keys from the environment (never echoed); a usage error names a malformed variable. */
export function keysOf(env: NodeJS.ProcessEnv): AuditKeyring | undefined {
  const read = (name: string, text: string | undefined): AuditKey[] => {
    const value = text?.trim();
    if (value === undefined || value === '') return [];
    return value.split(',').map((one) => {
      const key = parseAuditKey(one.trim());
      if (key === undefined) {
        throw new UsageError(
          `${name} must be <id>:<base64 of at least 32 bytes> (comma-separated for HALLPASS_AUDIT_OLD_KEYS).`,
        );
      }
      return key;
    });
  };
  const [current] = read('HALLPASS_AUDIT_KEY', env['HALLPASS_AUDIT_KEY']);
  const old = read('HALLPASS_AUDIT_OLD_KEYS', env['HALLPASS_AUDIT_OLD_KEYS']);
  if (current === undefined && old.length === 0) return undefined;
  return { current, old };
}

/** Where a command-line tool writes. */
export type Io = { out(text: string): void; err(text: string): void };

/**
 * Runs a tool's `run` on this process's arguments and environment, after reading `.env`; its result is
 * the exit code, and `failureCode` when it throws.
 */
export function runMain(
  run: (argv: string[], env: NodeJS.ProcessEnv, io: Io) => Promise<number>,
  failureCode = 3,
): void {
  dotenv.config({ quiet: true });
  void run(process.argv.slice(2), process.env, {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`hallpass: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = failureCode;
    },
  );
}
