"""Trace summaries aggregated in ClickHouse, by the rules of ``storage.api.TraceSummary``.

The traces are the ones ``find_traces`` would return (same search, same order);
ClickHouse groups their spans by trace and service, through the lookup table's
ranges as a trace read does, and Python only folds those few rows per trace.
Spans count once per distinct (id, parent, service, name, kind, start, duration,
status), as the DuckDB backend counts them: copies of a span are the same span.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from traceway.storage.api import ServiceSummary, TraceQuery, TraceSummary
from traceway.storage.clickhouse.queries import Query, TraceRange, trace_spans
from traceway.storage.clickhouse.schema import Location, status_forms

_COLUMNS = ("TraceId, SpanId, ParentSpanId, ServiceName, SpanName, SpanKind, "
            "toUnixTimestamp64Nano(Timestamp) AS StartNs, Duration, StatusCode")
# Root candidates rank parentless first, then orphans, then the rest; earliest,
# then longest, first.
_RANK = "(multiIf(ParentSpanId = '', 0, Orphan, 1, 2), StartNs, -toInt64(Duration))"


def summary_query(loc: Location, ranges: list[TraceRange]) -> Query:
    """Per (trace, service): spans, errors, orphans, first start, last end, and
    the best root candidate's rank and name."""
    spans_sql, params = trace_spans(loc, ranges, _COLUMNS)
    params["errors"] = status_forms(2)
    return (f"""WITH s AS (SELECT DISTINCT * FROM ({spans_sql})),
f AS (SELECT s.*, ParentSpanId != '' AND (ParentSpanId = SpanId
          OR (TraceId, ParentSpanId) NOT IN (SELECT TraceId, SpanId FROM s)) AS Orphan
      FROM s)
SELECT TraceId, ServiceName, count(), countIf(StatusCode IN {{errors:Array(String)}}),
       countIf(Orphan), min(StartNs), max(StartNs + Duration),
       min({_RANK}), argMin(SpanName, {_RANK})
FROM f GROUP BY TraceId, ServiceName""", params)


def fold(trace_id: str, rows: list[tuple[Any, ...]]) -> TraceSummary:
    """One trace's ``summary_query`` rows (one per service) as its summary."""
    rows.sort(key=lambda r: r[1])
    root = min(rows, key=lambda r: tuple(r[7]))
    return TraceSummary(
        trace_id=bytes.fromhex(trace_id), root_service=root[1], root_operation=root[8],
        start_ns=min(int(r[5]) for r in rows), end_ns=max(int(r[6]) for r in rows),
        span_count=sum(int(r[2]) for r in rows), error_span_count=sum(int(r[3]) for r in rows),
        orphan_span_count=sum(int(r[4]) for r in rows),
        services=tuple(ServiceSummary(r[1], int(r[2]), int(r[3])) for r in rows))


class ClickHouseSummaries:
    """``TraceSummaries`` over the store's search and lookup table."""

    location: Location

    def _query(self, sql_params: Query) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _find_trace_ids(self, query: TraceQuery) -> list[str]:
        raise NotImplementedError

    def _ranges(self, trace_ids: list[str]) -> list[TraceRange]:
        raise NotImplementedError

    def find_trace_summaries(self, query: TraceQuery) -> list[TraceSummary]:
        trace_ids = self._find_trace_ids(query)
        ranges = self._ranges(trace_ids) if trace_ids else []
        if not ranges:
            return []
        by_trace: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for row in self._query(summary_query(self.location, ranges)):
            by_trace[row[0]].append(row)
        return [fold(tid, by_trace[tid]) for tid in trace_ids if tid in by_trace]
