"""RED figures on synthetic traffic whose answers are known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from traceway.analysis.red import (
    MINUTE_NS,
    RELATIVE_ACCURACY,
    EdgeRow,
    Grid,
    RedColumns,
    bucket_of,
    call_rate,
    edge_summaries,
    error_ratio,
    latency_ms,
    merge_sketches,
    quantile_ns,
    red_rows_of,
    series_of,
    sketch_of,
    summaries,
    windows,
)
from traceway.model import SpanKind, StatusCode

T0 = 1_800_000_000 * 10**9 // MINUTE_NS * MINUTE_NS  # a whole minute
MS = 10**6


def traffic(minutes: int = 10, per_minute: int = 120) -> dict[str, list]:
    """checkout/pay: ``per_minute`` calls each minute, spread evenly; every 10th an
    error; the n-th call of a minute lasts n ms (so over whole minutes of 120 calls,
    p50 = 60 ms, p95 = 114 ms, p99 = 119 ms)."""
    cols: dict[str, list] = {k: [] for k in ("start", "service", "op", "kind", "status", "dur")}
    for minute in range(minutes):
        for n in range(per_minute):
            cols["start"].append(T0 + minute * MINUTE_NS + n * (MINUTE_NS // per_minute))
            cols["service"].append("checkout")
            cols["op"].append("pay")
            cols["kind"].append(SpanKind.SERVER)
            cols["status"].append(StatusCode.ERROR if n % 10 == 0 else StatusCode.OK)
            cols["dur"].append((n + 1) * MS)
    return cols


def rows_of(cols: dict[str, list], by_operation: bool = False, step_ns: int = MINUTE_NS,
            first_ns: int = T0):
    """What a store's ``red`` answers for these spans."""
    return RedColumns.of_rows(red_rows_of(
        [bucket_of(s, first_ns, step_ns) for s in cols["start"]], cols["service"],
        cols["op"] if by_operation else [None] * len(cols["op"]),
        [s == StatusCode.ERROR for s in cols["status"]], cols["dur"]))


def test_sketch_quantiles_are_within_the_documented_relative_error():
    rng = np.random.default_rng(7)
    durations = rng.lognormal(mean=16, sigma=1.5, size=20_000).astype(np.int64)
    halves = [sketch_of(durations[:7_000]), sketch_of(durations[7_000:])]
    merged = merge_sketches(halves)
    assert merged == sketch_of(durations)
    ordered = np.sort(durations)
    for q in (0.5, 0.9, 0.95, 0.99, 0.999):
        true = ordered[math.ceil(q * len(ordered)) - 1]
        assert abs(quantile_ns(merged, q) - true) <= RELATIVE_ACCURACY * true


def test_empty_sketch_has_no_quantile_and_zero_durations_are_kept():
    assert math.isnan(quantile_ns({}, 0.5))
    assert quantile_ns(sketch_of([0, 0, 0]), 0.99) == pytest.approx(1, rel=0.02)


def test_rate_error_ratio_and_latency_series_of_steady_traffic():
    rows = rows_of(traffic())
    grid = Grid.of(end_ns=T0 + 10 * MINUTE_NS, lookback_ns=5 * MINUTE_NS, step_ns=MINUTE_NS,
                   window_ns=2 * MINUTE_NS)
    (rate,) = series_of(windows(rows, grid), call_rate)
    assert [t for t, _ in rate.points] == [T0 + m * MINUTE_NS for m in range(6, 11)]
    assert [v for _, v in rate.points] == [2.0] * 5  # 240 calls / 120 s
    (errors,) = series_of(windows(rows, grid), error_ratio)
    assert [v for _, v in errors.points] == [0.1] * 5
    (p95,) = series_of(windows(rows_of(traffic(), by_operation=True), grid), latency_ms(0.95))
    assert p95.operation == "pay"
    for _, value in p95.points:
        assert value == pytest.approx(114, rel=RELATIVE_ACCURACY)


def test_points_without_calls_have_no_error_ratio_or_latency():
    rows = rows_of(traffic(minutes=1))
    grid = Grid.of(T0 + 5 * MINUTE_NS, 3 * MINUTE_NS, MINUTE_NS, MINUTE_NS)
    assert [v for _, v in series_of(windows(rows, grid), call_rate)[0].points] == [0.0] * 3
    assert all(math.isnan(v) for _, v in series_of(windows(rows, grid), error_ratio)[0].points)
    assert all(math.isnan(v) for _, v in series_of(windows(rows, grid), latency_ms(0.5))[0].points)


