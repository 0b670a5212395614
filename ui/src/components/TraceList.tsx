import { useMemo, useState } from "preact/hooks";
import type { TraceTree } from "../model/tree";
import { formatAge, formatDuration, formatTime, plural } from "../model/format";
import { serviceColor } from "../model/colors";

export type SortKey = "newest" | "longest" | "spans" | "errors";
const SORTS: [SortKey, string][] = [["newest", "Newest first"], ["longest", "Longest first"], ["spans", "Most spans"], ["errors", "Most errors"]];

const COMPARE: Record<SortKey, (a: TraceTree, b: TraceTree) => number> = {
  newest: (a, b) => b.start - a.start,
  longest: (a, b) => b.duration - a.duration,
  spans: (a, b) => b.nodes.length - a.nodes.length,
  errors: (a, b) => b.errorCount - a.errorCount || b.start - a.start,
};

export function TraceList({ trees, sort, onSort, hrefFor = (t) => `/trace/${t.traceID}`, comparable = false }: {
  trees: TraceTree[]; sort: SortKey; onSort: (s: SortKey) => void; hrefFor?: (t: TraceTree) => string;
  /** Offer picking two results to compare (stored traces only). */
  comparable?: boolean;
}) {
  const [picked, setPicked] = useState<string[]>([]);
  const pick = (id: string, on: boolean) => setPicked((p) => (on ? [...p.filter((x) => x !== id), id].slice(-2) : p.filter((x) => x !== id)));
  const sorted = useMemo(() => [...trees].sort(COMPARE[sort] ?? COMPARE.newest), [trees, sort]);
  const longest = Math.max(1, ...trees.map((t) => t.duration));
  return (
    <div class="trace-list">
      <div class="list-head">
        <span>{plural(trees.length, "trace")}</span>
        {comparable && (picked.length === 2
          ? <a class="button" href={`/compare?a=${picked[0]}&b=${picked[1]}`} data-testid="compare-picked">Compare the 2 picked traces</a>
          : <span class="muted small">{picked.length ? "Pick one more to compare" : "Tick two traces to compare them"}</span>)}
        <label>Sort
          <select name="sort" value={sort} onChange={(e) => onSort(e.currentTarget.value as SortKey)}>
            {SORTS.map(([k, l]) => <option key={k} value={k}>{l}</option>)}
          </select>
        </label>
      </div>
      <ol class="traces" data-testid="trace-results">
        {sorted.map((t) => (
          <li key={t.traceID} class={`card trace-item ${comparable ? "pickable" : ""}`} data-trace-id={t.traceID}>
            {comparable && <input type="checkbox" class="pick" aria-label="Pick for compare" checked={picked.includes(t.traceID)}
              onChange={(e) => pick(t.traceID, e.currentTarget.checked)} />}
            <a class="trace-link" href={hrefFor(t)}>
              <div class="trace-item-top">
                <span class="trace-name">
                  <span class="dot" style={{ background: serviceColor(t.rootService) }} />
                  <span class="trace-title-text"><b>{t.rootService}</b>: {t.rootOperation}</span>
                  <code class="muted small">{t.traceID.slice(0, 7)}</code>
                </span>
                <span class="trace-duration">{formatDuration(t.duration)}</span>
              </div>
              <div class="duration-bar"><span style={{ width: `${(t.duration / longest) * 100}%` }} /></div>
              <div class="trace-item-bottom">
                <span class="chip">{plural(t.nodes.length, "span")}</span>
                {t.errorCount > 0 && <span class="chip error">{plural(t.errorCount, "error")}</span>}
                {t.services.map((s) => (
                  <span class="chip svc" key={s.name} style={{ borderColor: serviceColor(s.name) }}>
                    <span class="dot" style={{ background: serviceColor(s.name) }} />{s.name} ({s.spans})
                  </span>
                ))}
                <span class="when" title={formatTime(t.start)}>{formatTime(t.start)} · {formatAge(t.start)}</span>
              </div>
            </a>
          </li>
        ))}
      </ol>
    </div>
  );
}
