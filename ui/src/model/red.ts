// RED metrics as /api/red/services and /api/red/edges return them, and the pure
// helpers the services pages and the service map use to show them.

export interface RedSparklines {
  rate: (number | null)[];
  errorRatio: (number | null)[];
  p95Ms: (number | null)[];
}

/** One service (or, on a service's page, one operation) over the chosen window. */
export interface RedEntry {
  service: string;
  operation?: string;
  calls: number;
  errors: number;
  ratePerSecond: number | null;
  errorRatio: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  sparklines: RedSparklines;
}

export interface EdgeStats {
  parent: string;
  child: string;
  callCount: number;
  errorCount: number;
  errorRatio: number | null;
  p95Ms: number | null;
}

export type RedSortKey = "name" | "rate" | "errorRatio" | "p95";
export type SortDirection = "asc" | "desc";

const SORT_VALUE: Record<RedSortKey, (e: RedEntry) => number | string> = {
  name: (e) => e.operation ?? e.service,
  rate: (e) => e.ratePerSecond ?? -1,
  errorRatio: (e) => e.errorRatio ?? -1,
  p95: (e) => e.p95Ms ?? -1,
};

/** Entries sorted by ``key``; ties (and missing values, sorted last) by name. */
export function sortRed(entries: RedEntry[], key: RedSortKey, direction: SortDirection): RedEntry[] {
  const value = SORT_VALUE[key];
  const sign = direction === "asc" ? 1 : -1;
  const name = SORT_VALUE.name;
  return [...entries].sort((a, b) => {
    const va = value(a);
    const vb = value(b);
    if (va !== vb) {
      if (va === -1) return 1;
      if (vb === -1) return -1;
      return (va < vb ? -1 : 1) * sign;
    }
    return String(name(a)).localeCompare(String(name(b)));
  });
}

export function formatRate(perSecond: number | null): string {
  if (perSecond === null) return "–";
  if (perSecond === 0) return "0/s";
  if (perSecond < 1) return `${(perSecond * 60).toPrecision(2).replace(/\.0+$/, "")}/min`;
  return `${perSecond < 10 ? perSecond.toFixed(1).replace(/\.0$/, "") : Math.round(perSecond)}/s`;
}

export function formatRatio(ratio: number | null): string {
  if (ratio === null) return "–";
  if (ratio === 0) return "0%";
  const pct = ratio * 100;
  return `${pct < 1 ? pct.toFixed(2) : pct < 10 ? pct.toFixed(1) : Math.round(pct)}%`;
}

export function formatMs(ms: number | null): string {
  if (ms === null) return "–";
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)}s`;
  if (ms >= 10) return `${Math.round(ms)}ms`;
  if (ms >= 1) return `${ms.toFixed(1)}ms`;
  return `${Math.round(ms * 1000)}µs`;
}

/** An SVG path through ``values`` scaled to width x height (0 at the bottom);
 * a missing value breaks the line. Empty when nothing is known. */
export function sparklinePath(values: (number | null)[], width: number, height: number): string {
  const known = values.filter((v): v is number => v !== null);
  if (!known.length) return "";
  const max = Math.max(...known);
  const dx = values.length > 1 ? width / (values.length - 1) : 0;
  const y = (v: number) => (max > 0 ? height - (v / max) * height : height);
  let path = "";
  let drawing = false;
  values.forEach((v, i) => {
    if (v === null) {
      drawing = false;
      return;
    }
    path += `${drawing ? "L" : "M"}${+(i * dx).toFixed(1)},${+y(v).toFixed(1)}`;
    drawing = true;
  });
  return path;
}

/** What a service-map edge says: calls, and errors and p95 when known. */
export function edgeLabel(callCount: number, stats?: EdgeStats): string {
  const parts = [callCount.toLocaleString("en-US")];
  if (stats) {
    if (stats.errorCount > 0) parts.push(`${formatRatio(stats.errorRatio)} err`);
    if (stats.p95Ms !== null) parts.push(`p95 ${formatMs(stats.p95Ms)}`);
  }
  return parts.join(" · ");
}

export function edgeKey(parent: string, child: string): string {
  return `${parent}->${child}`;
}

export function edgesByKey(edges: EdgeStats[]): Map<string, EdgeStats> {
  return new Map(edges.map((e) => [edgeKey(e.parent, e.child), e]));
}
