import { useEffect, useState } from "preact/hooks";
import { fetchAttributeDifferences } from "../healthApi";
import { formatDuration } from "../model/format";
import {
  attributesParams, percent, shortValue, tagSearchUrl, type AttributeDifferences, type By,
} from "../model/health";

type Load = { state: "closed" } | { state: "loading" } | { state: "error"; message: string } | { state: "done"; answer: AttributeDifferences };

/** What the slow (or failing) traces of the current search have in common: /api/analysis/attributes. */
export function WhatsDifferentPanel({ search }: { search: URLSearchParams }) {
  const [open, setOpen] = useState(false);
  const [by, setBy] = useState<By>("latency");
  const [load, setLoad] = useState<Load>({ state: "closed" });
  const params = attributesParams(search, by).toString();

  useEffect(() => {
    if (!open) return setLoad({ state: "closed" });
    const ac = new AbortController();
    setLoad({ state: "loading" });
    fetchAttributeDifferences(new URLSearchParams(params), ac.signal).then(
      (answer) => setLoad({ state: "done", answer }),
      (e: Error) => { if (!ac.signal.aborted) setLoad({ state: "error", message: e.message }); },
    );
    return () => ac.abort();
  }, [open, params]);

  const selectedName = by === "latency" ? "Slow" : "Failing";
  return (
    <details class="card diff-panel" data-testid="whats-different" open={open}
      onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>What's different?</summary>
      <div class="diff-controls" role="radiogroup" aria-label="Compare">
        <label><input type="radio" name="diff-by" value="latency" checked={by === "latency"} onChange={() => setBy("latency")} /> slow traces</label>
        <label><input type="radio" name="diff-by" value="error" checked={by === "error"} onChange={() => setBy("error")} /> failing traces</label>
        <span class="muted small">against the other traces of this search's service, operation and time range</span>
      </div>
      {load.state === "loading" && <p class="muted">Comparing traces…</p>}
      {load.state === "error" && <p class="error-box" role="alert">{load.message}</p>}
      {load.state === "done" && <Differences answer={load.answer} search={search} selectedName={selectedName} />}
    </details>
  );
}

function Differences({ answer, search, selectedName }: { answer: AttributeDifferences; search: URLSearchParams; selectedName: string }) {
  const threshold = answer.thresholdNs === null ? "" : ` (longer than ${formatDuration(answer.thresholdNs / 1000)})`;
  return (
    <>
      <p class="small" data-testid="diff-summary">{selectedName}{threshold}: {answer.selectedTraces} traces; others: {answer.baselineTraces}.</p>
      {answer.data.length ? (
        <table class="health-table" data-testid="diff-table">
          <thead><tr><th>Attribute</th><th>{selectedName}</th><th>Others</th><th class="num">Score</th></tr></thead>
          <tbody>{answer.data.map((r) => (
            <tr key={`${r.key}=${r.value}`} data-attribute={`${r.key}=${r.value}`}>
              <td><a href={tagSearchUrl(search, r)} title={`${r.key}=${r.value}`}><code>{r.key}={shortValue(r.value)}</code></a></td>
              <td><span class="share-bar" style={{ width: `${r.selectedShare * 60}px` }} />{percent(r.selectedShare)} ({r.selected})</td>
              <td><span class="share-bar baseline" style={{ width: `${r.baselineShare * 60}px` }} />{percent(r.baselineShare)} ({r.baseline})</td>
              <td class="num">{r.score.toFixed(2)}</td>
            </tr>))}
          </tbody>
        </table>
      ) : <p class="muted">Nothing stands out{answer.selectedTraces && answer.baselineTraces ? "" : ": there is nothing to compare"}.</p>}
    </>
  );
}
