import type { Logger } from '../../src/app/ports';

/** A log that keeps every line, so tests can assert on it (and scan it for secrets). */
export class MemoryLogger implements Logger {
  readonly lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  info(fields: Record<string, unknown>, msg: string) {
    this.lines.push({ level: 'info', msg, fields });
  }
  warn(fields: Record<string, unknown>, msg: string) {
    this.lines.push({ level: 'warn', msg, fields });
  }
  error(fields: Record<string, unknown>, msg: string) {
    this.lines.push({ level: 'error', msg, fields });
  }
}
