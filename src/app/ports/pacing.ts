/**
 * Paces a background sweep that works through many items (reconciliation's security groups): runs one
 * item's work, then rests in proportion to how long it took, so the sweep never takes the process's
 * whole CPU for seconds while due closes wait behind it. Absent (use-case tests): the work runs back to
 * back.
 */
export type Pacing = {
  paced<T>(work: () => Promise<T>): Promise<T>;
  /**
   * How many items may be worked on at once: one while the sweep is paced; several before pacing is on
   * (start-up's pass: its AWS calls for different groups overlap).
   */
  lanes(): number;
};
