"""ClickHouse rollups: RED rows and service-map edges per minute, in SQL.

RED: on tables Traceway creates, ``otel_traces_red`` (an AggregatingMergeTree
over minute, service, span name, kind and status: calls, duration sum and the
latency sketch of ``analysis.red`` as a ``sumMap`` of bucket -> count) is filled
by the materialized view ``otel_traces_red_mv`` as spans are inserted; reads
merge its partial rows with ``sum``/``sumMap``. A deduplicated insert (a retry
with the same ``insert_deduplication_token``) does not reach the view, so a
retried write is counted once. On tables the exporter made, which lack that
view, the same query runs over ``otel_traces`` itself.

Edges need each span's parent, which may arrive in a later insert, so they are
not kept: they are joined at read time over the window's callee spans and
their parents (under ``Reader.dependencies``' rules), which reflects a late
parent on the next read. Pure SQL builders plus ``ClickHouseRollups``, mixed
into ``ClickHouseStore``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from traceway.analysis.red import MINUTE_NS, EdgeRow, RedColumns
from traceway.storage.clickhouse.queries import PARENT_MARGIN_NS, Query, callee_join
from traceway.storage.clickhouse.schema import (
    SKETCH_BUCKET,
    SPAN_MINUTE,
    Location,
    kind_forms,
    status_forms,
)

_SECOND = 10**9


def _minute_ceil(ns: int) -> int:
    return -(-ns // MINUTE_NS) * MINUTE_NS


def _spans_in(loc: Location) -> str:
    """One row per span in the shape of the rollup table, over a window of
    start times (``lo``, ``hi`` ns; ``hi`` excluded)."""
    return (f"SELECT {SPAN_MINUTE} AS Minute, ServiceName, SpanName, SpanKind, StatusCode, "
            f"toUInt64(1) AS Calls, Duration AS DurationSum, ([{SKETCH_BUCKET}], [toUInt64(1)]) AS Sketch "
            f"FROM {loc.traces} WHERE Timestamp >= fromUnixTimestamp64Nano({{lo:Int64}}) "
            "AND Timestamp < fromUnixTimestamp64Nano({hi:Int64})")


def red_query(loc: Location, rollup: bool, start_ns: int, end_ns: int, step_ns: int,
              services: Sequence[str] | None, span_kinds: Sequence[int] | None,
              by_operation: bool) -> Query:
    """Rows (service, operation, time ns, calls, errors, duration sum, buckets,
    counts) of the minutes starting in ``[start_ns, end_ns)``, one per
    (``step_ns`` bucket, service[, operation]), from the rollup table or, when
    ``rollup`` is False, from the spans."""
    # A minute starts in [start, end) iff its second is in [ceil(start), ceil(end)).
    first_s, after_s = -(-start_ns // _SECOND), -(-end_ns // _SECOND)
    params: dict[str, Any] = {"start": start_ns, "step": step_ns, "first": first_s,
                              "after": after_s, "errors": status_forms(2)}
    if rollup:
        source = (f"SELECT * FROM {loc.name('_red')} WHERE Minute >= toDateTime({{first:Int64}}) "
                  "AND Minute < toDateTime({after:Int64})")
    else:
        source = _spans_in(loc)  # a span's minute starts in the window iff it starts in
        params.update(lo=_minute_ceil(start_ns), hi=_minute_ceil(end_ns))  # [lo, hi)
    if services is not None:
        source += " AND ServiceName IN {services:Array(String)}"
        params["services"] = list(services)
    if span_kinds is not None:
        source += " AND SpanKind IN {kinds:Array(String)}"
        params["kinds"] = [form for kind in span_kinds for form in kind_forms(int(kind))]
    operation = "SpanName" if by_operation else "''"
    sql = f"""SELECT ServiceName, {operation} AS Operation,
       {{start:Int64}} + intDiv(toInt64(toUnixTimestamp(Minute)) * {_SECOND} - {{start:Int64}},
                                {{step:Int64}}) * {{step:Int64}} AS TimeNs,
       sum(Calls) AS N, sumIf(Calls, StatusCode IN {{errors:Array(String)}}) AS E,
       sum(DurationSum) AS D, sumMap(Sketch) AS S
