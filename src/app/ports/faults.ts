/**
 * Named points between the steps of opening and closing, where the fault-injection tests kill the
 * process (SIGKILL) to prove that every crash is recovered. A no-op in production.
 */
export interface Faults {
  point(name: FaultPoint): void;
}

export const FAULT_POINTS = [
  'approve.after-commit',
  'open.before-authorize',
  'open.after-authorize',
  'open.after-first-rule',
  'open.before-backstop',
  'open.after-backstop',
  'open.before-active',
  'extend.before-backstop',
  'close.after-closing',
  'close.before-revoke',
  'close.after-revoke',
  'close.before-closed',
  'close.before-backstop',
  'cut.before-add',
  'cut.after-add',
] as const;

export type FaultPoint = (typeof FAULT_POINTS)[number];

export const noFaults: Faults = { point: () => {} };
