import type { SpanNode, TraceTree } from "./tree";
import { formatTagValue } from "./tags";

/**
 * Keys of the spans matching a find-in-trace query. Every whitespace-separated term must match
 * (case-insensitive) the service, operation, span id, or a tag/process tag/log field as
 * `key`, `value` or `key=value`.
 */
export function findSpans(tree: TraceTree, query: string): Set<string> {
  const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
  const hits = new Set<string>();
  if (!terms.length) return hits;
  for (const node of tree.nodes) {
    const text = searchableText(tree, node);
    if (terms.every((t) => text.includes(t))) hits.add(node.key);
  }
  return hits;
}

function searchableText(tree: TraceTree, node: SpanNode): string {
  const s = node.span;
  const parts = [node.service, s.operationName, s.spanID];
  for (const t of s.tags ?? []) parts.push(`${t.key}=${formatTagValue(t.value)}`);
  for (const l of s.logs ?? []) for (const f of l.fields) parts.push(`${f.key}=${formatTagValue(f.value)}`);
  for (const t of tree.trace.processes[s.processID]?.tags ?? []) parts.push(`${t.key}=${formatTagValue(t.value)}`);
  return parts.join("\n").toLowerCase();
}
