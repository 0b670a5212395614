"""RED rollups -> the JSON of Traceway's own views (services overview, service
page, service-map edges). Pure. Missing values (no calls) are ``null``; rates are
per second, latencies in milliseconds, error ratios a fraction of calls (0..1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from traceway.analysis.red import (
    EdgeRow,
    Grid,
    RedColumns,
    call_rate,
    edge_summaries,
    error_ratio,
    latency_ms,
    series_of,
    summaries,
    windows,
)

SPARKLINE_POINTS = 30


def _number(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


def sparkline_grid(window: Grid) -> Grid:
    """``SPARKLINE_POINTS`` back-to-back steps over ``window``'s lookback."""
    step = max(window.lookback_ns // SPARKLINE_POINTS, 1)
    return Grid.of(window.end_ns, window.lookback_ns, step, step)


def red_table_json(rows: RedColumns, grid: Grid) -> list[dict[str, Any]]:
    """One entry per service (or operation) with totals over ``grid`` (from
    ``sparkline_grid``) and sparklines of rate, error ratio and p95, a point a step."""
    w = windows(rows, grid)
    sparklines = {name: {(s.service, s.operation): [_number(v) for _, v in s.points]
                         for s in series_of(w, value)}
                  for name, value in (("rate", call_rate), ("errorRatio", error_ratio),
                                      ("p95Ms", latency_ms(0.95)))}
    out = []
    for total in summaries(w):
        key = (total.service, total.operation)
        entry: dict[str, Any] = {"service": total.service}
        if total.operation is not None:
            entry["operation"] = total.operation
        entry.update({
            "calls": total.calls, "errors": total.errors,
            "ratePerSecond": _number(total.rate_per_s), "errorRatio": _number(total.error_ratio),
            "p50Ms": _number(total.p50_ms), "p95Ms": _number(total.p95_ms),
            "p99Ms": _number(total.p99_ms),
            "sparklines": {name: values[key] for name, values in sparklines.items()}})
        out.append(entry)
    return out


def edges_json(rows: Sequence[EdgeRow]) -> list[dict[str, Any]]:
    return [{"parent": e.parent, "child": e.child, "callCount": e.calls, "errorCount": e.errors,
             "errorRatio": _number(e.error_ratio), "p95Ms": _number(e.p95_ms)}
            for e in edge_summaries(rows)]
