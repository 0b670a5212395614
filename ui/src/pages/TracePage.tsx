import { useEffect, useLayoutEffect, useMemo, useState } from "preact/hooks";
import { fetchTrace } from "../api";
import { localTrace } from "../localTraces";
import { buildTraceTree } from "../model/tree";
import type { JaegerTrace } from "../model/types";
import { TraceView } from "../trace/TraceView";

type Load = { state: "loading"; bytes?: number } | { state: "error"; message: string; notFound: boolean } | { state: "done"; trace: JaegerTrace };

export function TracePage({ traceID, query }: { traceID: string; query: URLSearchParams }) {
  const fromFile = query.get("source") === "file";
  const adjustClockSkew = query.get("adjustClockSkew") === "true";
  const [load, setLoad] = useState<Load>({ state: "loading" });

  useEffect(() => {
    setLoad({ state: "loading" });
    if (fromFile) {
      const t = localTrace(traceID);
      setLoad(t ? { state: "done", trace: t } : { state: "error", notFound: true, message: "This trace came from a file that is no longer loaded in this tab. Open the file again." });
      return;
    }
    const ac = new AbortController();
    performance.clearMarks("traceway:trace-data");
    performance.clearMeasures("traceway:tti");
    let shown = 0;
    const progress = (bytes: number) => {
      // A re-render per megabyte is plenty.
      if (bytes - shown > 1_000_000) { shown = bytes; setLoad({ state: "loading", bytes }); }
    };
    fetchTrace(traceID, ac.signal, progress, adjustClockSkew).then(
      (trace) => {
        performance.mark("traceway:trace-data");
        setLoad({ state: "done", trace });
      },
      (e) => { if (!ac.signal.aborted) setLoad({ state: "error", message: e.message, notFound: e.status === 404 }); },
    );
    return () => ac.abort();
  }, [traceID, fromFile, adjustClockSkew]);

  const tree = useMemo(() => (load.state === "done" ? buildTraceTree(load.trace) : null), [load]);

  // Time-to-interactive for the bench: from data arrival to the first frame after the rows render.
  useLayoutEffect(() => {
    if (!tree) return;
    requestAnimationFrame(() => {
      performance.mark("traceway:trace-interactive");
      if (performance.getEntriesByName("traceway:trace-data").length) {
        performance.measure("traceway:tti", "traceway:trace-data", "traceway:trace-interactive");
      }
      document.body.dataset.traceReady = tree.traceID;
    });
    return () => { delete document.body.dataset.traceReady; };
  }, [tree]);

  if (load.state === "loading") {
    return (
      <div class="page"><div class="empty"><p class="muted" role="status">
        Loading trace {traceID}…{load.bytes ? ` ${(load.bytes / 1e6).toFixed(0)} MB received` : ""}
      </p></div></div>
    );
  }
  if (load.state === "error") {
    return (
      <div class="page"><div class="empty error-box" role="alert">
        <h2>{load.notFound ? "Trace not found" : "Could not load the trace"}</h2>
        <p>{load.message}</p>
        {load.notFound && !fromFile && <p>It may not have arrived yet, or it is older than the retention period. <a href="/search">Search traces</a> or <a href="/open">open a file</a>.</p>}
      </div></div>
    );
  }
  // Keyed by trace: zoom, collapsed spans and find start afresh on another trace.
  return <TraceView key={tree!.traceID} tree={tree!} fromFile={fromFile} query={query} />;
}
