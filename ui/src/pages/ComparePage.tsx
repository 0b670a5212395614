import { useEffect, useState } from "preact/hooks";
import { fetchCompare, fetchTypical } from "../api";
import { navigate } from "../router";
import type { Comparison, CompareRow, NodeStats, TraceSummary } from "../model/analysis";
import { formatDuration, formatTime } from "../model/format";
import { serviceColor } from "../model/colors";
import "../diagnosis.css";

type Load = { state: "idle" } | { state: "loading" } | { state: "error"; message: string } | { state: "done"; result: Comparison };

const STATUS: Record<CompareRow["status"], string> = { both: "in both", onlyA: "only in A", onlyB: "only in B" };

/**
 * Two traces side by side as trees of (service, operation): what only one of them has, and the
 * count and latency differences where both have it. `?a=&b=` compares two traces; `?a=&typical=1h`
 * compares a trace with the typical shape of its endpoint's traces within an hour of it.
 */
export function ComparePage({ query }: { query: URLSearchParams }) {
  const a = query.get("a") ?? "", b = query.get("b") ?? "", typical = query.get("typical") ?? "";
  const [load, setLoad] = useState<Load>({ state: "idle" });
  useEffect(() => {
    document.title = "Compare · Traceway";
    if (!a || (!b && !typical)) return setLoad({ state: "idle" });
    setLoad({ state: "loading" });
    const ac = new AbortController();
    (typical ? fetchTypical(a, typical, ac.signal) : fetchCompare(a, b, ac.signal)).then(
      (result) => setLoad({ state: "done", result }),
      (e) => { if (!ac.signal.aborted) setLoad({ state: "error", message: e.message }); });
    return () => ac.abort();
  }, [a, b, typical]);

  const pick = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const ta = form.get("a")?.toString().trim().toLowerCase() ?? "", tb = form.get("b")?.toString().trim().toLowerCase() ?? "";
    if (ta && tb) navigate(`/compare?a=${encodeURIComponent(ta)}&b=${encodeURIComponent(tb)}`);
    else if (ta) navigate(`/compare?a=${encodeURIComponent(ta)}&typical=1h`);
  };

  return (
    <div class="page compare-page">
      <h1>Compare traces</h1>
      <form class="compare-form" onSubmit={pick}>
        <label>Trace A <input name="a" defaultValue={a} placeholder="trace id" spellcheck={false} /></label>
        <label>Trace B <input name="b" defaultValue={b} placeholder="trace id (empty: the typical trace)" spellcheck={false} /></label>
        <button type="submit">Compare</button>
      </form>
      {load.state === "idle" && <p class="muted">Give two trace ids, or one to compare it with the typical trace of its endpoint.</p>}
      {load.state === "loading" && <p class="muted" role="status">Comparing…</p>}
      {load.state === "error" && <p class="error-box" role="alert">{load.message}</p>}
      {load.state === "done" && <CompareResult result={load.result} />}
    </div>
  );
}

function Summary({ label, s }: { label: string; s: TraceSummary }) {
  return (
    <div class="card compare-summary">
      <b>{label}</b> <a href={`/trace/${s.traceID}`}><span class="dot" style={{ background: serviceColor(s.service) }} />{s.service}: {s.operation}</a>
      <div class="muted small">{formatTime(s.start)} · {formatDuration(s.duration)} · {s.spans} spans · <code>{s.traceID.slice(0, 12)}</code></div>
    </div>
  );
}

function stats(n: NodeStats | null): string {
  if (!n) return "–";
  const count = Number.isInteger(n.count) ? n.count : n.count.toFixed(1);
  return `${count}× ${formatDuration(n.duration)}`;
}

function delta(us: number | undefined, kind: "count" | "time"): string {
  if (!us) return "";
  const sign = us > 0 ? "+" : "−";
  return kind === "count" ? `${sign}${Math.abs(us)}` : `${sign}${formatDuration(Math.abs(us))}`;
}

function CompareResult({ result }: { result: Comparison }) {
  const typical = "typicalOf" in result.b ? result.b : null;
  const counts = { onlyA: 0, onlyB: 0, both: 0 };
  for (const r of result.rows) counts[r.status]++;
  return (
    <>
      <div class="compare-summaries">
        <Summary label="A" s={result.a} />
        {typical
          ? <div class="card compare-summary"><b>B</b> the typical trace: medians over <span data-testid="typical-of">{typical.typicalOf}</span> other traces of this endpoint within ±{formatDuration(typical.lookback)}</div>
          : <Summary label="B" s={result.b as TraceSummary} />}
      </div>
      <p class="muted small" data-testid="compare-counts">{counts.both} in both · <span class="only-a">{counts.onlyA} only in A</span> · <span class="only-b">{counts.onlyB} only in B</span></p>
      <table class="compare" data-testid="compare-table">
        <thead><tr><th>Service &amp; operation</th><th>Where</th><th class="num">A</th><th class="num">B</th><th class="num">Count Δ</th><th class="num">Latency Δ (B − A)</th></tr></thead>
        <tbody>
          {result.rows.map((r, i) => (
            <tr key={i} class={`cmp-${r.status}`} data-status={r.status}>
              <td style={{ paddingLeft: 8 + Math.min(r.depth, 30) * 14 }}>
                <span class="dot" style={{ background: serviceColor(r.service) }} />{r.service}: <b>{r.operation}</b>
              </td>
              <td>{STATUS[r.status]}</td>
              <td class="num">{stats(r.a)}</td>
              <td class="num">{stats(r.b)}</td>
              <td class="num">{delta(r.countDelta, "count")}</td>
              <td class={`num ${(r.durationDelta ?? 0) > 0 ? "slower" : (r.durationDelta ?? 0) < 0 ? "faster" : ""}`}>{delta(r.durationDelta, "time")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
