import { useEffect, useState } from "preact/hooks";
import { traceExists } from "../api";
import type { SpanNode, TraceTree } from "../model/tree";
import type { KeyValue, SpanReference } from "../model/types";
import { formatDuration } from "../model/format";
import { formatTagValue, tagValue } from "../model/tags";
import { serviceColor } from "../model/colors";
import { causeOf, type ErrorOrigins } from "../model/analysis";
import { exceptionsOf, type SpanException } from "../model/exceptions";

const SCOPE_KEYS = new Set(["otel.scope.name", "otel.scope.version"]);
const STATUS_KEYS = new Set(["otel.status_code", "otel.status_description", "error"]);

function Table({ rows, testid }: { rows: KeyValue[]; testid?: string }) {
  if (!rows.length) return <p class="muted small">None</p>;
  return (
    <table class="kv" data-testid={testid}>
      <tbody>
        {rows.map((t, i) => (
          <tr key={`${t.key}-${i}`}><th>{t.key}</th><td><span class={`v-${typeof t.value} ${typeof t.value === "string" && t.value.includes("\n") ? "multiline" : ""}`}>{formatTagValue(t.value)}</span></td></tr>
        ))}
      </tbody>
    </table>
  );
}

export function SpanDetails({ tree, node, fromFile, onClose, onSelect, origins }: {
  tree: TraceTree; node: SpanNode; fromFile: boolean; onClose: () => void; onSelect: (n: SpanNode) => void;
  origins: ErrorOrigins | null;
}) {
  const s = node.span;
  const process = tree.trace.processes[s.processID];
  const tags = s.tags ?? [];
  const attributes = tags.filter((t) => !SCOPE_KEYS.has(t.key) && !STATUS_KEYS.has(t.key) && t.key !== "span.kind");
  const scope = tags.filter((t) => SCOPE_KEYS.has(t.key));
  const statusCode = tagValue(tags, "otel.status_code") ?? (node.isError ? "ERROR" : "UNSET");
  const statusMessage = tagValue(tags, "otel.status_description");
  const kind = tagValue(tags, "span.kind");

  return (
    <aside class="span-details" aria-label="Span details" data-testid="span-details">
      <header>
        <h2><span class="dot" style={{ background: serviceColor(node.service) }} />{s.operationName}</h2>
        <button class="ghost close" onClick={onClose} aria-label="Close details">✕</button>
      </header>
      <dl class="facts">
        <div><dt>Service</dt><dd>{node.service}</dd></div>
        <div><dt>Duration</dt><dd>{formatDuration(s.duration)}</dd></div>
        <div><dt>Start</dt><dd>+{formatDuration(node.offset)}</dd></div>
        {kind !== undefined && <div><dt>Kind</dt><dd>{String(kind)}</dd></div>}
        <div><dt>Span id</dt><dd><code>{s.spanID}</code></dd></div>
        <div><dt>Status</dt><dd class={node.isError ? "error-text" : ""} data-testid="span-status">{String(statusCode)}{statusMessage ? `: ${statusMessage}` : ""}</dd></div>
      </dl>
      {node.skewed && <p class="notice">This span lies outside its parent's time range: the two hosts' clocks probably disagree.</p>}
      {node.missingParentID && <p class="notice">Its parent span <code>{node.missingParentID}</code> is not in this trace.</p>}
      {(s.warnings ?? []).map((w, i) => <p class="notice" key={i}>{w}</p>)}
      {node.isError && origins && <ErrorCause tree={tree} node={node} origins={origins} onSelect={onSelect} />}
      {exceptionsOf(s).map((e, i) => <ExceptionBox key={i} exception={e} />)}

      <section><h3>Attributes</h3><Table rows={attributes} testid="span-attributes" /></section>
      <section>
        <h3>Events <span class="muted small">(time since trace start)</span></h3>
        {(s.logs ?? []).length ? (
          <ol class="events" data-testid="span-events">
            {(s.logs ?? []).map((l, i) => {
              const name = l.fields.find((f) => f.key === "event");
              return (
                <li key={i}>
                  <div class="event-head"><b>{name ? formatTagValue(name.value) : "log"}</b>
                    <span class="muted" title={`${formatDuration(l.timestamp - s.startTime)} after the span started`}>
                      +{formatDuration(l.timestamp - tree.start)}</span></div>
                  <Table rows={l.fields.filter((f) => f !== name)} />
                </li>
              );
            })}
          </ol>
        ) : <p class="muted small">None</p>}
      </section>
      <section><h3>Links &amp; references</h3><References tree={tree} node={node} fromFile={fromFile} onSelect={onSelect} /></section>
      <section>
        <h3>Resource <span class="muted small">(process {s.processID})</span></h3>
        <Table rows={[{ key: "service.name", value: process?.serviceName ?? "unknown" }, ...(process?.tags ?? [])]} testid="span-resource" />
      </section>
      <section><h3>Scope</h3><Table rows={scope} /></section>
    </aside>
  );
}

