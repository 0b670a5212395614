import type { JaegerSpan } from "./types";
import { formatTagValue } from "./tags";

export interface SpanException { type: string; message: string; stacktrace: string; timestamp: number }

/** The span's `exception` events (OpenTelemetry's exception.* attributes), in recorded order. */
export function exceptionsOf(span: JaegerSpan): SpanException[] {
  const out: SpanException[] = [];
  for (const log of span.logs ?? []) {
    const field = (k: string) => {
      const f = log.fields.find((x) => x.key === k);
      return f === undefined ? "" : formatTagValue(f.value);
    };
    if (field("event") !== "exception") continue;
    out.push({ type: field("exception.type"), message: field("exception.message"), stacktrace: field("exception.stacktrace"), timestamp: log.timestamp });
  }
  return out;
}
