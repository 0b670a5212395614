import { useEffect, useState } from "preact/hooks";
import { fetchCoverage, fetchPropagation } from "../healthApi";
import { navigate } from "../router";
import { LOOKBACKS } from "../model/search";
import {
  brokenPercent, hasFindings, splitCoverage, type Coverage, type CoverageRow, type Propagation,
} from "../model/health";

type Load = { state: "loading" } | { state: "error"; message: string } | { state: "done"; propagation: Propagation; coverage: Coverage };
const WINDOWS = LOOKBACKS.filter(([v]) => v !== "custom");

function TraceLinks({ ids, label = "trace" }: { ids: string[]; label?: string }) {
  return <>{ids.map((id, i) => <a key={id} class="example-link" href={`/trace/${id}`} title={id}>{label} {i + 1}</a>)}</>;
}

const searchLink = (service: string, lookback: string) =>
  <a href={`/search?service=${encodeURIComponent(service)}&lookback=${lookback}`}>{service}</a>;

export function HealthPage({ query }: { query: URLSearchParams }) {
  const lookback = query.get("lookback") ?? "1h";
  const [load, setLoad] = useState<Load>({ state: "loading" });

  useEffect(() => {
    const ac = new AbortController();
    setLoad({ state: "loading" });
    Promise.all([fetchPropagation(lookback, ac.signal), fetchCoverage(lookback, ac.signal)]).then(
      ([propagation, coverage]) => setLoad({ state: "done", propagation, coverage }),
      (e: Error) => { if (!ac.signal.aborted) setLoad({ state: "error", message: e.message }); },
    );
    return () => ac.abort();
  }, [lookback]);

  return (
    <div class="page health-page">
      <div class="deps-head">
        <h1>Health</h1>
        <label>Time window
          <select name="lookback" value={lookback} onChange={(e) => navigate(`/health?lookback=${e.currentTarget.value}`)}>
            {WINDOWS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
          </select>
        </label>
        <span class="muted small">Where traces break: lost context, lost parents, services nobody instruments.</span>
      </div>
      {load.state === "loading" && <p class="muted">Checking traces…</p>}
      {load.state === "error" && <div class="empty error-box" role="alert"><h2>Could not check traces</h2><p>{load.message}</p></div>}
      {load.state === "done" && <Findings {...load} lookback={lookback} />}
    </div>
  );
}

function Findings({ propagation, coverage, lookback }: { propagation: Propagation; coverage: Coverage; lookback: string }) {
  const { missing, instrumented } = splitCoverage(coverage.data);
  return (
    <>
      {!hasFindings(propagation, coverage) && <div class="empty"><h2>No problems found</h2><p>Every call in these traces reached a traced service.</p></div>}
      <section class="card health-section" data-testid="broken-hops">
        <h2>Lost trace context</h2>
        <p class="muted small">Calls (CLIENT/PRODUCER spans) that no SERVER/CONSUMER span answered in their trace; the callee, when known, started traces of its own.</p>
        {propagation.data.length ? (
          <table class="health-table">
            <thead><tr><th>Caller</th><th>Call</th><th>Callee</th><th class="num">Broken</th><th>Examples</th></tr></thead>
            <tbody>{propagation.data.map((h) => (
              <tr key={`${h.clientService}|${h.callerOperation}|${h.clientOperation}`} data-hop={`${h.clientService}->${h.serverService ?? "?"}`}>
                <td>{searchLink(h.clientService, lookback)} <span class="muted">{h.callerOperation}</span></td>
                <td>{h.clientOperation}</td>
                <td>{h.serverService ? searchLink(h.serverService, lookback) : <span class="muted">unknown</span>}</td>
                <td class="num">{h.broken} of {h.total} ({brokenPercent(h)}%)</td>
                <td><TraceLinks ids={h.exampleTraceIDs} /> {h.continuationTraceIDs?.length ? <TraceLinks ids={h.continuationTraceIDs} label="continued" /> : null}</td>
              </tr>))}
            </tbody>
          </table>
        ) : <p>No call lost its context.</p>}
      </section>
      <section class="card health-section" data-testid="orphans">
        <h2>Orphan spans and traces with several roots</h2>
        {propagation.orphans.length + propagation.multipleRoots.length ? (
          <table class="health-table">
            <thead><tr><th>Problem</th><th>Spans</th><th class="num">Traces</th><th>Examples</th></tr></thead>
            <tbody>
              {propagation.orphans.map((o) => (
                <tr key={`o|${o.service}|${o.operation}`} data-kind="orphan">
                  <td>Parent never arrived</td><td>{o.service}: {o.operation}</td><td class="num">{o.count}</td><td><TraceLinks ids={o.exampleTraceIDs} /></td>
                </tr>))}
              {propagation.multipleRoots.map((m) => (
                <tr key={`m|${m.roots.map((r) => `${r.service}:${r.operation}`).join(",")}`} data-kind="multiple-roots">
                  <td>Several roots</td><td>{m.roots.map((r) => `${r.service}: ${r.operation}`).join(", ")}</td><td class="num">{m.count}</td><td><TraceLinks ids={m.exampleTraceIDs} /></td>
                </tr>))}
            </tbody>
          </table>
        ) : <p>Every span's parent arrived, and every trace has one root.</p>}
      </section>
      <section class="card health-section" data-testid="coverage">
        <h2>Instrumentation coverage</h2>
        <p class="muted small">Services called (by peer name or as a database) that never send spans, next to those that do.</p>
        <table class="health-table">
          <thead><tr><th>Service</th><th>Instrumented</th><th>Called by</th><th class="num">Calls</th></tr></thead>
          <tbody>{[...missing, ...instrumented].map((r: CoverageRow) => (
            <tr key={r.service} data-service={r.service} class={r.instrumented ? "" : "uninstrumented"}>
              <td>{r.instrumented ? searchLink(r.service, lookback) : r.service}{r.type === "database" ? <span class="muted"> (database)</span> : null}</td>
              <td>{r.instrumented ? "yes" : <b class="no-spans">no spans</b>}</td>
              <td>{r.callers.join(", ")}</td>
              <td class="num">{r.calls}</td>
            </tr>))}
          </tbody>
        </table>
      </section>
      <p class="muted small">Looked at the newest {propagation.traces} traces of the window (at most {propagation.traceLimit}); calls from the last 30 seconds wait for late spans.</p>
    </>
  );
}
