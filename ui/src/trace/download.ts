import type { JaegerTrace } from "../model/types";
import { traceToOtlp } from "../model/otlp";

export function downloadJson(filename: string, value: unknown): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(value, null, 1)], { type: "application/json" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export const downloadJaeger = (t: JaegerTrace) => downloadJson(`trace-${t.traceID}.jaeger.json`, { data: [t] });
export const downloadOtlp = (t: JaegerTrace) => downloadJson(`trace-${t.traceID}.otlp.json`, traceToOtlp(t));
