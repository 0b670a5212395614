import { useEffect, useState } from "preact/hooks";
import { navigate } from "../router";
import { keepLocalList, keepLocalTrace, localList } from "../localTraces";
import { tracesFromDocument } from "../model/parse";
import { buildTraceTree, type TraceTree } from "../model/tree";
import { TraceList, type SortKey } from "../components/TraceList";

// The last file's traces when it held several, so the Open page can list them.
let lastOpened: { name: string; trees: TraceTree[] } | null = null;
let lastError = "";
const listeners = new Set<() => void>();

/** Reads dropped or picked files; one trace opens directly, several are listed on /open. */
export async function openFiles(files: FileList | File[]): Promise<void> {
  const file = [...files][0];
  if (!file) return;
  try {
    const traces = tracesFromDocument(await file.text());
    traces.forEach(keepLocalTrace);
    lastError = "";
    if (traces.length === 1) {
      lastOpened = null;
      keepLocalList(file.name, []);
      navigate(`/trace/${traces[0].traceID}?source=file`);
      return;
    }
    keepLocalList(file.name, traces.map((t) => t.traceID));
    lastOpened = { name: file.name, trees: traces.map(buildTraceTree) };
  } catch (e) {
    lastOpened = null;
    lastError = `${file.name}: ${(e as Error).message}`;
  }
  listeners.forEach((l) => l());
  navigate("/open");
}

export function OpenFilePage() {
  if (!lastOpened && !lastError) {
    const kept = localList();
    if (kept) lastOpened = { name: kept.name, trees: kept.traces.map(buildTraceTree) };
  }
  const [, setTick] = useState(0);
  const [sort, setSort] = useState<SortKey>("newest");
  const [over, setOver] = useState(false);
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return (
    <div class="page open-page">
      <h1>Open a trace file</h1>
      <label class={`dropzone ${over ? "over" : ""}`}
        onDragOver={(e) => { e.preventDefault(); setOver(true); }} onDragLeave={() => setOver(false)}
        onDrop={(e) => { e.preventDefault(); e.stopPropagation(); setOver(false); void openFiles(e.dataTransfer!.files); }}>
        <input type="file" accept=".json,application/json" data-testid="file-input"
          onChange={(e) => { const f = e.currentTarget.files; if (f) void openFiles(f); e.currentTarget.value = ""; }} />
        <b>Drop a file here or click to choose one</b>
        <span class="muted">Jaeger JSON (<code>{"{\"data\": [trace]}"}</code> or a single trace) or OTLP JSON (<code>{"{\"resourceSpans\": [...]}"}</code>). The file is read in your browser and not stored.</span>
      </label>
      {lastError && <p class="error-box" role="alert">{lastError}</p>}
      {lastOpened && (
        <>
          <h2>{lastOpened.name}</h2>
          <TraceList trees={lastOpened.trees} sort={sort} onSort={setSort} hrefFor={(t) => `/trace/${t.traceID}?source=file`} />
        </>
      )}
    </div>
  );
}
