/**
 * Durations as users type them: `90s`, `15m`, `1h`, `1h30m`, `2d` (units in descending order, each once).
 * Internally a duration is a whole number of milliseconds.
 */
const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 } as const;
type Unit = keyof typeof UNIT_MS;
const ORDER: readonly Unit[] = ['d', 'h', 'm', 's'];
const PART = /(\d{1,6})([dhms])/gy;

/** Parses `1h30m` into milliseconds. Returns `undefined` for anything else (including `0m` → 0 is returned; callers refuse zero). */
export function parseDuration(text: string): number | undefined {
  const input = text.trim().toLowerCase();
  if (input === '' || input.length > 24) return undefined;
  PART.lastIndex = 0;
  let total = 0;
  let lastRank = -1;
  let consumed = 0;
  for (let m = PART.exec(input); m !== null; m = PART.exec(input)) {
    const unit = m[2] as Unit;
    const rank = ORDER.indexOf(unit);
    if (rank <= lastRank) return undefined; // `30m1h` or `1h1h`
    lastRank = rank;
    total += Number(m[1]) * UNIT_MS[unit];
    consumed = PART.lastIndex;
  }
  return consumed === input.length ? total : undefined;
}

/** Formats milliseconds the way users type them: 5400000 → `1h30m`; sub-second remainders are dropped. */
export function formatDuration(ms: number): string {
  let rest = Math.max(0, Math.floor(ms / 1000)) * 1000;
  if (rest === 0) return '0s';
  let out = '';
  for (const unit of ORDER) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * UNIT_MS[unit];
    }
  }
  return out;
}

/** True when a token looks like an attempt at a duration (starts with a digit), so a typo is reported, not taken as reason text. */
export const looksLikeDuration = (token: string): boolean => /^\d/.test(token);
