import { memo } from "preact/compat";
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { SpanNode, TraceTree } from "../model/tree";
import { formatDuration } from "../model/format";
import { serviceColor } from "../model/colors";
import { niceTicks } from "./ticks";
import type { ViewRange } from "./TraceView";
import type { ErrorRole } from "../model/analysis";
import { spanKind } from "../model/tags";

export const ROW_HEIGHT = 26;
const HEAD_HEIGHT = 28;
const OVERSCAN = 12;
const MAX_INDENT_LEVELS = 30;

interface Props {
  tree: TraceTree;
  rows: SpanNode[];
  collapsed: ReadonlySet<string>;
  range: ViewRange;
  matches: ReadonlySet<string> | null;
  selected: SpanNode | null;
  onSelect: (n: SpanNode) => void;
  onToggle: (n: SpanNode) => void;
  /** A row to bring into view: centred when `center` (a jump), else just enough (a step). */
  scrollTo: { index: number; center?: boolean } | null;
  /** The critical path's pieces of each span (absolute µs), when shown. */
  critical: Map<string, [number, number][]> | null;
  /** Where errors started and which spans only inherited them, once known. */
  roles: Map<string, ErrorRole> | null;
}

/**
 * The span rows. Only the rows in view (plus a margin) are in the DOM, each at a fixed height and
 * absolutely placed, so a 100,000-span trace costs the same to scroll as a 100-span one.
 */
export function Waterfall({ tree, rows, collapsed, range, matches, selected, onSelect, onToggle, scrollTo, critical, roles }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 800 });
  const frame = useRef(0);

  useLayoutEffect(() => {
    const el = scroller.current!;
    const update = () => { frame.current = 0; setView({ top: el.scrollTop, height: el.clientHeight }); };
    const onScroll = () => { if (!frame.current) frame.current = requestAnimationFrame(update); };
    update();
    el.addEventListener("scroll", onScroll, { passive: true });
    const ro = new ResizeObserver(update);
    ro.observe(el);
    return () => { el.removeEventListener("scroll", onScroll); ro.disconnect(); cancelAnimationFrame(frame.current); };
  }, []);

  useEffect(() => {
    if (!scrollTo || scrollTo.index < 0) return;
    const el = scroller.current!;
    const y = scrollTo.index * ROW_HEIGHT;
    const visible = el.clientHeight - HEAD_HEIGHT;
    const outside = y < el.scrollTop || y + ROW_HEIGHT > el.scrollTop + visible;
    if (outside && scrollTo.center) el.scrollTop = y - visible / 2;
    else if (y < el.scrollTop) el.scrollTop = y;
    else if (outside) el.scrollTop = y + ROW_HEIGHT - visible;
  }, [scrollTo]);

  // Stable handlers keep the memoised rows from re-rendering when only the parent did.
  const handlers = useRef({ onSelect, onToggle });
  handlers.current = { onSelect, onToggle };
  const select = useCallback((n: SpanNode) => handlers.current.onSelect(n), []);
  const toggle = useCallback((n: SpanNode) => handlers.current.onToggle(n), []);

  const first = Math.max(0, Math.floor(view.top / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((view.top + view.height) / ROW_HEIGHT) + OVERSCAN);
  const [v0, v1] = range;
  const from = v0 * tree.duration;
  const to = v1 * tree.duration;
  const ticks = niceTicks(from, to, 6);
  const pos = (us: number) => ((us - from) / (to - from || 1)) * 100;

  const items = [];
  for (let i = first; i < last; i++) {
    const n = rows[i];
    items.push(
      <Row key={n.key} node={n} top={i * ROW_HEIGHT} from={from} to={to} collapsed={collapsed.has(n.key)}
        match={matches ? matches.has(n.key) : null} selected={n === selected} onSelect={select} onToggle={toggle}
        critical={critical?.get(n.span.spanID)} traceStart={tree.start} role={n.isError ? roles?.get(n.span.spanID) : undefined} />,
    );
  }

  return (
    <div class={`waterfall ${critical ? "showing-critical" : ""}`} ref={scroller} tabIndex={0} role="tree" aria-label="Spans" data-testid="waterfall">
      <div class="wf-head" style={{ height: HEAD_HEIGHT }}>
        <div class="wf-name-col">Service &amp; operation<ColumnResizer target={scroller} /></div>
        <div class="wf-time-col ruler">
          {ticks.map((t) => (
            <span key={t} class="tick" style={{ left: `${pos(t)}%` }}>{formatDuration(t)}</span>
          ))}
        </div>
      </div>
      <div class="wf-rows" style={{ height: rows.length * ROW_HEIGHT }}>
        <div class="wf-grid">{ticks.map((t) => <span key={t} style={{ left: `${pos(t)}%` }} />)}</div>
        {items}
      </div>
    </div>
  );
}

interface RowProps {
  node: SpanNode; top: number; from: number; to: number; collapsed: boolean; match: boolean | null;
  selected: boolean; onSelect: (n: SpanNode) => void; onToggle: (n: SpanNode) => void;
  critical: [number, number][] | undefined; traceStart: number; role: ErrorRole | undefined;
}

const ERROR_ICONS: Record<ErrorRole | "error", [string, string, string]> = {
  origin: ["⚡", "error origin", "The error started here"],
  inherited: ["↓", "inherited error", "In error because of a span below it (see the details: Jump to cause)"],
  error: ["!", "error", "This span is in error"],
};

