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
They are computed for every series at once with numpy (``windows``: sliding sums
by cumulative sums over time, quantiles by cumulative sums over sketch buckets),
because an hour of a large system is a few hundred thousand sketch entries.
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

@dataclass(frozen=True)
class RedColumns:
    """RED rows as columns, as ``Rollups.red`` answers them.

    Row ``i`` counts the spans of ``keys[key[i]]`` (service, operation or None) in the
    bucket starting at ``time_ns[i]``; sketch entry ``j`` says that ``entry_count[j]``
    of the spans of ``keys[entry_key[j]]`` in the bucket starting at
    ``entry_time_ns[j]`` fell in sketch bucket ``entry_bucket[j]``. Columns, because
    an hour of a large system is a few hundred thousand sketch entries.
    """

    keys: list[tuple[str, str | None]]
    key: np.ndarray
    time_ns: np.ndarray
    calls: np.ndarray
    errors: np.ndarray
    duration_sum_ns: np.ndarray
    entry_key: np.ndarray
    entry_time_ns: np.ndarray
    entry_bucket: np.ndarray
    entry_count: np.ndarray

    @classmethod
    def of_rows(cls, rows: Sequence[RedRow]) -> RedColumns:
        keys = sorted({(r.service, r.operation) for r in rows}, key=lambda k: (k[0], k[1] or ""))
        index = {k: i for i, k in enumerate(keys)}
        entries = [(index[(r.service, r.operation)], r.time_ns, b, n)
                   for r in rows for b, n in sorted(r.sketch.items())]

        def column(values: Iterable[int]) -> np.ndarray:
            return np.fromiter(values, dtype=np.int64)

        return cls(keys, column(index[(r.service, r.operation)] for r in rows),
                   column(r.time_ns for r in rows), column(r.calls for r in rows),
                   column(r.errors for r in rows), column(r.duration_sum_ns for r in rows),
                   *(column(e[i] for e in entries) for i in range(4)))

    def rows(self) -> list[RedRow]:
        """As RedRow objects sorted by time, service, operation (for tests and small answers)."""
        sketches: dict[tuple[int, int], Sketch] = {}
        for k, t, b, n in zip(self.entry_key.tolist(), self.entry_time_ns.tolist(),
                              self.entry_bucket.tolist(), self.entry_count.tolist()):
            sketch = sketches.setdefault((k, t), {})
            sketch[b] = sketch.get(b, 0) + n
        rows = [RedRow(t, self.keys[k][0], self.keys[k][1], calls, errors, d,
                       sketches.get((k, t), {}))
                for k, t, calls, errors, d in zip(
                    self.key.tolist(), self.time_ns.tolist(), self.calls.tolist(),
                    self.errors.tolist(), self.duration_sum_ns.tolist())]
        return sorted(rows, key=lambda r: (r.time_ns, r.service, r.operation or ""))


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


@dataclass(frozen=True)
class Windows:
    """Every point's window of every key, as arrays: ``calls[k, p]``, ``errors[k, p]``
    and ``sketch[k, p, i]``, the count in sketch bucket ``first_bucket + i``."""

    keys: list[tuple[str, str | None]]
    points_ns: list[int]
    end_ns: int
    elapsed_s: np.ndarray
    calls: np.ndarray
    errors: np.ndarray
    sketch: np.ndarray
    first_bucket: int

    def quantile_ms(self, q: float) -> np.ndarray:
        return quantiles_ms(self.sketch, self.first_bucket, q)


def quantiles_ms(sketch: np.ndarray, first_bucket: int, q: float) -> np.ndarray:
    """The ``q`` quantile of each sketch along the last axis, in ms; NaN when empty.
    Ranks as ``quantile_ns`` does."""
    total = sketch.sum(axis=-1)
    if sketch.shape[-1] == 0:
        return np.full(total.shape, math.nan)
    rank = np.maximum(np.ceil(q * total), 1)
    index = np.argmax(np.cumsum(sketch, axis=-1) >= rank[..., None], axis=-1)
    values = 2 * GAMMA ** (first_bucket + index) / (GAMMA + 1) / 1e6
    return np.where(total > 0, values, math.nan)


