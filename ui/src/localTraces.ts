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

const LIST = "traceway.file.list";

/** Remembers which traces the last multi-trace file held, so /open can list them after a reload. */
export function keepLocalList(name: string, ids: string[]): void {
  try {
    sessionStorage.setItem(LIST, JSON.stringify({ name, ids }));
  } catch {
    // Not kept across reloads; the list still shows until then.
  }
}

export function localList(): { name: string; traces: JaegerTrace[] } | null {
  const s = sessionStorage.getItem(LIST);
  if (!s) return null;
  const { name, ids } = JSON.parse(s) as { name: string; ids: string[] };
  const traces = ids.map(localTrace).filter((t): t is JaegerTrace => !!t);
  return traces.length ? { name, traces } : null;
}
