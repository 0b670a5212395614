// The diagnosis endpoints' answers (src/traceway/query/trace_analysis_api.py) and the pure
// helpers the views draw them with. Times are microseconds.
import type { SpanNode, TraceTree } from "./tree";

export interface CriticalSegment { spanID: string; start: number; end: number }

export interface ExceptionInfo { type: string; message: string; stacktrace: string; timestamp: number }

export interface ErrorOrigin {
  spanID: string; service: string; operation: string; spanKind: string; statusMessage: string;
  exceptions: ExceptionInfo[];
  /** Ancestors in error because of this one, nearest first. */
  inheritedBy: string[];
}

export interface ErrorOrigins {
  origins: ErrorOrigin[];
  /** Span in error that is not an origin -> the origins below it. */
  inherited: Record<string, string[]>;
}

export interface StatsRow {
  service: string; operation: string | null; count: number; errors: number;
  total: number; min: number; avg: number; max: number;
  selfTotal: number; selfMin: number; selfAvg: number; selfMax: number;
  share: number; selfShare: number;
}

export interface TraceStatistics { duration: number; services: StatsRow[]; operations: StatsRow[] }

export interface TraceSummary { traceID: string; service: string; operation: string; start: number; duration: number; spans: number }
export interface TypicalSummary { typicalOf: number; lookback: number }
export interface NodeStats { count: number; duration: number; errors: number }

export interface CompareRow {
  depth: number; service: string; operation: string; status: "both" | "onlyA" | "onlyB";
  a: NodeStats | null; b: NodeStats | null; countDelta?: number; durationDelta?: number;
}

export interface Comparison { a: TraceSummary; b: TraceSummary | TypicalSummary; rows: CompareRow[] }

/** The critical path's pieces of each span, as [start, end] pairs. */
export function segmentsBySpan(segments: CriticalSegment[]): Map<string, [number, number][]> {
  const out = new Map<string, [number, number][]>();
  for (const s of segments) {
    const list = out.get(s.spanID);
    if (list) list.push([s.start, s.end]); else out.set(s.spanID, [[s.start, s.end]]);
  }
  return out;
}

export type ErrorRole = "origin" | "inherited";

/** Which spans started an error and which only inherited one. */
export function errorRoles(origins: ErrorOrigins): Map<string, ErrorRole> {
  const roles = new Map<string, ErrorRole>();
  for (const id of Object.keys(origins.inherited)) roles.set(id, "inherited");
  for (const o of origins.origins) roles.set(o.spanID, "origin");
  return roles;
}

/** Where "jump to cause" goes from a span: itself when it is an origin, else the first origin below it. */
export function causeOf(origins: ErrorOrigins, spanID: string): ErrorOrigin | undefined {
  const own = origins.origins.find((o) => o.spanID === spanID);
  if (own) return own;
  const below = origins.inherited[spanID]?.[0];
  return below ? origins.origins.find((o) => o.spanID === below) : undefined;
}

export type SortDir = "asc" | "desc";

/** Rows sorted by one column; strings alphabetically, numbers by value, nulls last; stable. */
export function sortRows<T>(rows: T[], key: keyof T, dir: SortDir): T[] {
  const sign = dir === "asc" ? 1 : -1;
  return [...rows].sort((x, y) => {
    const a = x[key] as unknown, b = y[key] as unknown;
    if (a === b) return 0;
    if (a === null || a === undefined) return 1;
    if (b === null || b === undefined) return -1;
    if (typeof a === "number" && typeof b === "number") return (a - b) * sign;
    return String(a).localeCompare(String(b)) * sign;
  });
}

export interface FlameRect { node: SpanNode; x: number; w: number; row: number }

/**
 * The flame graph's boxes in pixels, for the part [from, to] (µs since the trace start) of the
 * trace: x at the span's start, width its duration, each span on a row below its parent's. Siblings
 * that overlap in time (concurrent calls) get rows of their own, further down, so no box hides
 * another. Boxes narrower than `minWidth` px are left out, so a 100,000-span trace draws only what
 * can be seen.
 */
export function flameLayout(tree: TraceTree, width: number, from: number, to: number, minWidth = 0.5): FlameRect[] {
  const scale = width / (to - from || 1);
  const out: FlameRect[] = [];
  const rowOf = new Map<SpanNode, number>();
  const lowest = new Map<SpanNode, number>(); // the lowest row a span's drawn subtree reaches
  const placed = new Map<SpanNode, FlameRect[]>(); // drawn children of each span
  const taken: [number, number][][] = []; // per row: the x ranges already used
  const overlaps = (x: number, end: number, a: number, b: number) => x < b - 0.5 && a < end - 0.5;
  const free = (row: number, x: number, end: number) => !(taken[row] ?? []).some(([a, b]) => overlaps(x, end, a, b));
  for (const node of tree.nodes) {
    const start = node.offset, end = node.offset + node.span.duration;
    if (end < from || start > to) continue;
    const x = Math.max(0, (start - from) * scale);
    const w = Math.min(width, (end - from) * scale) - x;
    if (w < minWidth) continue;
    const parentRow = node.parent ? rowOf.get(node.parent) : undefined;
    let row = parentRow === undefined ? node.depth : parentRow + 1;
    // Below the whole subtree of every earlier sibling it overlaps, so it never looks like their child.
    for (const sib of (node.parent && placed.get(node.parent)) || []) {
      if (overlaps(x, x + w, sib.x, sib.x + sib.w)) row = Math.max(row, lowest.get(sib.node)! + 1);
    }
    while (!free(row, x, x + w)) row++;
    (taken[row] ??= []).push([x, x + w]);
    rowOf.set(node, row);
    const rect = { node, x, w, row };
    out.push(rect);
    if (node.parent) {
      const list = placed.get(node.parent);
      if (list) list.push(rect); else placed.set(node.parent, [rect]);
    }
    for (let n: SpanNode | null = node; n && rowOf.has(n); n = n.parent) {
      if ((lowest.get(n) ?? -1) >= row) break;
      lowest.set(n, row);
    }
  }
  return out;
}
