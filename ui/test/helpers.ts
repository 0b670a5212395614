import type { JaegerSpan, JaegerTrace, KeyValue, SpanReference } from "../src/model/types";

export const TRACE = "0af7651916cd43dd8448eb211c80319c";

export function span(id: string, opts: {
  parent?: string; ref?: SpanReference["refType"]; start?: number; duration?: number; op?: string;
  process?: string; tags?: KeyValue[]; refs?: SpanReference[];
} = {}): JaegerSpan {
  const refs: SpanReference[] = opts.parent ? [{ refType: opts.ref ?? "CHILD_OF", traceID: TRACE, spanID: opts.parent }] : [];
  return {
    traceID: TRACE, spanID: id, operationName: opts.op ?? `op-${id}`, references: [...refs, ...(opts.refs ?? [])],
    startTime: opts.start ?? 1_000_000, duration: opts.duration ?? 100, tags: opts.tags ?? [], logs: [],
    processID: opts.process ?? "p1", warnings: null,
  };
}

export function trace(spans: JaegerSpan[]): JaegerTrace {
  return {
    traceID: TRACE, spans,
    processes: { p1: { serviceName: "frontend", tags: [] }, p2: { serviceName: "backend", tags: [] } },
  };
}
