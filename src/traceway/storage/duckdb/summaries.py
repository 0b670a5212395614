"""Trace summaries aggregated in DuckDB, by the rules of ``storage.api.TraceSummary``.

Spans count once per distinct (id, parent, service, name, kind, start, duration,
status): the copies a retried write leaves behind are the same span.
"""

from __future__ import annotations

import duckdb
import numpy as np

from traceway.storage.api import ServiceSummary, TraceSummary
from traceway.storage.duckdb.ranges import spans_of_traces_sql
from traceway.storage.duckdb.schema import ids16_from

_COLUMNS = ("trace_hi, trace_lo, span_id, parent_id, service, name, kind, start_ns, duration_ns, "
            "status_code")

_SQL = """
WITH s AS (
    SELECT DISTINCT * FROM ({ranges})),
ids AS (SELECT DISTINCT trace_hi, trace_lo, span_id FROM s),
f AS (
    SELECT s.*, (s.parent_id <> 0 AND (ids.span_id IS NULL OR s.parent_id = s.span_id)) AS orphan
    FROM s LEFT JOIN ids ON ids.trace_hi = s.trace_hi AND ids.trace_lo = s.trace_lo
                        AND ids.span_id = s.parent_id),
r AS (
    SELECT *, CASE WHEN parent_id = 0 THEN 0 WHEN orphan THEN 1 ELSE 2 END AS tier FROM f),
per_service AS (
    SELECT trace_hi, trace_lo, service, count(*) AS n,
           count(*) FILTER (WHERE status_code = 2) AS e
    FROM r GROUP BY ALL)
SELECT t.trace_hi, t.trace_lo, t.root.service, t.root.name, t.first, t.last, t.n, t.e, t.o,
       list({{'name': p.service, 'n': p.n, 'e': p.e}} ORDER BY p.service)
FROM (SELECT trace_hi, trace_lo,
             arg_min({{'service': service, 'name': name}},
                     {{'tier': tier, 'start': start_ns, 'neg': -duration_ns}}) AS root,
             min(start_ns) AS first, max(start_ns + duration_ns) AS last, count(*) AS n,
             count(*) FILTER (WHERE status_code = 2) AS e, count(*) FILTER (WHERE orphan) AS o
      FROM r GROUP BY ALL) t
JOIN per_service p ON p.trace_hi = t.trace_hi AND p.trace_lo = t.trace_lo
GROUP BY ALL
"""


def trace_summaries(cur: duckdb.DuckDBPyConnection,
                    ranges: list[tuple[int, int, int, int]]) -> list[TraceSummary]:
    """Summaries of the given (hi, lo, first start, last end) traces, in no order."""
    if not ranges:
        return []
    spans_sql, params = spans_of_traces_sql(_COLUMNS, ranges)
    rows = cur.execute(_SQL.format(ranges=spans_sql), params).fetchall()
    if not rows:
        return []
    trace_ids = ids16_from(np.array([r[0] for r in rows], dtype=np.uint64),
                           np.array([r[1] for r in rows], dtype=np.uint64))
    return [TraceSummary(
        trace_id=tid, root_service=row[2], root_operation=row[3], start_ns=row[4],
        end_ns=row[5], span_count=row[6], error_span_count=row[7], orphan_span_count=row[8],
        services=tuple(ServiceSummary(p["name"], p["n"], p["e"]) for p in row[9]))
        for tid, row in zip(trace_ids, rows)]