const Row = memo(function Row({ node, top, from, to, collapsed, match, selected, onSelect, onToggle, critical, traceStart, role }: RowProps) {
  const s = node.span;
  const color = serviceColor(node.service);
  const width = to - from || 1;
  const left = ((node.offset - from) / width) * 100;
  const w = Math.max((s.duration / width) * 100, 0.05);
  const indent = Math.min(node.depth, MAX_INDENT_LEVELS) * 14;
  const hiddenError = collapsed && node.errorBelow;
  const cls = ["wf-row", selected && "selected", node.isError && "error", match === true && "match", match === false && "dim"]
    .filter(Boolean).join(" ");
  const kind = spanKind(s);
  const [icon, iconLabel, iconTitle] = ERROR_ICONS[role ?? "error"];
  // Duration label: after the bar when there is room, else before it, else inside it.
  const labelAt = left + w < 85 ? "after" : left > 15 ? "before" : "inside";
  return (
    <div class={cls} style={{ transform: `translateY(${top}px)` }} role="treeitem" aria-level={node.depth + 1}
      aria-selected={selected} aria-expanded={node.children.length ? !collapsed : undefined}
      data-span-id={s.spanID} data-key={node.key} data-error-role={role} data-critical={critical ? "" : undefined}
      onClick={() => onSelect(node)}>
      <div class="wf-name-col" style={{ paddingLeft: 6 + indent }} title={`${node.service}: ${s.operationName}`}>
        {node.children.length ? (
          <button class="toggle" tabIndex={-1} aria-label={collapsed ? "Expand" : "Collapse"}
            onClick={(e) => { e.stopPropagation(); onToggle(node); }}>{collapsed ? "▸" : "▾"}</button>
        ) : <span class="toggle-space" />}
        <span class="svc-mark" style={{ background: color }} />
        {node.isError && <span class={`err-icon ${role ?? ""}`} title={iconTitle} aria-label={iconLabel}>{icon}</span>}
        {hiddenError && <span class="err-below" title="Collapsed spans below contain errors" aria-label="errors inside">●</span>}
        <span class="svc-name">{node.service}</span>
        <span class="op-name">{s.operationName}</span>
        {kind && <span class={`badge kind kind-${kind}`} title={`Span kind: ${kind}`}>{kind}</span>}
        {node.parentRefType === "FOLLOWS_FROM" && <span class="badge follows" title="Follows from its parent (not a child-of)">follows</span>}
        {node.links.length > 0 && <span class="badge link" title="Span links to other spans or traces">⇢ {node.links.length} link{node.links.length > 1 ? "s" : ""}</span>}
        {node.missingParentID && <span class="badge warn" title={`Parent ${node.missingParentID} is not in this trace`}>orphan</span>}
        {collapsed && <span class={`badge ${hiddenError ? "error" : ""}`} title={`${node.descendants} hidden spans`}>+{node.descendants}</span>}
        {node.depth > MAX_INDENT_LEVELS && <span class="badge">depth {node.depth}</span>}
      </div>
      <div class="wf-time-col">
        <div class={`bar ${node.parentRefType === "FOLLOWS_FROM" ? "follows" : ""} ${node.isError ? `error ${role ?? ""}` : ""}`}
          style={{ left: `${left}%`, width: `${w}%`, background: node.parentRefType === "FOLLOWS_FROM" ? `color-mix(in srgb, ${color} 30%, transparent)` : color, borderColor: color }}>
          {(s.logs ?? []).slice(0, 20).map((l, i) => (
            <span key={i} class="log-mark" style={{ left: `${((l.timestamp - s.startTime) / (s.duration || 1)) * 100}%` }} />
          ))}
        </div>
        {critical?.map(([a, b], i) => (
          <span key={i} class="cp-seg" title="On the critical path"
            style={{ left: `${((a - traceStart - from) / width) * 100}%`, width: `${Math.max(((b - a) / width) * 100, 0.05)}%` }} />
        ))}
        <span class={`bar-label ${labelAt}`} style={labelAt === "after" ? { left: `calc(${left + w}% + 4px)` }
          : labelAt === "before" ? { right: `calc(${100 - left}% + 4px)` } : { right: `calc(${Math.max(0, 100 - left - w)}% + 6px)` }}>
          {formatDuration(s.duration)}
        </span>
      </div>
    </div>
  );
});

/** Drag handle that sets the name column's width (a CSS variable on the waterfall). */
function ColumnResizer({ target }: { target: { current: HTMLDivElement | null } }) {
  const [active, setActive] = useState(false);
  const onDown = (e: MouseEvent) => {
    e.preventDefault();
    const el = target.current!;
    const left = el.getBoundingClientRect().left;
    setActive(true);
    const move = (ev: MouseEvent) => {
      const w = Math.min(Math.max(ev.clientX - left, 160), el.clientWidth - 160);
      el.style.setProperty("--name-col", `${w}px`);
    };
    const up = () => {
      setActive(false);
      window.removeEventListener("mousemove", move);
      window.removeEventListener("mouseup", up);
    };
    window.addEventListener("mousemove", move);
    window.addEventListener("mouseup", up);
  };
  return <span class={`col-resize ${active ? "active" : ""}`} onMouseDown={onDown} title="Drag to resize" />;
}
