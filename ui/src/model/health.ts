// Pure helpers for the Health page and the "What's different?" panel (/api/analysis/*).

export interface BrokenHop {
  clientService: string;
  clientOperation: string;
  serverService: string | null;
  broken: number;
  total: number;
  exampleTraceIDs: string[];
  callerOperation?: string;
  continuationTraceIDs?: string[];
}

export interface TraceGroup { count: number; exampleTraceIDs: string[] }
export interface OrphanGroup extends TraceGroup { service: string; operation: string }
export interface MultiRootGroup extends TraceGroup { roots: { service: string; operation: string }[] }

export interface Propagation {
  data: BrokenHop[];
  orphans: OrphanGroup[];
  multipleRoots: MultiRootGroup[];
  traces: number;
  traceLimit: number;
}

export interface CoverageRow { service: string; instrumented: boolean; callers: string[]; calls: number; type?: string }
export interface Coverage { data: CoverageRow[]; traces: number; traceLimit: number }

export interface AttributeRow {
  key: string; value: string; selected: number; baseline: number;
  selectedShare: number; baselineShare: number; score: number;
}
export interface AttributeDifferences {
  data: AttributeRow[]; selectedTraces: number; baselineTraces: number; thresholdNs: number | null;
}

export type By = "latency" | "error";

/** "frontend GET /stock → inventory" (or "→ ?" when the callee is unknown). */
export function hopLabel(h: BrokenHop): string {
  return `${h.clientService} ${h.clientOperation} → ${h.serverService ?? "?"}`;
}

/** Share of the calls that lost their context, as a whole percentage. */
export function brokenPercent(h: BrokenHop): number {
  return h.total ? Math.round((100 * h.broken) / h.total) : 0;
}

/** Uninstrumented services (what to fix) apart from the instrumented ones, each by calls. */
export function splitCoverage(rows: CoverageRow[]): { missing: CoverageRow[]; instrumented: CoverageRow[] } {
  const byCalls = (a: CoverageRow, b: CoverageRow) => b.calls - a.calls || a.service.localeCompare(b.service);
  return {
    missing: rows.filter((r) => !r.instrumented).sort(byCalls),
    instrumented: rows.filter((r) => r.instrumented).sort(byCalls),
  };
}

/** Whether the Health page has anything to warn about. */
export function hasFindings(p: Propagation, c: Coverage): boolean {
  return p.data.length + p.orphans.length + p.multipleRoots.length > 0 || c.data.some((r) => !r.instrumented);
}

/** The /api/analysis/attributes parameters for a /search URL: its service, operation and window. */
export function attributesParams(search: URLSearchParams, by: By): URLSearchParams {
  const p = new URLSearchParams();
  for (const k of ["service", "operation"]) {
    const v = search.get(k);
    if (v) p.set(k, v);
  }
  const lookback = search.get("lookback") ?? "1h";
  if (lookback === "custom") {
    const start = Number(search.get("start")), end = Number(search.get("end"));
    if (end > start) {
      p.set("end", String(end));
      p.set("lookback", `${Math.round(end - start)}us`);
    }
  } else {
    p.set("lookback", lookback);
  }
  p.set("by", by);
  return p;
}

export const percent = (share: number): string => `${Math.round(share * 100)}%`;

/** Long values (stack traces, SQL) shortened for a table cell; the full text goes in a tooltip. */
export function shortValue(value: string, max = 80): string {
  const oneLine = value.replace(/\s+/g, " ");
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

/** A search URL for the traces carrying key=value, for the current service and window. */
export function tagSearchUrl(search: URLSearchParams, row: AttributeRow): string {
  const q = new URLSearchParams();
  for (const k of ["service", "operation", "lookback", "start", "end", "limit"]) {
    const v = search.get(k);
    if (v) q.set(k, v);
  }
  q.set("tags", JSON.stringify({ [row.key]: row.value }));
  return `/search?${q}`;
}
