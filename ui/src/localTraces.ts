import type { JaegerTrace } from "./model/types";

// Traces opened from a file live only in this tab: memory first, sessionStorage so a reload
// of /trace/{id}?source=file still shows them while the tab lives (when they fit).
const memory = new Map<string, JaegerTrace>();
const KEY = (id: string) => `traceway.file.${id}`;

export function keepLocalTrace(trace: JaegerTrace): void {
  memory.set(trace.traceID, trace);
  try {
    sessionStorage.setItem(KEY(trace.traceID), JSON.stringify(trace));
  } catch {
    // Too big for sessionStorage: it stays viewable until reload.
  }
}

export function localTrace(id: string): JaegerTrace | undefined {
  const t = memory.get(id);
  if (t) return t;
  const s = sessionStorage.getItem(KEY(id));
  return s ? (JSON.parse(s) as JaegerTrace) : undefined;
}
