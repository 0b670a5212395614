"""Reading many traces at once: clusters of nearby traces, each trace whole."""

from __future__ import annotations

from traceway.storage.api import TraceQuery
from traceway.storage.duckdb import DuckDBStore
from traceway.storage.duckdb.ranges import CLUSTER_NS, MAX_BRANCHES, clusters, spans_of_traces_sql
from traceway.storage.testspans import HOUR_NS, SECOND_NS, batch_of, make_span, trace_id


def test_clusters_group_nearby_ranges_and_keep_long_ones_alone():
    ranges = [(1, 1, 0, 10), (2, 2, 5 * HOUR_NS, 5 * HOUR_NS + 1), (3, 3, 20, 30),
              (4, 4, CLUSTER_NS - 5, CLUSTER_NS + 10), (5, 5, 2 * HOUR_NS, 4 * HOUR_NS)]
    assert [[r[0] for r in group] for group in clusters(ranges)] == [[1, 3], [4], [5], [2]]


def test_search_results_spread_over_hours_come_back_whole(tmp_path):
    store = DuckDBStore(tmp_path)
    try:
        t0 = 1_700_000_000 * SECOND_NS
        spans = []
        for n, offset in enumerate([0, 3 * HOUR_NS, 3 * HOUR_NS + SECOND_NS, 9 * HOUR_NS], start=1):
            spans += [make_span(n, 1, start_ns=t0 + offset, service="api"),
                      make_span(n, 2, parent=1, start_ns=t0 + offset + 2 * HOUR_NS, service="db")]
        store.write(batch_of(*spans))
        found = store.find_traces(TraceQuery(t0, t0 + 12 * HOUR_NS, service="api", limit=10))
        assert [t.trace_id[0] for t in found] == [trace_id(n) for n in (4, 3, 2, 1)]
        assert all(len(t) == 2 for t in found)
        summaries = store.find_trace_summaries(TraceQuery(t0, t0 + 12 * HOUR_NS, limit=10))
        assert [s.span_count for s in summaries] == [2, 2, 2, 2]
    finally:
        store.close()


def test_many_scattered_traces_are_read_in_one_scan():
    scattered = [(n, n, n * 2 * HOUR_NS, n * 2 * HOUR_NS + 1) for n in range(1, MAX_BRANCHES + 2)]
    sql, params = spans_of_traces_sql("span_id", scattered)
    assert "UNION ALL" not in sql
    assert params[2:] == [2 * HOUR_NS, (MAX_BRANCHES + 1) * 2 * HOUR_NS + 1]
    sql, _ = spans_of_traces_sql("span_id", scattered[:3])
    assert sql.count("UNION ALL") == 2
