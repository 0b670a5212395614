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
    """The spans of one service (or one operation of it) in one time bucket."""

    time_ns: int  # start of the bucket (a whole minute)
    service: str
    operation: str | None  # None when the rows are not grouped by operation
    calls: int
    errors: int  # spans with status ERROR
    duration_sum_ns: int
    sketch: Sketch = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EdgeRow:
    """Calls from ``parent`` service to ``child`` service over a time range; the sketch
    holds the durations of the callee spans, errors count callee spans with status ERROR."""

    parent: str
    child: str
    calls: int
    errors: int
    sketch: Sketch = field(default_factory=dict)


def bucket_of(start_ns: int, first_ns: int, step_ns: int) -> int:
    """Start of the ``step_ns`` bucket, counted from ``first_ns``, that holds the
    minute ``start_ns`` falls in."""
    return first_ns + (minute_of(start_ns) - first_ns) // step_ns * step_ns


def red_rows_of(time_ns: Sequence[int], service: Sequence[str], operation: Sequence[str | None],
                is_error: Sequence[bool], duration_ns: Sequence[int]) -> list[RedRow]:
    """RED rows of a set of spans given as columns, one per (time, service, operation)."""
    groups: dict[tuple[int, str, str | None], list[tuple[bool, int]]] = {}
    for key, error, duration in zip(zip(time_ns, service, operation), is_error, duration_ns):
        groups.setdefault(key, []).append((error, duration))
    return [RedRow(t, svc, op, len(spans), sum(e for e, _ in spans), sum(d for _, d in spans),
                   sketch_of([d for _, d in spans]))
            for (t, svc, op), spans in sorted(groups.items(), key=lambda kv: (
                kv[0][0], kv[0][1], kv[0][2] or ""))]


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

    @property
    def bucket_ns(self) -> int:
        """The coarsest rollup bucket every window is made of."""
        return math.gcd(self.step_ns, self.window_ns)

    def rows_range_ns(self) -> tuple[int, int]:
        """``[start, end)`` of the minutes the points cover."""
        return self.earliest_minute_ns(), self.points_ns()[-1]


SeriesKey = tuple[str, str | None]  # (service, operation or None when not grouped)


def windows(rows: Iterable[RedRow], grid: Grid) -> dict[SeriesKey, list[Window]]:
    """One window per grid point for each (service, operation), from rows whose
    buckets are ``grid.bucket_ns`` long and start at ``grid.earliest_minute_ns()``."""
    points = grid.points_ns()
    by_bucket: dict[SeriesKey, dict[int, Window]] = {}
    for row in rows:
        bucket = by_bucket.setdefault((row.service, row.operation), {}).setdefault(
            row.time_ns, Window())
        bucket.add(row.calls, row.errors, row.sketch)
    series: dict[SeriesKey, list[Window]] = {}
    for key in sorted(by_bucket, key=lambda k: (k[0], k[1] or "")):
        buckets = by_bucket[key]
        out = []
        for point in points:
            window = Window()
            for bucket_ns in range(point - grid.window_ns, point, grid.bucket_ns):
                found = buckets.get(bucket_ns)
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


def series_of(rows: Iterable[RedRow], grid: Grid,
              value: Callable[[Window, float], float]) -> list[Series]:
    """One series per service (or service and operation), sorted by name."""
    points = grid.points_ns()
    return [Series(service, operation,
                   [(min(t, grid.end_ns), value(w, grid.elapsed_s(t)))
                    for t, w in zip(points, per_point)])
            for (service, operation), per_point in windows(rows, grid).items()]


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


def summaries(rows: Iterable[RedRow], grid: Grid) -> list[Summary]:
    """Totals per (service, operation) over every point's window of ``grid``, whose
    windows tile the range (``window_ns == step_ns``)."""
    out = []
    for (service, operation), per_point in windows(rows, grid).items():
        total = Window()
        for window in per_point:
            total.add(window.calls, window.errors, window.sketch)
        elapsed = sum(grid.elapsed_s(t) for t in grid.points_ns())
        out.append(Summary(service, operation, total.calls, total.errors,
                           call_rate(total, elapsed), error_ratio(total, elapsed),
                           *(quantile_ns(total.sketch, q) / 1e6 for q in (0.5, 0.95, 0.99))))
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
    summaries = []
    for row in rows:
        window = Window(row.calls, row.errors, row.sketch)
        summaries.append(EdgeSummary(row.parent, row.child, row.calls, row.errors,
                                     error_ratio(window, 0.0), quantile_ns(row.sketch, 0.95) / 1e6))
    return summaries
