import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatDuration, formatTime } from "../model/format";

export interface ScatterPoint { traceID: string; start: number; duration: number; errors: number; label: string }

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** Trace duration against start time; a click on a dot opens that trace. */
export function ScatterPlot({ points, onOpen }: { points: ScatterPoint[]; onOpen: (traceID: string) => void }) {
  const el = useRef<HTMLDivElement>(null);
  const tip = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const host = el.current!;
    const sorted = [...points].sort((a, b) => a.start - b.start);
    const xs = sorted.map((p) => p.start / 1e6);
    const ok = sorted.map((p) => (p.errors ? null : p.duration / 1000));
    const bad = sorted.map((p) => (p.errors ? p.duration / 1000 : null));
    let plot: uPlot | undefined;

    const nearest = (u: uPlot): ScatterPoint | undefined => {
      const { left, top } = u.cursor;
      if (left === undefined || top === undefined || left < 0) return undefined;
      let best: ScatterPoint | undefined;
      let bestD = 12 * 12;
      sorted.forEach((p, i) => {
        const dx = u.valToPos(xs[i], "x") - left;
        const dy = u.valToPos(p.duration / 1000, "y") - top;
        if (dx * dx + dy * dy < bestD) { bestD = dx * dx + dy * dy; best = p; }
      });
      return best;
    };

    const draw = () => {
      plot?.destroy();
      const axis = { stroke: cssVar("--muted"), grid: { stroke: cssVar("--grid"), width: 1 }, ticks: { stroke: cssVar("--grid") } };
      // A lone dot (or dots at one instant) gets a minute of room, others 3% each side.
      const spread = xs[xs.length - 1] - xs[0];
      const pad = spread > 0 ? spread * 0.03 : 30;
      const xRange: uPlot.Range.MinMax = [xs[0] - pad, xs[xs.length - 1] + pad];
      const yMax = Math.max(...sorted.map((p) => p.duration / 1000)) * 1.1 || 1;
      plot = new uPlot({
        width: host.clientWidth || 600, height: 180,
        legend: { show: false }, cursor: { drag: { x: false, y: false }, points: { show: false } },
        scales: { x: { time: true, range: () => xRange }, y: { range: () => [0, yMax] } },
        axes: [{ ...axis }, { ...axis, values: (_u, vals) => vals.map((v) => (v === 0 ? "0" : formatDuration(v * 1000))), size: 60 }],
        series: [
          {},
          { label: "trace", stroke: cssVar("--accent"), fill: cssVar("--accent"), paths: () => null, points: { show: true, size: 8, width: 1, fill: cssVar("--accent") } },
          { label: "with errors", stroke: cssVar("--error"), paths: () => null, points: { show: true, size: 8, width: 1, fill: cssVar("--error") } },
        ],
        hooks: {
          setCursor: [(u) => {
            const p = nearest(u);
            const t = tip.current!;
            u.over.style.cursor = p ? "pointer" : "default";
            if (!p) { t.hidden = true; return; }
            t.hidden = false;
            t.textContent = `${p.label} · ${formatDuration(p.duration)} · ${formatTime(p.start)}`;
            const over = u.over.getBoundingClientRect();
            const box = t.parentElement!.getBoundingClientRect();
            t.style.left = `${Math.min(over.left - box.left + u.cursor.left! + 12, box.width - 320)}px`;
            t.style.top = `${over.top - box.top + u.cursor.top! - 28}px`;
          }],
        },
      }, [xs, ok, bad], host);
      plot.over.addEventListener("click", () => { const p = plot && nearest(plot); if (p) onOpen(p.traceID); });
    };
    draw();
    const ro = new ResizeObserver(() => plot && host.clientWidth && plot.setSize({ width: host.clientWidth, height: 180 }));
    ro.observe(host);
    window.addEventListener("traceway-theme", draw);
    const mq = matchMedia("(prefers-color-scheme: dark)");
    mq.addEventListener("change", draw);
    return () => {
      ro.disconnect();
      window.removeEventListener("traceway-theme", draw);
      mq.removeEventListener("change", draw);
      plot?.destroy();
    };
  }, [points]);

  return (
    <div class="scatter" aria-label="Trace durations over time" data-testid="scatter">
      <div class="plot-head">
        <span>Duration by start time <span class="muted">· click a dot to open its trace</span></span>
        <span class="legend"><i class="dot" style={{ background: "var(--accent)" }} />ok <i class="dot" style={{ background: "var(--error)" }} />with errors</span>
      </div>
      <div ref={el} />
      <div ref={tip} class="plot-tip" hidden />
    </div>
  );
}
