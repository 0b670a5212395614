import { sparklinePath } from "../model/red";

/** A tiny line chart of a metric over the window; gaps where nothing was measured. */
export function Sparkline({ values, label, tone }: { values: (number | null)[]; label: string; tone?: "error" }) {
  const width = 96;
  const height = 22;
  const path = sparklinePath(values, width, height);
  return (
    <svg class={`sparkline ${tone ?? ""}`} width={width} height={height + 2} viewBox={`0 -1 ${width} ${height + 2}`}
      role="img" aria-label={label} data-points={values.map((v) => (v === null ? "" : String(v))).join(",")}>
      {path && <path d={path} fill="none" stroke-width="1.5" />}
    </svg>
  );
}