function References({ tree, node, fromFile, onSelect }: { tree: TraceTree; node: SpanNode; fromFile: boolean; onSelect: (n: SpanNode) => void }) {
  const refs: { ref: SpanReference; role: string }[] = [];
  const parentRef = node.parent && (node.span.references ?? []).find((r) => r.spanID === node.parent!.span.spanID);
  if (parentRef) refs.push({ ref: parentRef, role: parentRef.refType === "FOLLOWS_FROM" ? "follows from (parent)" : "child of (parent)" });
  for (const r of node.links) refs.push({ ref: r, role: r.refType === "FOLLOWS_FROM" ? "link / follows from" : "child of" });
  if (!refs.length) return <p class="muted small">None</p>;
  return (
    <ul class="refs">
      {refs.map(({ ref, role }, i) => <li key={i}><span class="badge">{role}</span> <RefTarget tree={tree} ref_={ref} fromFile={fromFile} onSelect={onSelect} /></li>)}
    </ul>
  );
}

function RefTarget({ tree, ref_, fromFile, onSelect }: { tree: TraceTree; ref_: SpanReference; fromFile: boolean; onSelect: (n: SpanNode) => void }) {
  const sameTrace = !ref_.traceID || ref_.traceID === tree.traceID;
  const [exists, setExists] = useState<boolean | null>(null);
  useEffect(() => {
    if (sameTrace || fromFile) return;
    let live = true;
    setExists(null);
    traceExists(ref_.traceID).then((e) => live && setExists(e));
    return () => { live = false; };
  }, [ref_.traceID]);
  if (sameTrace) {
    const target = tree.byKey.get(ref_.spanID);
    return target
      ? <button class="linkish" onClick={() => onSelect(target)}>{target.service}: {target.span.operationName} <code>{ref_.spanID}</code></button>
      : <span>span <code>{ref_.spanID}</code> <span class="muted">(not in this trace)</span></span>;
  }
  const label = <>trace <code>{ref_.traceID}</code> span <code>{ref_.spanID}</code></>;
  if (exists) return <a href={`/trace/${ref_.traceID}?span=${ref_.spanID}`} data-testid="trace-link">{label}</a>;
  return <span>{label} <span class="muted">{exists === null && !fromFile ? "(checking…)" : "(not stored here)"}</span></span>;
}

function ErrorCause({ tree, node, origins, onSelect }: { tree: TraceTree; node: SpanNode; origins: ErrorOrigins; onSelect: (n: SpanNode) => void }) {
  const cause = causeOf(origins, node.span.spanID);
  if (!cause) return null;
  if (cause.spanID === node.span.spanID) {
    return <p class="notice origin" data-testid="error-origin-note">⚡ The error started in this span.</p>;
  }
  const target = tree.byKey.get(cause.spanID);
  return (
    <p class="notice inherited" data-testid="error-inherited-note">
      In error because of <b>{cause.service}: {cause.operation}</b> below it{cause.exceptions[0] ? <> ({cause.exceptions[0].type})</> : null}.{" "}
      {target && <button class="linkish" data-testid="span-jump-to-cause" onClick={() => onSelect(target)}>Jump to cause</button>}
    </p>
  );
}

function ExceptionBox({ exception }: { exception: SpanException }) {
  const [copied, setCopied] = useState(false);
  const copy = () => {
    void navigator.clipboard?.writeText(exception.stacktrace || `${exception.type}: ${exception.message}`)
      .then(() => { setCopied(true); setTimeout(() => setCopied(false), 1500); }, () => setCopied(false));
  };
  return (
    <section class="exception" data-testid="exception">
      <h3>Exception</h3>
      <p class="exception-head"><b data-testid="exception-type">{exception.type || "exception"}</b>{exception.message && <>: <span data-testid="exception-message">{exception.message}</span></>}</p>
      {exception.stacktrace && (
        <div class="stack-wrap">
          <button class="ghost copy" onClick={copy} title="Copy the stack trace">{copied ? "Copied" : "Copy"}</button>
          <pre class="stacktrace" tabIndex={0} data-testid="stacktrace">{exception.stacktrace}</pre>
        </div>
      )}
    </section>
  );
}
