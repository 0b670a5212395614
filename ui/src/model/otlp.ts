// Conversions between OTLP/JSON (ExportTraceServiceRequest) and the Jaeger UI format, for
// opening OTLP files and downloading a trace as OTLP. Times: OTLP ns strings, Jaeger µs numbers.
import type { JaegerProcess, JaegerSpan, JaegerTrace, KeyValue, SpanReference, TagValue } from "./types";

type AnyValue = {
  stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean;
  bytesValue?: string; arrayValue?: { values?: AnyValue[] }; kvlistValue?: { values?: OtlpKV[] };
};
type OtlpKV = { key: string; value?: AnyValue };
interface OtlpSpan {
  traceId: string; spanId: string; parentSpanId?: string; name: string; kind?: number | string;
  startTimeUnixNano: string | number; endTimeUnixNano: string | number; attributes?: OtlpKV[];
  events?: { timeUnixNano: string | number; name: string; attributes?: OtlpKV[] }[];
  links?: { traceId: string; spanId: string; attributes?: OtlpKV[] }[];
  status?: { code?: number | string; message?: string };
}
interface ScopeSpans { scope?: { name?: string; version?: string }; spans?: OtlpSpan[] }
export interface OtlpRequest {
  resourceSpans: { resource?: { attributes?: OtlpKV[] }; scopeSpans?: ScopeSpans[];
    instrumentationLibrarySpans?: ScopeSpans[] }[];
}

const KINDS = ["", "internal", "server", "client", "producer", "consumer"];

/** OTLP JSON ids are hex; some producers emit base64 (the proto JSON mapping). Both give hex. */
export function normaliseId(id: string | undefined): string {
  if (!id) return "";
  if (/^[0-9a-fA-F]+$/.test(id) && (id.length === 16 || id.length === 32)) return id.toLowerCase();
  try {
    return [...atob(id)].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
  } catch {
    return id.toLowerCase();
  }
}

function nsToUs(ns: string | number): number {
  const s = String(ns);
  return s.length > 3 ? Number(s.slice(0, -3)) : 0;
}

function fromAny(v: AnyValue | undefined): { type: string; value: TagValue } {
  if (!v) return { type: "string", value: "" };
  if (v.stringValue !== undefined) return { type: "string", value: v.stringValue };
  if (v.boolValue !== undefined) return { type: "bool", value: v.boolValue };
  if (v.intValue !== undefined) return { type: "int64", value: Number(v.intValue) };
  if (v.doubleValue !== undefined) return { type: "float64", value: v.doubleValue };
  if (v.bytesValue !== undefined) return { type: "binary", value: v.bytesValue };
  if (v.arrayValue) return { type: "string", value: JSON.stringify((v.arrayValue.values ?? []).map((x) => fromAny(x).value)) };
  if (v.kvlistValue) {
    const o = Object.fromEntries((v.kvlistValue.values ?? []).map((kv) => [kv.key, fromAny(kv.value).value]));
    return { type: "string", value: JSON.stringify(o) };
  }
  return { type: "string", value: "" };
}

const toTags = (kvs: OtlpKV[] | undefined): KeyValue[] =>
  (kvs ?? []).map((kv) => ({ key: kv.key, ...fromAny(kv.value) }));

export function isOtlp(doc: unknown): doc is OtlpRequest {
  return !!doc && typeof doc === "object" && Array.isArray((doc as OtlpRequest).resourceSpans);
}

/** Every trace in an OTLP request, in the order first seen. */
export function tracesFromOtlp(req: OtlpRequest): JaegerTrace[] {
  const traces = new Map<string, JaegerTrace>();
  req.resourceSpans.forEach((rs, ri) => {
    const resTags = toTags(rs.resource?.attributes);
    const svc = resTags.find((t) => t.key === "service.name");
    const process: JaegerProcess = {
      serviceName: svc ? String(svc.value) : "unknown_service",
      tags: resTags.filter((t) => t.key !== "service.name"),
    };
    const processID = `p${ri + 1}`;
    for (const ss of rs.scopeSpans ?? rs.instrumentationLibrarySpans ?? []) {
      for (const s of ss.spans ?? []) {
        const span = spanFromOtlp(s, ss.scope, processID);
        let t = traces.get(span.traceID);
        if (!t) traces.set(span.traceID, (t = { traceID: span.traceID, spans: [], processes: {} }));
        t.processes[processID] = process;
        t.spans.push(span);
      }
    }
  });
  return [...traces.values()];
}