def test_a_late_span_counts_in_its_start_minute_and_a_long_one_in_the_minute_it_started():
    cols = traffic(minutes=3, per_minute=60)
    # Written last, started in minute 1, lasting 90 s: it crosses into minute 2.
    for key, value in (("start", T0 + MINUTE_NS + 59 * 10**9), ("service", "checkout"),
                       ("op", "pay"), ("kind", SpanKind.SERVER), ("status", StatusCode.ERROR),
                       ("dur", 90 * 10**9)):
        cols[key].append(value)
    grid = Grid.of(T0 + 3 * MINUTE_NS, 3 * MINUTE_NS, MINUTE_NS, MINUTE_NS)
    counts = [v * 60 for _, v in series_of(windows(rows_of(cols), grid), call_rate)[0].points]
    assert counts == [60, 61, 60]
    errors = [v for _, v in series_of(windows(rows_of(cols), grid), error_ratio)[0].points]
    assert errors == [6 / 60, 7 / 61, 6 / 60]
    slowest = series_of(windows(rows_of(cols), grid), latency_ms(1.0))[0].points
    assert slowest[1][1] == pytest.approx(90_000, rel=RELATIVE_ACCURACY)
    assert slowest[2][1] == pytest.approx(60, rel=RELATIVE_ACCURACY)


def test_the_current_minute_counts_at_the_rate_of_the_time_elapsed():
    cols = traffic(minutes=1, per_minute=120)  # minute 0 only
    end = T0 + 30 * 10**9  # half way through minute 0
    cols = {k: [v for v, s in zip(col, cols["start"]) if s <= end] for k, col in cols.items()}
    grid = Grid.of(end, MINUTE_NS, MINUTE_NS, MINUTE_NS)
    ((t, rate),) = series_of(windows(rows_of(cols), grid), call_rate)[0].points
    assert t == end
    assert rate == pytest.approx(61 / 30)


def test_summaries_per_operation_over_the_whole_range():
    cols = traffic(minutes=10)
    cols["op"] = ["pay" if s % MINUTE_NS < MINUTE_NS // 2 else "refund" for s in cols["start"]]
    grid = Grid.of(T0 + 10 * MINUTE_NS, 10 * MINUTE_NS, 2 * MINUTE_NS, 2 * MINUTE_NS)
    rows = rows_of(cols, by_operation=True, step_ns=2 * MINUTE_NS)
    by_op = {s.operation: s for s in summaries(windows(rows, grid))}
    assert by_op["pay"].calls == by_op["refund"].calls == 600
    assert by_op["pay"].rate_per_s == pytest.approx(1.0)
    assert by_op["pay"].errors == 60 and by_op["refund"].errors == 60
    (whole,) = summaries(windows(rows_of(cols, step_ns=2 * MINUTE_NS), grid))
    assert (whole.calls, whole.error_ratio) == (1200, 0.1)
    assert whole.p50_ms == pytest.approx(60, rel=RELATIVE_ACCURACY)
    assert whole.p99_ms == pytest.approx(119, rel=RELATIVE_ACCURACY)


def test_edge_summaries():
    rows = [EdgeRow("api", "web", 4, 0, sketch_of([MS] * 4)),
            EdgeRow("web", "db", 20, 4, sketch_of([5 * MS] * 10 + [50 * MS] * 10))]
    api, web = edge_summaries(rows)
    assert (api.parent, api.child, api.calls, api.errors, api.error_ratio) == ("api", "web", 4, 0, 0)
    assert (web.calls, web.errors, web.error_ratio) == (20, 4, 0.2)
    assert web.p95_ms == pytest.approx(50, rel=RELATIVE_ACCURACY)


def test_columns_and_rows_are_the_same_answer():
    rows = rows_of(traffic(minutes=2), by_operation=True).rows()
    assert [(r.time_ns, r.calls, r.errors) for r in rows] == [(T0, 120, 12), (T0 + MINUTE_NS, 120, 12)]
    assert RedColumns.of_rows(rows).rows() == rows
    assert RedColumns.of_rows([]).rows() == []
    assert summaries(windows(RedColumns.of_rows([]), Grid.of(T0, MINUTE_NS, MINUTE_NS, MINUTE_NS))) == []