def windows(columns: RedColumns, grid: Grid) -> Windows:
    """Sum the buckets of each point's window, for every key at once. The columns'
    buckets are ``grid.bucket_ns`` long from ``grid.earliest_minute_ns()``."""
    points = grid.points_ns()
    earliest, size = grid.earliest_minute_ns(), grid.bucket_ns
    slots = (points[-1] - earliest) // size
    ends = np.array([(p - earliest) // size for p in points])
    starts = ends - grid.window_ns // size
    keys = len(columns.keys)

    def cumulative(key: np.ndarray, time_ns: np.ndarray, values: np.ndarray,
                   width: int = 0, offset: np.ndarray | None = None) -> np.ndarray:
        slot = (time_ns - earliest) // size
        inside = (slot >= 0) & (slot < slots)
        shape = (keys, slots + 1, width) if width else (keys, slots + 1)
        where: tuple[np.ndarray, ...] = (key[inside], slot[inside] + 1)
        if offset is not None:
            where += (offset[inside],)
        # bincount adds in float64: exact for counts below 2**53, and far quicker
        # than np.add.at over a million sketch entries.
        flat = np.ravel_multi_index(where, shape)
        dense = np.rint(np.bincount(flat, weights=values[inside], minlength=math.prod(shape))
                        ).astype(np.int64).reshape(shape)
        summed = np.cumsum(dense, axis=1)
        return summed[:, ends] - summed[:, starts]

    first = int(columns.entry_bucket.min()) if len(columns.entry_bucket) else 0
    width = int(columns.entry_bucket.max()) - first + 1 if len(columns.entry_bucket) else 1
    return Windows(
        columns.keys, points, grid.end_ns, np.array([grid.elapsed_s(p) for p in points]),
        cumulative(columns.key, columns.time_ns, columns.calls),
        cumulative(columns.key, columns.time_ns, columns.errors),
        cumulative(columns.entry_key, columns.entry_time_ns, columns.entry_count, width,
                   columns.entry_bucket - first), first)


def call_rate(w: Windows) -> np.ndarray:
    """Calls per second over each window."""
    rates: np.ndarray = w.calls / w.elapsed_s
    return rates


def error_ratio(w: Windows) -> np.ndarray:
    """Errors / calls (0..1); NaN when there were no calls."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(w.calls > 0, w.errors / np.maximum(w.calls, 1), math.nan)


def latency_ms(q: float) -> Callable[[Windows], np.ndarray]:
    def quantile_of(w: Windows) -> np.ndarray:
        return w.quantile_ms(q)
    return quantile_of


@dataclass(frozen=True, slots=True)
class Series:
    service: str
    operation: str | None
    points: list[tuple[int, float]]  # (time in ns, value)


def series_of(w: Windows, value: Callable[[Windows], np.ndarray]) -> list[Series]:
    """One series per service (or service and operation), sorted by name; the
    newest point is stamped ``end_ns`` when the window ends after it."""
    values = value(w).tolist()
    times = [min(t, w.end_ns) for t in w.points_ns]
    return [Series(service, operation, list(zip(times, values[k])))
            for k, (service, operation) in enumerate(w.keys)]


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


def summaries(w: Windows) -> list[Summary]:
    """Totals per (service, operation) over all the windows, which must tile the
    range (a grid with ``window_ns == step_ns``)."""
    calls, errors = w.calls.sum(axis=1), w.errors.sum(axis=1)
    sketch = w.sketch.sum(axis=1)
    elapsed = float(w.elapsed_s.sum())
    quantiles = [quantiles_ms(sketch, w.first_bucket, q).tolist() for q in (0.5, 0.95, 0.99)]
    return [Summary(service, operation, int(calls[k]), int(errors[k]), float(calls[k] / elapsed),
                    float(errors[k] / calls[k]) if calls[k] else math.nan,
                    quantiles[0][k], quantiles[1][k], quantiles[2][k])
            for k, (service, operation) in enumerate(w.keys)]


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
    return [EdgeSummary(row.parent, row.child, row.calls, row.errors,
                        row.errors / row.calls if row.calls else math.nan,
                        quantile_ns(row.sketch, 0.95) / 1e6) for row in rows]
