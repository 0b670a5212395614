import { useState } from "preact/hooks";
import type { TraceTree } from "../model/tree";
import { formatDuration, formatTime, plural } from "../model/format";
import { serviceColor } from "../model/colors";
import { downloadJaeger, downloadOtlp } from "./download";

export function TraceHeader({ tree, fromFile, onFind }: { tree: TraceTree; fromFile: boolean; onFind: (q: string) => void }) {
  const [showWarnings, setShowWarnings] = useState(false);
  return (
    <header class="trace-header">
      <div class="trace-title">
        <h1>
          <span class="dot big" style={{ background: serviceColor(tree.rootService) }} />
          <span data-testid="trace-name">{tree.rootService}: {tree.rootOperation}</span>
          <code class="muted small trace-id" title="Trace id">{tree.traceID}</code>
          {fromFile && <span class="chip">from file, not stored</span>}
        </h1>
        <div class="downloads">
          <span class="muted small">Download</span>
          <button class="ghost" onClick={() => downloadJaeger(tree.trace)}>Jaeger JSON</button>
          <button class="ghost" onClick={() => downloadOtlp(tree.trace)}>OTLP JSON</button>
        </div>
      </div>
      <dl class="trace-facts">
        <div><dt>Start</dt><dd>{formatTime(tree.start)}</dd></div>
        <div><dt>Duration</dt><dd>{formatDuration(tree.duration)}</dd></div>
        <div><dt>Services</dt><dd>{tree.services.length}</dd></div>
        <div><dt>Depth</dt><dd>{tree.maxDepth}</dd></div>
        <div><dt>Spans</dt><dd data-testid="span-count">{tree.nodes.length.toLocaleString()}</dd></div>
        <div><dt>Errors</dt><dd class={tree.errorCount ? "error-text" : ""} data-testid="error-count">
          {tree.errorCount ? <button class="linkish error-text" title="Find the spans in error" onClick={() => onFind("is:error")}>{tree.errorCount.toLocaleString()}</button> : 0}
        </dd></div>
      </dl>
      <div class="service-legend">
        {tree.services.map((s) => (
          <button class="chip svc" key={s.name} style={{ borderColor: serviceColor(s.name) }}
            title={`Find ${s.name}'s spans`} onClick={() => onFind(s.name)}>
            <span class="dot" style={{ background: serviceColor(s.name) }} />{s.name} · {plural(s.spans, "span")}
            {s.errors > 0 && <span class="error-text"> · {s.errors} err</span>}
          </button>
        ))}
        {tree.warnings.length > 0 && (
          <button class="chip warn" onClick={() => setShowWarnings(!showWarnings)}>⚠ {plural(tree.warnings.length, "warning")}</button>
        )}
      </div>
      {showWarnings && <ul class="warnings">{tree.warnings.map((w, i) => <li key={i}>{w}</li>)}</ul>}
    </header>
  );
}
