/** Evenly spaced "nice" tick offsets (µs) covering [from, to]. */
export function niceTicks(from: number, to: number, maxTicks: number): number[] {
  const span = to - from;
  if (span <= 0) return [from];
  const raw = span / Math.max(1, maxTicks);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to + 1e-9; t += step) out.push(t);
  return out;
}
