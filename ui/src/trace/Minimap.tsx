import { useEffect, useRef, useState } from "preact/hooks";
import type { TraceTree } from "../model/tree";
import { serviceColor } from "../model/colors";
import { formatDuration } from "../model/format";
import type { ViewRange } from "./TraceView";

const HEIGHT = 56;

/** The whole trace in miniature; drag across it to zoom the waterfall to that time range. */
export function Minimap({ tree, range, onRange }: { tree: TraceTree; range: ViewRange; onRange: (r: ViewRange) => void }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [drag, setDrag] = useState<[number, number] | null>(null);

  useEffect(() => {
    const c = canvas.current!;
    const paint = () => {
      const w = c.clientWidth;
      const dpr = window.devicePixelRatio || 1;
      c.width = w * dpr;
      c.height = HEIGHT * dpr;
      const ctx = c.getContext("2d")!;
      ctx.scale(dpr, dpr);
      ctx.clearRect(0, 0, w, HEIGHT);
      const n = tree.nodes.length;
      const dur = tree.duration || 1;
      const rowH = Math.max(HEIGHT / n, 0.5);
      // Batch by colour: one fillStyle change per service, not per span.
      const byColor = new Map<string, number[]>();
      tree.nodes.forEach((node, i) => {
        const c = serviceColor(node.service);
        let list = byColor.get(c);
        if (!list) byColor.set(c, (list = []));
        list.push(i);
      });
      for (const [color, idx] of byColor) {
        ctx.fillStyle = color;
        for (const i of idx) {
          const node = tree.nodes[i];
          ctx.fillRect((node.offset / dur) * w, (i / n) * HEIGHT, Math.max(1, (node.span.duration / dur) * w), Math.max(rowH, 1));
        }
      }
    };
    paint();
    const ro = new ResizeObserver(paint);
    ro.observe(c);
    return () => ro.disconnect();
  }, [tree]);

  const frac = (e: MouseEvent) => {
    const r = canvas.current!.getBoundingClientRect();
    return Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
  };
  const onDown = (e: MouseEvent) => {
    const start = frac(e);
    setDrag([start, start]);
    const move = (ev: MouseEvent) => setDrag([start, frac(ev)]);
    const up = (ev: MouseEvent) => {
      window.removeEventListener("mousemove", move);
      window.removeEventListener("mouseup", up);
      setDrag(null);
      const end = frac(ev);
      const [a, b] = start < end ? [start, end] : [end, start];
      if (b - a > 0.002) onRange([a, b]);
    };
    window.addEventListener("mousemove", move);
    window.addEventListener("mouseup", up);
  };

  const [a, b] = drag ? [Math.min(...drag), Math.max(...drag)] : range;
  return (
    <div class="minimap" title="Drag to zoom into a time range; double-click to reset" data-testid="minimap">
      <div class="minimap-scale">
        {[0, 0.25, 0.5, 0.75, 1].map((f) => <span key={f} style={{ left: `${f * 100}%` }}>{formatDuration(f * tree.duration)}</span>)}
      </div>
      <div class="minimap-body" onMouseDown={onDown} onDblClick={() => onRange([0, 1])}>
        <canvas ref={canvas} style={{ height: HEIGHT }} />
        <div class="mm-shade" style={{ left: 0, width: `${a * 100}%` }} />
        <div class="mm-window" style={{ left: `${a * 100}%`, width: `${(b - a) * 100}%` }} />
        <div class="mm-shade" style={{ left: `${b * 100}%`, right: 0 }} />
      </div>
    </div>
  );
}
