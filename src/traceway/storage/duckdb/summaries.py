"""Trace summaries aggregated in DuckDB, by the rules of ``storage.api.TraceSummary``.

DuckDB groups the spans by trace and service; Python only folds those few rows
per trace. Spans count once per distinct (id, parent, service, name, kind, start,
duration, status): the copies a retried write leaves behind are the same span.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import duckdb
import numpy as np

from traceway.storage.api import ServiceSummary, TraceSummary
from traceway.storage.duckdb.ranges import TraceRange, spans_of_traces_sql
from traceway.storage.duckdb.schema import ids16_from

_COLUMNS = ("trace_hi, trace_lo, span_id, parent_id, service, name, kind, start_ns, duration_ns, "
            "status_code")

# Per (trace, service): spans, errors, orphans, first start, last end, and the best
# root candidate (parentless first, then orphans, earliest, longest) with its name.
_SQL = """
WITH s AS (SELECT DISTINCT * FROM ({spans})),
f AS (
    SELECT s.*, (s.parent_id <> 0 AND (p.span_id IS NULL OR s.parent_id = s.span_id)) AS orphan
    FROM s LEFT JOIN (SELECT DISTINCT trace_hi, trace_lo, span_id FROM s) p
      ON p.trace_hi = s.trace_hi AND p.trace_lo = s.trace_lo AND p.span_id = s.parent_id)
SELECT trace_hi, trace_lo, service, count(*), count(*) FILTER (WHERE status_code = 2),
       count(*) FILTER (WHERE orphan), min(start_ns), max(start_ns + duration_ns),
       min({{'tier': CASE WHEN parent_id = 0 THEN 0 WHEN orphan THEN 1 ELSE 2 END,
             'start': start_ns, 'neg': -duration_ns, 'name': name}})
FROM f GROUP BY ALL
"""


def trace_summaries(cur: duckdb.DuckDBPyConnection,
                    ranges: list[TraceRange]) -> list[TraceSummary]:
    """Summaries of the given (hi, lo, first start, last end) traces, in no order."""
    if not ranges:
        return []
    spans_sql, params = spans_of_traces_sql(_COLUMNS, ranges)
    by_trace: dict[tuple[int, int], list[tuple[Any, ...]]] = defaultdict(list)
    for row in cur.execute(_SQL.format(spans=spans_sql), params).fetchall():
        by_trace[(row[0], row[1])].append(row)
    keys = list(by_trace)
    trace_ids = ids16_from(np.array([k[0] for k in keys], dtype=np.uint64),
                           np.array([k[1] for k in keys], dtype=np.uint64))
    return [_fold(tid, by_trace[key]) for tid, key in zip(trace_ids, keys)]


def _fold(trace_id: bytes, rows: list[tuple[Any, ...]]) -> TraceSummary:
    rows.sort(key=lambda r: r[2])
    root = min(rows, key=lambda r: (r[8]["tier"], r[8]["start"], r[8]["neg"]))
    return TraceSummary(
        trace_id=trace_id, root_service=root[2], root_operation=root[8]["name"],
        start_ns=min(r[6] for r in rows), end_ns=max(r[7] for r in rows),
        span_count=sum(r[3] for r in rows), error_span_count=sum(r[4] for r in rows),
        orphan_span_count=sum(r[5] for r in rows),
        services=tuple(ServiceSummary(r[2], r[3], r[4]) for r in rows))