FROM ({source})
GROUP BY ServiceName, Operation, TimeNs
ORDER BY ServiceName, Operation, TimeNs"""
    return sql, params


def calls_query(loc: Location, lo_ns: int, hi_ns: int) -> Query:
    """Edges (parent, child, calls, errors, buckets, counts) over the callee
    spans started in ``[lo_ns, hi_ns)`` (``queries.callee_join``), parents
    looked for from PARENT_MARGIN_NS before the window."""
    window = ("Timestamp >= fromUnixTimestamp64Nano({lo:Int64}) "
              "AND Timestamp < fromUnixTimestamp64Nano({hi:Int64})")
    parents = ("Timestamp >= fromUnixTimestamp64Nano({parent_lo:Int64}) "
               "AND Timestamp < fromUnixTimestamp64Nano({hi:Int64})")
    measures = (f"count() AS N, countIf(c.CalleeStatus IN {{errors:Array(String)}}) AS E, "
                f"sumMap([{SKETCH_BUCKET.replace('Duration', 'c.CalleeDuration')}], [toUInt64(1)]) AS S")
    return (callee_join(loc, window, parents, measures),
            {"lo": lo_ns, "hi": hi_ns, "parent_lo": lo_ns - PARENT_MARGIN_NS,
             "errors": status_forms(2), "servers": kind_forms(2)})


def red_columns(rows: list[tuple[Any, ...]], by_operation: bool) -> RedColumns:
    """``red_query`` rows (sorted by service, operation) as RedColumns."""
    keys: list[tuple[str, str | None]] = []
    key_of_row: list[int] = []
    for service, operation, *_ in rows:
        key = (service, operation if by_operation else None)
        if not keys or keys[-1] != key:
            keys.append(key)
        key_of_row.append(len(keys) - 1)
    buckets = [np.asarray(row[6][0], dtype=np.int64) for row in rows]
    counts = [np.asarray(row[6][1], dtype=np.int64) for row in rows]
    sizes = [len(b) for b in buckets]

    def column(index: int) -> np.ndarray:
        return np.fromiter((row[index] for row in rows), dtype=np.int64, count=len(rows))

    key_column, time_ns = np.asarray(key_of_row, dtype=np.int64), column(2)
    empty = np.zeros(0, dtype=np.int64)
    return RedColumns(keys, key_column, time_ns, column(3), column(4), column(5),
                      np.repeat(key_column, sizes), np.repeat(time_ns, sizes),
                      np.concatenate(buckets) if rows else empty,
                      np.concatenate(counts) if rows else empty)


class ClickHouseRollups:
    """``Rollups`` over the store's client; ``_has_red`` says whether the rollup
    table exists (tables Traceway created) or the spans are aggregated."""

    location: Location
    _has_red: bool

    def _query(self, sql_params: Query) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def red(self, start_ns: int, end_ns: int, step_ns: int = MINUTE_NS, *,
            services: Sequence[str] | None = None, span_kinds: Sequence[int] | None = None,
            by_operation: bool = True) -> RedColumns:
        if (services is not None and not services) or (span_kinds is not None and not span_kinds):
            return red_columns([], by_operation)
        return red_columns(self._query(red_query(
            self.location, self._has_red, start_ns, end_ns, step_ns, services, span_kinds,
            by_operation)), by_operation)

    def edges(self, start_ns: int, end_ns: int) -> list[EdgeRow]:
        lo, hi = _minute_ceil(start_ns), _minute_ceil(end_ns)
        if lo >= hi:
            return []
        return [EdgeRow(parent, child, int(n), int(e), dict(zip(map(int, b), map(int, c))))
                for parent, child, n, e, (b, c) in self._query(calls_query(self.location, lo, hi))]
