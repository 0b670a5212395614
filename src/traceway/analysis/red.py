"""RED metrics (rate, errors, duration) from per-minute rollups. Pure.

A rollup row counts the spans of one (minute, service, operation, kind, status)
and keeps their durations as a **latency sketch**: counts per logarithmic bucket,
DDSketch-style. Bucket ``i`` holds durations in ``(GAMMA**(i-1), GAMMA**i]``
nanoseconds and reports ``2 * GAMMA**i / (GAMMA + 1)``, which is within
``RELATIVE_ACCURACY`` (1 %) of every duration in the bucket. Sketches merge by
adding counts, so any set of minutes, operations or backends combines exactly, and a
quantile of the merged sketch is within 1 % of a true quantile (the value ranked
``ceil(q * n)``) of all the durations. Durations of 0 (or less) go to bucket 0.

Spans are counted in the minute their **start** falls in (UTC, whole minutes since
the epoch), however long they last and however late they arrive: a span that
starts at 12:00:59 and ends at 12:01:02 is a 12:00 call, and a span that arrives an
hour late lands in its own minute, not the current one.

Series follow Prometheus' ``rate(x[window])`` evaluated on a grid, as Jaeger's
monitor API does: the value at time ``t`` covers the minutes in ``[t - window, t)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from traceway.model import StatusCode

MINUTE_NS = 60 * 10**9
RELATIVE_ACCURACY = 0.01
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
LOG_GAMMA = math.log(GAMMA)

Sketch = dict[int, int]  # bucket index -> span count


def sketch_buckets(duration_ns: Sequence[int] | np.ndarray) -> np.ndarray:
    """The sketch bucket of each duration (vectorised); the SQL backends use the
    same formula: ``ceil(ln(greatest(duration_ns, 1)) / LOG_GAMMA)``."""
    durations = np.maximum(np.asarray(duration_ns, dtype=np.float64), 1.0)
    return np.ceil(np.log(durations) / LOG_GAMMA).astype(np.int64)


def sketch_of(duration_ns: Sequence[int] | np.ndarray) -> Sketch:
    buckets, counts = np.unique(sketch_buckets(duration_ns), return_counts=True)
    return dict(zip(buckets.tolist(), counts.tolist()))


def merge_sketches(sketches: Iterable[Sketch]) -> Sketch:
    merged: Sketch = {}
    for sketch in sketches:
        for bucket, count in sketch.items():
            merged[bucket] = merged.get(bucket, 0) + count
    return merged


def bucket_value_ns(bucket: int) -> float:
    return 2 * GAMMA**bucket / (GAMMA + 1)


def quantile_ns(sketch: Sketch, q: float) -> float:
    """The ``q`` quantile (0..1) of the sketched durations in ns; NaN when empty."""
    total = sum(sketch.values())
    if total <= 0:
        return math.nan
    rank = max(1, math.ceil(q * total))
    seen = 0
    for bucket in sorted(sketch):
        seen += sketch[bucket]
        if seen >= rank:
            return bucket_value_ns(bucket)
    return bucket_value_ns(max(sketch))


@dataclass(frozen=True, slots=True)
class RedRow:
    """The spans of one (minute, service, operation, kind, status), as a backend stores them."""

    minute_ns: int  # start of the UTC minute, a multiple of MINUTE_NS
    service: str
    operation: str
    span_kind: int  # OTLP SpanKind number
    status_code: int  # OTLP StatusCode number
    calls: int
    duration_sum_ns: int
    sketch: Sketch = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EdgeRow:
    """Calls from ``parent`` service to ``child`` service in one minute; the sketch
    holds the durations of the callee spans, errors count callee spans with status ERROR."""

    minute_ns: int
    parent: str
    child: str
    calls: int
    errors: int
    sketch: Sketch = field(default_factory=dict)


def red_rows_of(minute_ns: Sequence[int], service: Sequence[str], operation: Sequence[str],
                span_kind: Sequence[int], status_code: Sequence[int],
                duration_ns: Sequence[int]) -> list[RedRow]:
    """Rollup rows of a set of spans given as columns (for backends without SQL)."""
    groups: dict[tuple[int, str, str, int, int], list[int]] = {}
    for key, duration in zip(zip(minute_ns, service, operation, span_kind, status_code),
                             duration_ns):
        groups.setdefault(key, []).append(duration)
    return [RedRow(minute, svc, op, kind, status, len(durations), sum(durations),
                   sketch_of(durations))
            for (minute, svc, op, kind, status), durations in sorted(groups.items())]


def minute_of(start_ns: int) -> int:
    return start_ns // MINUTE_NS * MINUTE_NS


# -- series ------------------------------------------------------------------

@dataclass(slots=True)
class Window:
    """What one point of a series covers: calls, errors and durations."""

    calls: int = 0
    errors: int = 0
    sketch: Sketch = field(default_factory=dict)

    def add(self, calls: int, errors: int, sketch: Sketch) -> None:
        self.calls += calls
        self.errors += errors
        for bucket, count in sketch.items():
            self.sketch[bucket] = self.sketch.get(bucket, 0) + count


@dataclass(frozen=True, slots=True)
class Grid:
    """Points at ``end_ns``, ``end_ns - step_ns``, ... after ``end_ns - lookback_ns``;
    each covers the minutes starting in ``[t - window_ns, t)``. ``step_ns`` and
    ``window_ns`` are rounded up to whole minutes (the rollup's resolution)."""

    end_ns: int
    lookback_ns: int
    step_ns: int
    window_ns: int

    @classmethod
    def of(cls, end_ns: int, lookback_ns: int, step_ns: int, window_ns: int) -> Grid:
        def whole_minutes(ns: int) -> int:
            return max(1, -(-ns // MINUTE_NS)) * MINUTE_NS
        return cls(end_ns, lookback_ns, whole_minutes(step_ns), whole_minutes(window_ns))

    def points_ns(self) -> list[int]:
        """Point times, oldest first. The newest point is at the end of the minute
        that holds ``end_ns``, so the current minute counts; see ``elapsed_s``."""
        last = -(-self.end_ns // MINUTE_NS) * MINUTE_NS
        first = self.end_ns - self.lookback_ns
        count = max(1, (last - first) // self.step_ns)
        return [last - k * self.step_ns for k in range(count - 1, -1, -1)]

    def elapsed_s(self, point_ns: int) -> float:
        """Seconds of the window before ``point_ns`` that have happened by ``end_ns``."""
        return (self.window_ns - max(0, point_ns - self.end_ns)) / 1e9

    def earliest_minute_ns(self) -> int:
        return self.points_ns()[0] - self.window_ns


SeriesKey = tuple[str, str | None]  # (service, operation or None when not grouped)


def windows(rows: Iterable[RedRow], grid: Grid,
            group_by_operation: bool) -> dict[SeriesKey, list[Window]]:
    """One window per grid point for each series key, from rollup rows."""
    points = grid.points_ns()
    by_minute: dict[SeriesKey, dict[int, Window]] = {}
    for row in rows:
        key = (row.service, row.operation if group_by_operation else None)
        minute = by_minute.setdefault(key, {}).setdefault(row.minute_ns, Window())
        minute.add(row.calls, row.calls if row.status_code == StatusCode.ERROR else 0,
                   row.sketch)
    series: dict[SeriesKey, list[Window]] = {}
    for key in sorted(by_minute, key=lambda k: (k[0], k[1] or "")):
        minutes = by_minute[key]
        out = []
        for point in points:
            window = Window()
            for minute_ns in range(point - grid.window_ns, point, MINUTE_NS):
                found = minutes.get(minute_ns)
                if found is not None:
                    window.add(found.calls, found.errors, found.sketch)
            out.append(window)
        series[key] = out
    return series


def call_rate(window: Window, elapsed_s: float) -> float:
    """Calls per second over the window."""
    return window.calls / elapsed_s if elapsed_s > 0 else math.nan


def error_ratio(window: Window, elapsed_s: float) -> float:
    """Errors / calls (0..1); NaN when there were no calls."""
    return window.errors / window.calls if window.calls else math.nan


def latency_ms(q: float) -> Callable[[Window, float], float]:
    def quantile_of(window: Window, elapsed_s: float) -> float:
        return quantile_ns(window.sketch, q) / 1e6
    return quantile_of


@dataclass(frozen=True, slots=True)
class Series:
    service: str
    operation: str | None
    points: list[tuple[int, float]]  # (time in ns, value)


def series_of(rows: Iterable[RedRow], grid: Grid, group_by_operation: bool,
              value: Callable[[Window, float], float]) -> list[Series]:
    """One series per service (or service and operation), sorted by name."""
    points = grid.points_ns()
    return [Series(service, operation,
                   [(min(t, grid.end_ns), value(w, grid.elapsed_s(t)))
                    for t, w in zip(points, per_point)])
            for (service, operation), per_point in
            windows(rows, grid, group_by_operation).items()]


@dataclass(frozen=True, slots=True)
class Summary:
    """RED figures of one service (or operation) over a whole time range."""

    service: str
    operation: str | None
    calls: int
    errors: int
    rate_per_s: float
    error_ratio: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


def summaries(rows: Iterable[RedRow], start_ns: int, end_ns: int,
              group_by_operation: bool) -> list[Summary]:
    """Totals per series key over ``[start_ns, end_ns]`` (whole minutes)."""
    grid = Grid.of(end_ns, end_ns - start_ns, end_ns - start_ns, end_ns - start_ns)
    out = []
    for (service, operation), (window,) in windows(rows, grid, group_by_operation).items():
        elapsed = grid.elapsed_s(grid.points_ns()[0])
        out.append(Summary(service, operation, window.calls, window.errors,
                           call_rate(window, elapsed), error_ratio(window, elapsed),
                           *(quantile_ns(window.sketch, q) / 1e6 for q in (0.5, 0.95, 0.99))))
    return out


@dataclass(frozen=True, slots=True)
class EdgeSummary:
    """Calls along one service-map edge over a time range; latency of the callee spans."""

    parent: str
    child: str
    calls: int
    errors: int
    error_ratio: float
    p95_ms: float


def edge_summaries(rows: Iterable[EdgeRow]) -> list[EdgeSummary]:
    merged: dict[tuple[str, str], Window] = {}
    for row in rows:
        merged.setdefault((row.parent, row.child), Window()).add(row.calls, row.errors, row.sketch)
    return [EdgeSummary(parent, child, w.calls, w.errors, error_ratio(w, 0.0),
                        quantile_ns(w.sketch, 0.95) / 1e6)
            for (parent, child), w in sorted(merged.items())]
