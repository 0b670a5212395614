import type { JaegerSpan, JaegerTrace, SpanReference } from "./types";
import { isErrorSpan, spanKind } from "./tags";

export interface SpanNode {
  /** Unique within the trace: the span id, or `id~n` for a duplicated span id. */
  key: string;
  span: JaegerSpan;
  service: string;
  parent: SpanNode | null;
  /** How the span hangs off its parent; null for roots. */
  parentRefType: SpanReference["refType"] | null;
  children: SpanNode[];
  depth: number;
  /** Start relative to the trace start, µs. */
  offset: number;
  isError: boolean;
  /** Some descendant is in error (marks collapsed ancestors). */
  errorBelow: boolean;
  descendants: number;
  /** The parent id the span names when that span is not in the trace. */
  missingParentID: string | null;
  /** Starts before or ends after its parent: clocks of two hosts disagree. */
  skewed: boolean;
  /** References other than the parent: span links, other traces. */
  links: SpanReference[];
  /** Position in depth-first order. */
  index: number;
}

export interface ServiceSummary {
  name: string;
  spans: number;
  errors: number;
}

export interface TraceTree {
  traceID: string;
  trace: JaegerTrace;
  /** Every span in depth-first order, children by start time. */
  nodes: SpanNode[];
  roots: SpanNode[];
  byKey: Map<string, SpanNode>;
  /** Absolute trace start, µs since epoch. */
  start: number;
  /** µs from the earliest start to the latest end, over all spans. */
  duration: number;
  services: ServiceSummary[];
  maxDepth: number;
  errorCount: number;
  rootService: string;
  rootOperation: string;
  /** Problems found while building the tree, for the header. */
  warnings: string[];
}

const byStart = (a: SpanNode, b: SpanNode) =>
  a.span.startTime - b.span.startTime || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

function makeNode(span: JaegerSpan, key: string, service: string): SpanNode {
  return {
    key, span, service, parent: null, parentRefType: null, children: [], depth: 0, offset: 0,
    isError: isErrorSpan(span), errorBelow: false, descendants: 0, missingParentID: null,
    skewed: false, links: [], index: 0,
  };
}

/** The reference that makes a parent: CHILD_OF first, then FOLLOWS_FROM, same trace only. */
function parentReference(span: JaegerSpan, traceID: string): SpanReference | undefined {
  const refs = (span.references ?? []).filter((r) => r.traceID === traceID || !r.traceID);
  return refs.find((r) => r.refType === "CHILD_OF") ?? refs.find((r) => r.refType === "FOLLOWS_FROM");
}

/**
 * Builds the span tree of a trace. Never throws on bad data: spans whose parent is missing become
 * roots, duplicated span ids get unique keys (a server span sharing its client's id becomes the
 * client's child, as in Zipkin's shared spans), cycles are broken, and skewed children are flagged
 * but keep their recorded times.
 */
export function buildTraceTree(trace: JaegerTrace): TraceTree {
  const warnings: string[] = [...(trace.warnings ?? [])];
  const traceID = trace.traceID || trace.spans[0]?.traceID || "";
  const serviceOf = (s: JaegerSpan) => trace.processes?.[s.processID]?.serviceName ?? "unknown";

  const byKey = new Map<string, SpanNode>();
  // span id -> the node that children naming that id attach to
  const target = new Map<string, SpanNode>();
  const all: SpanNode[] = [];
  const dupes = new Map<string, number>();

  for (const span of trace.spans) {
    const first = target.get(span.spanID);
    if (!first) {
      const node = makeNode(span, span.spanID, serviceOf(span));
      byKey.set(node.key, node);
      target.set(span.spanID, node);
      all.push(node);
      continue;
    }
    const n = (dupes.get(span.spanID) ?? 1) + 1;
    dupes.set(span.spanID, n);
    const node = makeNode(span, `${span.spanID}~${n}`, serviceOf(span));
    byKey.set(node.key, node);
    all.push(node);
    if (spanKind(first.span) === "client" && spanKind(span) === "server") {
      node.parent = first;
      node.parentRefType = "CHILD_OF";
      target.set(span.spanID, node); // the server side is where its children were created
    }
  }
  for (const [id, n] of dupes) warnings.push(`span id ${id} appears ${n} times`);

  for (const node of all) {
    const ref = parentReference(node.span, traceID);
    node.links = (node.span.references ?? []).filter((r) => r !== ref);
    if (node.parent || !ref) continue;
    const parent = target.get(ref.spanID);
    if (!parent || parent === node) {
      node.missingParentID = ref.spanID;
      continue;
    }
    node.parent = parent;
    node.parentRefType = ref.refType;
  }
  const missing = all.filter((n) => n.missingParentID).length;
  if (missing) warnings.push(`${missing} span(s) reference a parent that is not in the trace`);

  for (const node of all) if (node.parent) node.parent.children.push(node);
  for (const node of all) if (node.children.length > 1) node.children.sort(byStart);

  const roots = all.filter((n) => !n.parent).sort(byStart);
  const nodes = walk(roots, all.length);
  if (nodes.length < all.length) {
    // Whatever a walk from the roots cannot reach sits on a reference cycle: cut it at its earliest span.
    warnings.push("the span references contain a cycle");
    const seen = new Set(nodes);
    for (const node of [...all].sort(byStart)) {
      if (seen.has(node)) continue;
      const p = node.parent!;
      p.children.splice(p.children.indexOf(node), 1);
      node.parent = null;
      node.parentRefType = null;
      roots.push(node);
      for (const n of walk([node], all.length)) { seen.add(n); nodes.push(n); }
    }
  }

  return summarise(trace, traceID, nodes, roots, byKey, warnings);
}

