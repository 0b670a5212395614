import { parseTagTerms, toLogfmt } from "./logfmt";
import { parseDuration } from "./format";

export const LOOKBACKS: [string, string][] = [
  ["5m", "Last 5 minutes"], ["15m", "Last 15 minutes"], ["30m", "Last 30 minutes"], ["1h", "Last hour"],
  ["2h", "Last 2 hours"], ["6h", "Last 6 hours"], ["12h", "Last 12 hours"], ["24h", "Last 24 hours"],
  ["2d", "Last 2 days"], ["7d", "Last 7 days"], ["custom", "Custom range"],
];

export const LOOKBACK_LABEL = Object.fromEntries(LOOKBACKS);

export function lookbackMs(lb: string): number {
  const m = /^(\d+)([mhd])$/.exec(lb);
  if (!m) return 3600_000;
  return Number(m[1]) * { m: 60_000, h: 3600_000, d: 86400_000 }[m[2] as "m" | "h" | "d"];
}

/** The search form's state, which is exactly what the /search URL holds. */
export interface SearchForm {
  service: string;
  operation: string;
  tags: string; // logfmt as typed
  lookback: string;
  start: string; // µs, custom range only
  end: string;
  minDuration: string;
  maxDuration: string;
  limit: string;
}

export function formFromQuery(q: URLSearchParams): SearchForm {
  const rawTags = q.get("tags") ?? "";
  let tags = rawTags;
  if (rawTags.startsWith("{")) {
    try { tags = toLogfmt(JSON.parse(rawTags)); } catch { /* keep as typed */ }
  }
  return {
    service: q.get("service") ?? "", operation: q.get("operation") ?? "", tags,
    lookback: q.get("lookback") ?? "1h", start: q.get("start") ?? "", end: q.get("end") ?? "",
    minDuration: q.get("minDuration") ?? "", maxDuration: q.get("maxDuration") ?? "",
    limit: q.get("limit") ?? "20",
  };
}

/** The /search URL for a form; throws Error when a field cannot be read. */
export function queryFromForm(f: SearchForm): URLSearchParams {
  const q = new URLSearchParams();
  if (f.service) q.set("service", f.service);
  if (f.operation) q.set("operation", f.operation);
  if (f.tags.trim()) {
    // Exact pairs travel as Jaeger's JSON; patterns (=~, =*) as the logfmt typed, which the API reads too.
    const terms = parseTagTerms(f.tags);
    q.set("tags", terms.some((t) => t.op) ? f.tags.trim() : JSON.stringify(Object.fromEntries(terms.map((t) => [t.key, t.value]))));
  }
  q.set("lookback", f.lookback);
  if (f.lookback === "custom") {
    if (!f.start || !f.end) throw new Error("a custom range needs a start and an end");
    q.set("start", f.start);
    q.set("end", f.end);
  }
  for (const k of ["minDuration", "maxDuration"] as const) {
    if (!f[k].trim()) continue;
    if (parseDuration(f[k]) === undefined) throw new Error(`${k === "minDuration" ? "min" : "max"} duration "${f[k]}" is not like 120ms, 1.5s or 300us`);
    q.set(k, /^\s*[\d.]+\s*$/.test(f[k]) ? `${f[k].trim()}ms` : f[k].trim());
  }
  q.set("limit", f.limit || "20");
  return q;
}

/** The /api/traces parameters for a /search URL, resolving the relative time range now. */
export function apiParams(q: URLSearchParams, nowMs = Date.now()): URLSearchParams {
  const p = new URLSearchParams();
  for (const k of ["service", "operation", "tags", "minDuration", "maxDuration", "limit"]) {
    const v = q.get(k);
    if (v) p.set(k, v);
  }
  const lb = q.get("lookback") ?? "1h";
  if (lb === "custom") {
    p.set("start", q.get("start") ?? "");
    p.set("end", q.get("end") ?? "");
  } else {
    p.set("end", String(nowMs * 1000));
    p.set("start", String((nowMs - lookbackMs(lb)) * 1000));
    p.set("lookback", lb);
  }
  return p;
}
