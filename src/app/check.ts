/**
 * What `hallpass check` and the start-up checks report: one finding per thing checked, each naming the
 * setting that fixes it. Pure; the Slack and AWS adapters produce them, the CLI and start-up print them.
 */

/** `problem` stops `hallpass check` with exit 1; `warning` includes "could not check" (with why). */
export type FindingLevel = 'ok' | 'warning' | 'problem';

export type Finding = {
  readonly level: FindingLevel;
  /** What was checked and what was found, in a sentence; never a secret. */
  readonly what: string;
  /** The setting to change (a variable, a policy field, a Slack or IAM setting), for warnings and problems. */
  readonly fix?: string | undefined;
};

export const ok = (what: string): Finding => ({ level: 'ok', what });
export const warning = (what: string, fix?: string): Finding => ({ level: 'warning', what, fix });
export const problem = (what: string, fix?: string): Finding => ({ level: 'problem', what, fix });
/** A check that could not be made is never reported as missing: a warning saying why. */
export const couldNotCheck = (what: string, why: string, fix?: string): Finding =>
  warning(`could not check ${what}: ${why}`, fix);

/** One line: `ok      …`, `warning …  → fix: …`. */
export const formatFinding = (f: Finding): string =>
  `${f.level.padEnd(7)} ${f.what}${f.fix === undefined ? '' : ` → fix: ${f.fix}`}`;

/** A fatal start-up problem: hallpass refuses to start with this message (it names the variable to set). */
export class StartupRefused extends Error {
  override readonly name = 'StartupRefused';
}
