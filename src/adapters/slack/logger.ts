import { type Logger as BoltLogger, LogLevel } from '@slack/bolt';
import type { Logger } from '../../app/ports';

/** Bolt's logger interface over ours, so Bolt's messages land in the same structured log. */
export function boltLogger(log: Logger): BoltLogger {
  let level: LogLevel = LogLevel.INFO;
  const text = (args: unknown[]) => args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
  return {
    debug: () => {},
    info: (...args: unknown[]) => log.info({ source: 'bolt' }, text(args)),
    warn: (...args: unknown[]) => log.warn({ source: 'bolt' }, text(args)),
    error: (...args: unknown[]) => log.error({ source: 'bolt' }, text(args)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}
