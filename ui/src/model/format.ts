/** Human durations from microseconds: 850µs, 12.3ms, 4.56s, 3m 12s. */
export function formatDuration(us: number): string {
  if (!Number.isFinite(us)) return "–";
  const a = Math.abs(us);
  if (a < 1000) return `${round(us)}µs`;
  if (a < 1_000_000) return `${round(us / 1000)}ms`;
  if (a < 60_000_000) return `${round(us / 1_000_000)}s`;
  const m = Math.floor(us / 60_000_000);
  const s = Math.round((us - m * 60_000_000) / 1_000_000);
  return m < 60 ? `${m}m ${s}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

function round(x: number): string {
  const a = Math.abs(x);
  return String(a >= 100 ? Math.round(x) : a >= 10 ? Math.round(x * 10) / 10 : Math.round(x * 100) / 100);
}

/** Local wall-clock time of a µs timestamp, with milliseconds. */
export function formatTime(us: number): string {
  const d = new Date(us / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function formatAge(us: number, nowMs = Date.now()): string {
  const s = Math.round((nowMs - us / 1000) / 1000);
  if (s < 0) return "in the future";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** Parses "250ms", "1.5s", "300us", "2m" into microseconds; undefined when empty or unreadable. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s|m|h)?\s*$/.exec(text);
  if (!m) return undefined;
  const mult = { us: 1, "µs": 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6 }[m[2] ?? "ms"]!;
  return Math.round(Number(m[1]) * mult);
}

export function plural(n: number, word: string): string {
  return `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`;
}
