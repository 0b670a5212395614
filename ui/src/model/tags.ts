import type { JaegerSpan, KeyValue, TagValue } from "./types";

export function tagValue(tags: KeyValue[] | null | undefined, key: string): TagValue | undefined {
  if (!tags) return undefined;
  for (const t of tags) if (t.key === key) return t.value;
  return undefined;
}

/** A span is in error when it says so the Jaeger way (error=true) or the OTel way (status ERROR). */
export function isErrorSpan(span: JaegerSpan): boolean {
  const err = tagValue(span.tags, "error");
  if (err === true || err === "true") return true;
  return tagValue(span.tags, "otel.status_code") === "ERROR";
}

export function spanKind(span: JaegerSpan): string | undefined {
  const k = tagValue(span.tags, "span.kind");
  return k === undefined ? undefined : String(k);
}

export function formatTagValue(v: TagValue): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}
