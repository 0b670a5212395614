import { useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import type { SpanNode, TraceTree } from "../model/tree";
import { flameLayout, type ErrorRole } from "../model/analysis";
import { serviceColor } from "../model/colors";
import { formatDuration } from "../model/format";
import type { ViewRange } from "./TraceView";

const ROW = 20;

/**
 * The trace as a flame graph (an icicle, root on top): x is time, width is duration, colour is the
 * service; concurrent siblings stack below each other. Errors are outlined in red, their origins marked with ⚡; the critical path, when shown,
 * is a dark strip along the bottom of each box it runs through.
 */
export function FlameGraph({ tree, range, selected, onSelect, critical, roles }: {
  tree: TraceTree; range: ViewRange; selected: SpanNode | null; onSelect: (n: SpanNode) => void;
  critical: Map<string, [number, number][]> | null; roles: Map<string, ErrorRole> | null;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(1000);
  useLayoutEffect(() => {
    const el = box.current!;
    const update = () => setWidth(el.clientWidth || 1000);
    update();
    const ro = new ResizeObserver(update);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const from = range[0] * tree.duration, to = range[1] * tree.duration;
  const rects = useMemo(() => flameLayout(tree, width, from, to), [tree, width, from, to]);
  const scale = width / (to - from || 1);
  const rows = rects.reduce((m, r) => Math.max(m, r.row + 1), 1);
  return (
    <div class={`flame ${critical ? "showing-critical" : ""}`} ref={box} data-testid="flame-graph"
      style={{ height: rows * ROW + 2 }} role="group" aria-label="Flame graph">
      {rects.map(({ node, x, w, row }) => {
        const s = node.span;
        const role = node.isError ? roles?.get(s.spanID) : undefined;
        const cls = ["flame-box", node.isError && "error", role, node === selected && "selected"].filter(Boolean).join(" ");
        return (
          <div key={node.key} class={cls} data-span-id={s.spanID} data-error-role={role}
            style={{ left: x, width: w, top: row * ROW, background: serviceColor(node.service) }}
            title={`${node.service}: ${s.operationName} · ${formatDuration(s.duration)}${node.isError ? " · error" : ""}`}
            onClick={() => onSelect(node)}>
            {w > 36 && <span class="flame-label">{role === "origin" ? "⚡ " : ""}{s.operationName}</span>}
            {critical?.get(s.spanID)?.map(([a, b], i) => (
              <span key={i} class="cp-seg" style={{ left: (a - tree.start - from) * scale - x, width: Math.max((b - a) * scale, 1) }} />
            ))}
          </div>
        );
      })}
    </div>
  );
}