function walk(roots: SpanNode[], limit: number): SpanNode[] {
  const out: SpanNode[] = [];
  const seen = new Set<SpanNode>();
  const stack = [...roots].reverse();
  while (stack.length && out.length <= limit) {
    const node = stack.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    out.push(node);
    for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]);
  }
  return out;
}

function summarise(
  trace: JaegerTrace, traceID: string, nodes: SpanNode[], roots: SpanNode[],
  byKey: Map<string, SpanNode>, warnings: string[],
): TraceTree {
  let start = Infinity;
  let end = -Infinity;
  for (const n of nodes) {
    start = Math.min(start, n.span.startTime);
    end = Math.max(end, n.span.startTime + n.span.duration);
  }
  if (!nodes.length) start = end = 0;

  const services = new Map<string, ServiceSummary>();
  let maxDepth = 0;
  let errorCount = 0;
  let skewed = 0;
  nodes.forEach((n, i) => {
    n.index = i;
    n.depth = n.parent ? n.parent.depth + 1 : 0;
    n.offset = n.span.startTime - start;
    maxDepth = Math.max(maxDepth, n.depth);
    const p = n.parent;
    // A FOLLOWS_FROM child may well outlive its parent (a queue consumer); only CHILD_OF implies nesting.
    if (p && n.parentRefType === "CHILD_OF" && (n.span.startTime < p.span.startTime ||
        n.span.startTime + n.span.duration > p.span.startTime + p.span.duration)) {
      n.skewed = true;
      skewed++;
    }
    const s = services.get(n.service) ?? { name: n.service, spans: 0, errors: 0 };
    s.spans++;
    if (n.isError) { s.errors++; errorCount++; }
    services.set(n.service, s);
  });
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    const p = n.parent;
    if (p) {
      p.descendants += n.descendants + 1;
      if (n.isError || n.errorBelow) p.errorBelow = true;
    }
  }
  if (skewed) warnings.push(`${skewed} span(s) lie outside their parent's time range (clock skew?)`);

  // The trace is named after its true root: a span with no parent reference at all, if there is one.
  const root = roots.find((r) => !r.missingParentID) ?? roots[0];
  return {
    traceID, trace, nodes, roots, byKey, start, duration: end - start,
    services: [...services.values()].sort((a, b) => b.spans - a.spans || a.name.localeCompare(b.name)),
    maxDepth: nodes.length ? maxDepth + 1 : 0, errorCount,
    rootService: root?.service ?? "unknown", rootOperation: root?.span.operationName ?? "",
    warnings,
  };
}

/** The rows shown when the given spans are collapsed, in depth-first order. */
export function visibleNodes(tree: TraceTree, collapsed: ReadonlySet<string>): SpanNode[] {
  if (!collapsed.size) return tree.nodes;
  const out: SpanNode[] = [];
  const nodes = tree.nodes;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    out.push(n);
    if (collapsed.has(n.key)) i += n.descendants;
  }
  return out;
}
