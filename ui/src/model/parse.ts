import type { JaegerTrace } from "./types";
import { isOtlp, tracesFromOtlp } from "./otlp";

/**
 * The traces in a user's file: Jaeger `{data:[trace,...]}`, a bare Jaeger trace, or an OTLP/JSON
 * request. Throws Error with a message fit for the user when it is none of these.
 */
export function tracesFromDocument(text: string): JaegerTrace[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`not valid JSON: ${(e as Error).message}`);
  }
  if (isOtlp(doc)) return nonEmpty(tracesFromOtlp(doc));
  const d = doc as { data?: unknown; spans?: unknown };
  if (Array.isArray(d?.data)) return nonEmpty(d.data.filter(isJaegerTrace));
  if (isJaegerTrace(doc)) return [doc];
  throw new Error("expected Jaeger JSON ({\"data\": [trace]} or a trace) or OTLP JSON ({\"resourceSpans\": [...]})");
}

function isJaegerTrace(x: unknown): x is JaegerTrace {
  return !!x && typeof x === "object" && Array.isArray((x as JaegerTrace).spans);
}

function nonEmpty(traces: JaegerTrace[]): JaegerTrace[] {
  const found = traces.filter((t) => t.spans.length);
  if (!found.length) throw new Error("the file holds no spans");
  for (const t of found) {
    t.traceID ||= t.spans[0].traceID;
    t.processes ??= {};
  }
  return found;
}
