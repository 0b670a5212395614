import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { navigate } from "../router";
import { findSpans } from "../model/find";
import { visibleNodes, type SpanNode, type TraceTree } from "../model/tree";
import { TraceHeader } from "./TraceHeader";
import { Minimap } from "./Minimap";
import { Waterfall } from "./Waterfall";
import { SpanDetails } from "./SpanDetails";
import { FlameGraph } from "./FlameGraph";
import { StatisticsView } from "./StatisticsView";
import { useDiagnosis } from "./useDiagnosis";
import { plural } from "../model/format";
import "../diagnosis.css";

type View = "timeline" | "flame" | "stats";
const VIEWS: [View, string][] = [["timeline", "Timeline"], ["flame", "Flame graph"], ["stats", "Statistics"]];

export type ViewRange = [number, number];

/** The trace page once the data is here: header, minimap, waterfall and the selected span. */
export function TraceView({ tree, fromFile, query }: { tree: TraceTree; fromFile: boolean; query: URLSearchParams }) {
  const [collapsed, setCollapsed] = useState<Set<string>>(() => new Set());
  const [range, setRange] = useState<ViewRange>([0, 1]);
  const [find, setFind] = useState(query.get("find") ?? "");
  const [scrollTo, setScrollTo] = useState<{ index: number; center?: boolean } | null>(null);
  const findInput = useRef<HTMLInputElement>(null);
  const selectedKey = query.get("span") ?? null;
  const selected = selectedKey ? tree.byKey.get(selectedKey) ?? null : null;

  const rows = useMemo(() => visibleNodes(tree, collapsed), [tree, collapsed]);
  const view = (VIEWS.find(([v]) => v === query.get("view"))?.[0] ?? "timeline") as View;
  const showCritical = query.get("criticalPath") === "1";
  const { origins, roles, critical, problem } = useDiagnosis(tree, !fromFile, showCritical);
  const skew = tree.trace.clockSkew;
  useEffect(() => { document.title = `${tree.rootService}: ${tree.rootOperation} · Traceway`; }, [tree]);
  // Typing stays responsive on huge traces: the search runs once the user pauses.
  const [findQuery, setFindQuery] = useState(find);
  useEffect(() => {
    if (tree.nodes.length < 5000) return setFindQuery(find);
    const t = setTimeout(() => setFindQuery(find), 150);
    return () => clearTimeout(t);
  }, [find, tree]);
  const matches = useMemo(() => findSpans(tree, findQuery), [tree, findQuery]);
  const matchList = useMemo(() => tree.nodes.filter((n) => matches.has(n.key)), [tree, matches]);

  const setUrl = (patch: Record<string, string | null>) => {
    const q = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(patch)) if (v) q.set(k, v); else q.delete(k);
    const s = q.toString();
    navigate(`${location.pathname}${s ? `?${s}` : ""}`, true);
  };
  const select = (n: SpanNode | null) => setUrl({ span: n?.key ?? null });

  useEffect(() => {
    const t = setTimeout(() => setUrl({ find: find || null }), 300);
    return () => clearTimeout(t);
  }, [find]);

  /** Shows a span: expands its collapsed ancestors and scrolls to it. */
  const reveal = (n: SpanNode) => {
    let next = collapsed;
    for (let p = n.parent; p; p = p.parent) {
      if (next.has(p.key)) { if (next === collapsed) next = new Set(collapsed); next.delete(p.key); }
    }
    if (next !== collapsed) setCollapsed(next);
    const list = next === collapsed ? rows : visibleNodes(tree, next);
    setScrollTo({ index: list.indexOf(n), center: true });
  };

  const toggle = (n: SpanNode, open?: boolean) => {
    if (!n.children.length) return;
    const next = new Set(collapsed);
    const isOpen = !next.has(n.key);
    if (open ?? !isOpen) next.delete(n.key); else next.add(n.key);
    setCollapsed(next);
  };

  const stepMatch = (dir: 1 | -1) => {
    if (!matchList.length) return;
    const cur = selected ? matchList.findIndex((n) => n.index >= selected.index + (dir > 0 ? 1 : 0)) : 0;
    let i = dir > 0 ? (cur < 0 ? 0 : cur) : (cur < 0 ? matchList.length - 1 : cur - 1);
    if (i < 0) i = matchList.length - 1;
    select(matchList[i]);
    reveal(matchList[i]);
  };

  const onKey = (e: KeyboardEvent) => {
    const target = e.target as HTMLElement;
    if (target.closest("input, textarea, select")) return;
    if ((e.key === "Enter" || e.key === " ") && target.closest("button, a")) return;
    if (e.key === "/" || (e.key === "f" && (e.ctrlKey || e.metaKey))) { e.preventDefault(); findInput.current?.focus(); return; }
    const i = selected ? rows.indexOf(selected) : -1;
    let handled = true;
    switch (e.key) {
      case "ArrowDown": case "j": { const n = rows[Math.min(rows.length - 1, i + 1)]; select(n); setScrollTo({ index: rows.indexOf(n) }); break; }
      case "ArrowUp": case "k": { const n = rows[Math.max(0, i - 1)]; select(n); setScrollTo({ index: rows.indexOf(n) }); break; }
      case "ArrowRight": if (selected) toggle(selected, true); break;
      case "ArrowLeft":
        if (selected && selected.children.length && !collapsed.has(selected.key)) toggle(selected, false);
        else if (selected?.parent) { select(selected.parent); reveal(selected.parent); }
        break;
      case "Enter": case " ": if (selected) toggle(selected); break;
      case "Home": if (rows.length) { select(rows[0]); setScrollTo({ index: 0 }); } break;
      case "End": if (rows.length) { select(rows[rows.length - 1]); setScrollTo({ index: rows.length - 1 }); } break;
      case "Escape": select(null); break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  };

  // Each press goes to the next span where an error started, round the trace.
  const [causeIndex, setCauseIndex] = useState(0);
  const jumpToCause = () => {
    const list = origins?.origins ?? [];
    const origin = list[causeIndex % (list.length || 1)];
    const node = origin && tree.byKey.get(origin.spanID);
    if (!node) return;
    setCauseIndex((causeIndex + 1) % list.length);
    if (view !== "timeline") setUrl({ view: null, span: node.key }); else select(node);
    reveal(node);
  };

  const collapseAll = () => setCollapsed(new Set(tree.nodes.filter((n) => n.children.length && n.depth >= 1).map((n) => n.key)));

  return (
    <div class="trace-page" onKeyDown={onKey}>
      <TraceHeader tree={tree} fromFile={fromFile} onFind={setFind} />
      <div class="trace-toolbar diagnose">
        <div class="seg" role="tablist" aria-label="View">
          {VIEWS.map(([v, label]) => (
            <button key={v} role="tab" aria-selected={view === v} class={view === v ? "active" : ""}
              onClick={() => setUrl({ view: v === "timeline" ? null : v })} disabled={fromFile && v === "stats"}
              title={fromFile && v === "stats" ? "Statistics are computed by the server: store the trace first" : undefined}>{label}</button>
          ))}
        </div>
        {view !== "stats" && (
          <label class="toggle-check" title={fromFile ? "The critical path is computed by the server: store the trace first" : "The spans the request actually waited for"}>
            <input type="checkbox" checked={showCritical} disabled={fromFile} data-testid="critical-path-toggle"
              onChange={(e) => setUrl({ criticalPath: e.currentTarget.checked ? "1" : null })} /> Critical path
          </label>
        )}
        {origins && origins.origins.length > 0 && (
          <button class="ghost error-text" data-testid="jump-to-cause" onClick={jumpToCause}
            title={`${origins.origins.length} span(s) where an error started; the first: ${origins.origins[0].service}: ${origins.origins[0].operation}`}>
            ⚡ Jump to cause{origins.origins.length > 1 ? ` (next: ${causeIndex + 1} of ${origins.origins.length})` : ""}
          </button>
        )}
        {skew && (
          <label class="toggle-check warn-text" title="Spans whose host clock seems off against their parent's; the server can shift them">
            <input type="checkbox" checked={skew.adjusted} data-testid="adjust-skew-toggle"
              onChange={(e) => setUrl({ adjustClockSkew: e.currentTarget.checked ? "true" : null })} />
            {skew.adjusted ? `Clock skew adjusted (${plural(skew.spans, "span")})` : `Adjust clock skew (${plural(skew.spans, "span")})`}
          </label>
        )}
        {problem && <span class="error-text small" role="alert">{problem}</span>}
        <div class="toolbar-right">
          {!fromFile && <a class="button ghost" href={`/compare?a=${tree.traceID}`} data-testid="compare-link">Compare…</a>}
          {!fromFile && <a class="button ghost" href={`/compare?a=${tree.traceID}&typical=1h`} data-testid="typical-link">Compare with typical</a>}
        </div>
      </div>
      {view === "timeline" && <div class="trace-toolbar">
        <div class="find">
          <input ref={findInput} type="search" placeholder="Find in trace: service, operation, tag=value, is:error…" aria-label="Find in trace"
            value={find} onInput={(e) => setFind(e.currentTarget.value)}
            onKeyDown={(e) => { if (e.key === "Enter") { e.preventDefault(); stepMatch(e.shiftKey ? -1 : 1); } }} />
          {find && findQuery === find && <span class="match-count" data-testid="match-count">{matchList.length} {matchList.length === 1 ? "match" : "matches"}</span>}
          {find && <button class="ghost" onClick={() => stepMatch(-1)} title="Previous match (Shift+Enter)" disabled={!matchList.length}>↑</button>}
          {find && <button class="ghost" onClick={() => stepMatch(1)} title="Next match (Enter)" disabled={!matchList.length}>↓</button>}
        </div>
        <div class="toolbar-right">
          <button class="ghost" onClick={() => setCollapsed(new Set())}>Expand all</button>
          <button class="ghost" onClick={collapseAll}>Collapse all</button>
          {(range[0] > 0 || range[1] < 1) && <button class="ghost" onClick={() => setRange([0, 1])}>Reset zoom</button>}
        </div>
      </div>}
      {view !== "stats" && <Minimap tree={tree} range={range} onRange={setRange} />}
      {view === "stats" ? <StatisticsView traceID={tree.traceID} /> : (
        <div class={`trace-body ${selected ? "with-details" : ""}`}>
          {view === "flame"
            ? <FlameGraph tree={tree} range={range} selected={selected} onSelect={(n) => select(n === selected ? null : n)} critical={critical} roles={roles} />
            : <Waterfall tree={tree} rows={rows} collapsed={collapsed} range={range} matches={findQuery ? matches : null}
                selected={selected} onSelect={(n) => select(n === selected ? null : n)} onToggle={toggle}
                scrollTo={scrollTo} critical={critical} roles={roles} />}
          {selected && <SpanDetails tree={tree} node={selected} fromFile={fromFile} onClose={() => select(null)}
            onSelect={(n) => { if (view !== "timeline") setUrl({ span: n.key }); else select(n); reveal(n); }} origins={origins} />}
        </div>
      )}
    </div>
  );
}
