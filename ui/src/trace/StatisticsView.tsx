import { useEffect, useMemo, useState } from "preact/hooks";
import { fetchStatistics } from "../api";
import { sortRows, type SortDir, type StatsRow, type TraceStatistics } from "../model/analysis";
import { formatDuration } from "../model/format";
import { serviceColor } from "../model/colors";

type Column = { key: keyof StatsRow; label: string; kind: "text" | "count" | "time" | "share"; title?: string };

const COLUMNS: Column[] = [
  { key: "service", label: "Service", kind: "text" },
  { key: "operation", label: "Operation", kind: "text" },
  { key: "count", label: "Count", kind: "count" },
  { key: "errors", label: "Errors", kind: "count" },
  { key: "total", label: "Total", kind: "time" },
  { key: "avg", label: "Avg", kind: "time" },
  { key: "min", label: "Min", kind: "time" },
  { key: "max", label: "Max", kind: "time" },
  { key: "selfTotal", label: "Self total", kind: "time", title: "Time not covered by the spans' children" },
  { key: "selfAvg", label: "Self avg", kind: "time" },
  { key: "selfMin", label: "Self min", kind: "time" },
  { key: "selfMax", label: "Self max", kind: "time" },
  { key: "selfShare", label: "Self % of trace", kind: "share", title: "Self total as a share of the trace's duration" },
];

/** Jaeger-style trace statistics: time per service or per operation, sortable by any column. */
export function StatisticsView({ traceID }: { traceID: string }) {
  const [stats, setStats] = useState<TraceStatistics | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const [by, setBy] = useState<"operations" | "services">("operations");
  const [sort, setSort] = useState<{ key: keyof StatsRow; dir: SortDir }>({ key: "selfTotal", dir: "desc" });
  useEffect(() => {
    const ac = new AbortController();
    fetchStatistics(traceID, ac.signal).then(setStats, (e) => { if (!ac.signal.aborted) setFailed(e.message); });
    return () => ac.abort();
  }, [traceID]);
  const columns = by === "services" ? COLUMNS.filter((c) => c.key !== "operation") : COLUMNS;
  const rows = useMemo(() => (stats ? sortRows(stats[by], sort.key, sort.dir) : []), [stats, by, sort]);
  if (failed) return <p class="error-box" role="alert">Could not compute the statistics: {failed}</p>;
  if (!stats) return <p class="muted" role="status">Computing statistics…</p>;
  const onSort = (key: keyof StatsRow) =>
    setSort((s) => ({ key, dir: s.key === key ? (s.dir === "asc" ? "desc" : "asc") : (key === "service" || key === "operation" ? "asc" : "desc") }));
  const cell = (row: StatsRow, c: Column) => {
    const v = row[c.key];
    if (c.kind === "time") return formatDuration(v as number);
    if (c.kind === "share") return `${((v as number) * 100).toFixed(1)}%`;
    if (c.key === "service") return <><span class="dot" style={{ background: serviceColor(row.service) }} />{row.service}</>;
    return String(v ?? "");
  };
  return (
    <div class="stats-view">
      <div class="stats-bar">
        <div class="seg" role="group" aria-label="Group by">
          <button class={by === "operations" ? "active" : ""} onClick={() => setBy("operations")}>By operation</button>
          <button class={by === "services" ? "active" : ""} onClick={() => setBy("services")}>By service</button>
        </div>
        <span class="muted small">Trace duration {formatDuration(stats.duration)}</span>
      </div>
      <table class="stats" data-testid="stats-table">
        <thead><tr>{columns.map((c) => (
          <th key={c.key} class={c.kind === "text" ? "" : "num"} title={c.title}
            aria-sort={sort.key === c.key ? (sort.dir === "asc" ? "ascending" : "descending") : "none"}>
            <button class="sort" onClick={() => onSort(c.key)}>{c.label}{sort.key === c.key ? (sort.dir === "asc" ? " ▲" : " ▼") : ""}</button>
          </th>
        ))}</tr></thead>
        <tbody>{rows.map((r) => (
          <tr key={`${r.service}\u0000${r.operation ?? ""}`}>
            {columns.map((c) => <td key={c.key} class={`${c.kind === "text" ? "" : "num"} ${c.key === "errors" && r.errors ? "error-text" : ""}`}>{cell(r, c)}</td>)}
          </tr>
        ))}</tbody>
      </table>
    </div>
  );
}