function spanFromOtlp(s: OtlpSpan, scope: ScopeSpans["scope"], processID: string): JaegerSpan {
  const traceID = normaliseId(s.traceId);
  const tags = toTags(s.attributes);
  const kind = typeof s.kind === "string" ? s.kind.replace("SPAN_KIND_", "").toLowerCase() : KINDS[s.kind ?? 0];
  if (kind && kind !== "unspecified" && kind !== "internal") tags.push({ key: "span.kind", type: "string", value: kind });
  if (scope?.name) tags.push({ key: "otel.scope.name", type: "string", value: scope.name });
  if (scope?.version) tags.push({ key: "otel.scope.version", type: "string", value: scope.version });
  const code = s.status?.code;
  if (code === 2 || code === "STATUS_CODE_ERROR") {
    tags.push({ key: "otel.status_code", type: "string", value: "ERROR" }, { key: "error", type: "bool", value: true });
  } else if (code === 1 || code === "STATUS_CODE_OK") {
    tags.push({ key: "otel.status_code", type: "string", value: "OK" });
  }
  if (s.status?.message) tags.push({ key: "otel.status_description", type: "string", value: s.status.message });
  const references: SpanReference[] = [];
  const parent = normaliseId(s.parentSpanId);
  if (parent) references.push({ refType: "CHILD_OF", traceID, spanID: parent });
  for (const l of s.links ?? []) {
    references.push({ refType: "FOLLOWS_FROM", traceID: normaliseId(l.traceId), spanID: normaliseId(l.spanId) });
  }
  const start = nsToUs(s.startTimeUnixNano);
  return {
    traceID, spanID: normaliseId(s.spanId), operationName: s.name, references,
    startTime: start, duration: Math.max(0, nsToUs(s.endTimeUnixNano) - start), tags,
    logs: (s.events ?? []).map((e) => ({
      timestamp: nsToUs(e.timeUnixNano),
      fields: [{ key: "event", type: "string", value: e.name }, ...toTags(e.attributes)],
    })),
    processID, warnings: null,
  };
}

function toAny(t: KeyValue): AnyValue {
  switch (typeof t.value) {
    case "boolean": return { boolValue: t.value };
    case "number": return t.type === "float64" || !Number.isInteger(t.value) ? { doubleValue: t.value } : { intValue: String(t.value) };
    default: return t.type === "binary" ? { bytesValue: t.value } : { stringValue: t.value };
  }
}
const toKVs = (tags: KeyValue[]): OtlpKV[] => tags.map((t) => ({ key: t.key, value: toAny(t) }));
const usToNs = (us: number) => (us === 0 ? "0" : `${Math.round(us)}000`);
const RESERVED = new Set(["span.kind", "otel.scope.name", "otel.scope.version", "otel.status_code", "otel.status_description", "error"]);

/** One trace in Jaeger format as an OTLP/JSON ExportTraceServiceRequest. */
export function traceToOtlp(trace: JaegerTrace): OtlpRequest {
  const byProcess = new Map<string, Map<string, { scope: { name?: string; version?: string }; spans: OtlpSpan[] }>>();
  for (const s of trace.spans) {
    const tag = (k: string) => s.tags?.find((t) => t.key === k)?.value;
    const scopeName = tag("otel.scope.name") as string | undefined;
    const scopeVersion = tag("otel.scope.version") as string | undefined;
    const scopes = byProcess.get(s.processID) ?? new Map();
    byProcess.set(s.processID, scopes);
    const sk = `${scopeName ?? ""}@${scopeVersion ?? ""}`;
    if (!scopes.has(sk)) scopes.set(sk, { scope: { name: scopeName, version: scopeVersion }, spans: [] });
    const refs = s.references ?? [];
    const parent = refs.find((r) => r.refType === "CHILD_OF" && r.traceID === s.traceID);
    const status = tag("otel.status_code") === "ERROR" || tag("error") === true || tag("error") === "true" ? 2
      : tag("otel.status_code") === "OK" ? 1 : 0;
    scopes.get(sk)!.spans.push({
      traceId: s.traceID, spanId: s.spanID, parentSpanId: parent?.spanID ?? "", name: s.operationName,
      kind: Math.max(1, KINDS.indexOf(String(tag("span.kind") ?? "internal"))),
      startTimeUnixNano: usToNs(s.startTime), endTimeUnixNano: usToNs(s.startTime + s.duration),
      attributes: toKVs((s.tags ?? []).filter((t) => !RESERVED.has(t.key))),
      events: (s.logs ?? []).map((l) => ({
        timeUnixNano: usToNs(l.timestamp),
        name: String(l.fields.find((f) => f.key === "event")?.value ?? "log"),
        attributes: toKVs(l.fields.filter((f) => f.key !== "event")),
      })),
      links: refs.filter((r) => r !== parent).map((r) => ({ traceId: r.traceID, spanId: r.spanID, attributes: [] })),
      status: { code: status, message: (tag("otel.status_description") as string | undefined) ?? "" },
    });
  }
  return {
    resourceSpans: [...byProcess].map(([pid, scopes]) => {
      const p = trace.processes[pid] ?? { serviceName: "unknown_service", tags: [] };
      return {
        resource: { attributes: toKVs([{ key: "service.name", type: "string", value: p.serviceName }, ...(p.tags ?? [])]) },
        scopeSpans: [...scopes.values()].map(({ scope, spans }) => ({ scope, spans })),
      };
    }),
  };
}
