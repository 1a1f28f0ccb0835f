/** Figures and their formatting. Benchmarks print; they never assert on time. */

/** Nearest-rank percentile (`p` in 0–100) of `values`; NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

/** min / p50 / p95 / max of a sample. */
export type Summary = { readonly n: number; min: number; p50: number; p95: number; max: number };

export function summarize(values: readonly number[]): Summary {
  return {
    n: values.length,
    min: values.length === 0 ? Number.NaN : Math.min(...values),
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    max: values.length === 0 ? Number.NaN : Math.max(...values),
  };
}

/**
 * One printed line: what was measured, the figure, its unit. A `note` (a query plan, say) is printed
 * after the aligned rows as `label: value`.
 */
export type Row = {
  readonly label: string;
  readonly value: string;
  readonly unit: string;
  readonly note?: boolean;
};

/** A number with a sensible number of decimals for its size. */
export function num(value: number, decimals?: number): string {
  if (!Number.isFinite(value)) return String(value);
  const d = decimals ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return value.toFixed(d);
}

/** The four rows of a latency summary, with the sample size in the first label. */
export function summaryRows(label: string, s: Summary, unit: string, decimals?: number): Row[] {
  return [
    { label: `${label} min (n=${s.n})`, value: num(s.min, decimals), unit },
    { label: `${label} p50`, value: num(s.p50, decimals), unit },
    { label: `${label} p95`, value: num(s.p95, decimals), unit },
    { label: `${label} max`, value: num(s.max, decimals), unit },
  ];
}

/** Rows as an aligned plain-text table: label, right-aligned value, unit. */
export function formatTable(title: string, rows: readonly Row[]): string {
  const figures = rows.filter((r) => r.note !== true);
  const labelWidth = Math.max(...figures.map((r) => r.label.length), 0);
  const valueWidth = Math.max(...figures.map((r) => r.value.length), 0);
  const lines = figures.map((r) =>
    `  ${r.label.padEnd(labelWidth)}  ${r.value.padStart(valueWidth)} ${r.unit}`.trimEnd(),
  );
  const notes = rows.filter((r) => r.note === true).map((r) => `  ${r.label}: ${r.value}`);
  return [title, ...lines, ...notes].join('\n');
}

/** Mebibytes, for memory figures. */
export const mib = (bytes: number): string => (bytes / (1024 * 1024)).toFixed(1);

/** p50 / p95 / p99 / max of a sample, with its size in the first label: tail latency. */
export function tailRows(label: string, values: readonly number[], unit: string, decimals = 0): Row[] {
  return [
    { label: `${label} p50 (n=${values.length})`, value: num(percentile(values, 50), decimals), unit },
    { label: `${label} p95`, value: num(percentile(values, 95), decimals), unit },
    { label: `${label} p99`, value: num(percentile(values, 99), decimals), unit },
    {
      label: `${label} max`,
      value: num(values.length === 0 ? Number.NaN : Math.max(...values), decimals),
      unit,
    },
  ];
}
