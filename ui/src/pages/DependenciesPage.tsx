import { useEffect, useRef, useState } from "preact/hooks";
import cytoscape from "cytoscape";
import dagre from "cytoscape-dagre";
import { fetchDependencies, fetchEdgeStats } from "../api";
import { navigate } from "../router";
import type { Dependency } from "../model/types";
import { serviceColor } from "../model/colors";
import { LOOKBACKS, lookbackMs } from "../model/search";
import { edgeKey, edgeLabel, edgesByKey, formatMs, formatRatio } from "../model/red";
import type { EdgeStats } from "../model/red";

cytoscape.use(dagre);

type Load = { state: "loading" } | { state: "error"; message: string }
  | { state: "done"; deps: Dependency[]; stats: Map<string, EdgeStats> };
const WINDOWS = LOOKBACKS.filter(([v]) => v !== "custom");

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function DependenciesPage({ query }: { query: URLSearchParams }) {
  const lookback = query.get("lookback") ?? "24h";
  const [load, setLoad] = useState<Load>({ state: "loading" });

  useEffect(() => {
    const ac = new AbortController();
    setLoad({ state: "loading" });
    const end = Date.now();
    // Errors and latency come from the RED rollups; the map still draws without them.
    const stats = fetchEdgeStats(end, lookbackMs(lookback), ac.signal).catch(() => [] as EdgeStats[]);
    Promise.all([fetchDependencies(end, lookbackMs(lookback), ac.signal), stats]).then(
      ([deps, edges]) => setLoad({ state: "done", deps, stats: edgesByKey(edges) }),
      (e: Error) => { if (!ac.signal.aborted) setLoad({ state: "error", message: e.message }); },
    );
    return () => ac.abort();
  }, [lookback]);

  return (
    <div class="page deps-page">
      <div class="deps-head">
        <h1>Service map</h1>
        <label>Time window
          <select name="lookback" value={lookback} onChange={(e) => navigate(`/dependencies?lookback=${e.currentTarget.value}`)}>
            {WINDOWS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
          </select>
        </label>
        <span class="muted small">Click a service to search its traces.</span>
      </div>
      {load.state === "loading" && <p class="muted">Loading dependencies…</p>}
      {load.state === "error" && <div class="empty error-box" role="alert"><h2>Could not load dependencies</h2><p>{load.message}</p></div>}
      {load.state === "done" && (load.deps.length ? (
        <>
          <Graph deps={load.deps} stats={load.stats} lookback={lookback} />
          <table class="deps-table card" data-testid="dependency-table">
            <thead><tr><th>Caller</th><th>Callee</th><th class="num">Calls</th><th class="num">Error rate</th><th class="num">p95</th></tr></thead>
            <tbody>
              {[...load.deps].sort((a, b) => b.callCount - a.callCount).map((d) => (
                <tr key={`${d.parent}->${d.child}`} data-edge={`${d.parent}->${d.child}`}>
                  <td><a href={`/search?service=${encodeURIComponent(d.parent)}&lookback=${lookback}`}>{d.parent}</a></td>
                  <td><a href={`/search?service=${encodeURIComponent(d.child)}&lookback=${lookback}`}>{d.child}</a></td>
                  <td class="num">{d.callCount.toLocaleString()}</td>
                  <td class={`num ${(load.stats.get(edgeKey(d.parent, d.child))?.errorCount ?? 0) > 0 ? "error-text" : ""}`}>
                    {formatRatio(load.stats.get(edgeKey(d.parent, d.child))?.errorRatio ?? null)}</td>
                  <td class="num">{formatMs(load.stats.get(edgeKey(d.parent, d.child))?.p95Ms ?? null)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : (
        <div class="empty"><h2>No calls between services</h2><p>No service called another in this window. Pick a longer window, or send traces that span several services.</p></div>
      ))}
    </div>
  );
}

function Graph({ deps, stats, lookback }: { deps: Dependency[]; stats: Map<string, EdgeStats>; lookback: string }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const services = [...new Set(deps.flatMap((d) => [d.parent, d.child]))];
    const draw = () => cytoscape({
      container: el.current,
      elements: [
        ...services.map((s) => ({ data: { id: s, label: s, color: serviceColor(s) } })),
        ...deps.map((d) => {
          const edge = stats.get(edgeKey(d.parent, d.child));
          return { data: { id: edgeKey(d.parent, d.child), source: d.parent, target: d.child,
            label: edgeLabel(d.callCount, edge), failing: (edge?.errorCount ?? 0) > 0 ? 1 : 0 } };
        }),
      ],
      layout: { name: "dagre", rankDir: "LR", nodeSep: 40, rankSep: 110, fit: true, padding: 30 } as cytoscape.LayoutOptions,
      style: [
        { selector: "node", style: {
          label: "data(label)", "background-color": "data(color)", color: cssVar("--fg"), "font-size": 12,
          "font-family": "system-ui, sans-serif", "text-valign": "bottom", "text-margin-y": 6, width: 26, height: 26,
          "border-width": 2, "border-color": cssVar("--bg"),
        } },
        { selector: "edge", style: {
          label: "data(label)", width: 2, "curve-style": "bezier", "target-arrow-shape": "triangle",
          "line-color": cssVar("--muted"), "target-arrow-color": cssVar("--muted"), color: cssVar("--fg"),
          "font-size": 11, "text-background-color": cssVar("--bg"), "text-background-opacity": 1, "text-background-padding": "2px",
        } },
        { selector: "edge[failing = 1]", style: { "line-color": cssVar("--error"), "target-arrow-color": cssVar("--error"), color: cssVar("--error") } },
        { selector: "node:active, node:selected", style: { "overlay-opacity": 0.15 } },
      ],
    });
    let cy = draw();
    // What the graph holds, for tests and tools that cannot read a canvas.
    el.current!.dataset.nodes = cy.nodes().map((n) => n.id()).sort().join(",");
    el.current!.dataset.edges = cy.edges().map((e) => e.id()).sort().join(",");
    el.current!.dataset.edgeLabels = cy.edges().map((e) => `${e.id()}: ${e.data("label")}`).sort().join("\n");
    const wire = () => cy.on("tap", "node", (e) => navigate(`/search?service=${encodeURIComponent(e.target.id())}&lookback=${lookback}`));
    wire();
    const redraw = () => { cy.destroy(); cy = draw(); wire(); };
    window.addEventListener("traceway-theme", redraw);
    return () => { window.removeEventListener("traceway-theme", redraw); cy.destroy(); };
  }, [deps, stats]);
  return <div class="graph card" ref={el} data-testid="service-graph" aria-label="Service dependency graph" />;
}
