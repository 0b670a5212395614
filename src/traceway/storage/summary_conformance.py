"""Conformance tests for the optional ``TraceSummaries`` capability.

``StorageConformance`` includes them, so every backend runs them; a backend
without the capability skips them (the query side then summarises its traces
with ``storage.summary.summarize_trace``, which these tests pin as well).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from traceway.model import SpanKind, SpanRecord, StatusCode
from traceway.storage.api import ServiceSummary, TraceQuery, TraceSummaries, TraceSummary
from traceway.storage.summary import summarize_trace
from traceway.storage.testspans import HOUR_NS, SECOND_NS, batch_of, make_span, trace_id

MS = 1_000_000


def _summaries(store: Any, query: TraceQuery) -> list[TraceSummary]:
    if not isinstance(store, TraceSummaries):
        pytest.skip("backend does not implement TraceSummaries")
    return store.find_trace_summaries(query)


class TraceSummaryConformance:
    """Mixed into ``StorageConformance``; needs its ``store`` fixture."""

    @pytest.fixture
    def now0(self) -> int:
        return (time.time_ns() // SECOND_NS) * SECOND_NS - HOUR_NS

    @staticmethod
    def _window(t0: int, **conditions: Any) -> TraceQuery:
        return TraceQuery(start_min_ns=t0 - HOUR_NS, start_max_ns=t0 + HOUR_NS, **conditions)

    def _shop_trace(self, t0: int) -> list[SpanRecord]:
        root = make_span(0xA1, 1, start_ns=t0, duration_ns=50 * MS, service="frontend",
                         name="GET /checkout", kind=SpanKind.SERVER)
        pay = make_span(0xA1, 2, parent=1, start_ns=t0 + 2 * MS, duration_ns=30 * MS,
                        service="payment", name="charge", kind=SpanKind.SERVER,
                        status_code=StatusCode.ERROR, status_message="card declined")
        db = make_span(0xA1, 3, parent=2, start_ns=t0 + 3 * MS, duration_ns=70 * MS,
                       service="payment", name="INSERT", kind=SpanKind.CLIENT,
                       status_code=StatusCode.ERROR)
        lost = make_span(0xA1, 4, parent=99, start_ns=t0 + 4 * MS, service="audit", name="log")
        return [root, pay, db, lost]

    def test_summary_counts_spans_errors_orphans_and_services(self, store: Any, now0: int) -> None:
        spans = self._shop_trace(now0)
        store.write(batch_of(*spans))
        store.write(batch_of(spans[1]))  # a retried write: the same span once more
        expected = TraceSummary(
            trace_id=trace_id(0xA1), root_service="frontend", root_operation="GET /checkout",
            start_ns=now0, end_ns=now0 + 73 * MS, span_count=4, error_span_count=2,
            orphan_span_count=1,
            services=(ServiceSummary("audit", 1, 0), ServiceSummary("frontend", 1, 0),
                      ServiceSummary("payment", 2, 2)))
        assert _summaries(store, self._window(now0)) == [expected]
        assert summarize_trace(store.get_trace(trace_id(0xA1))) == expected

    def test_without_a_parentless_span_the_earliest_orphan_is_the_root(
            self, store: Any, now0: int) -> None:
        late = make_span(0xB2, 1, parent=77, start_ns=now0 + 5 * MS, service="late", name="b")
        early = make_span(0xB2, 2, parent=78, start_ns=now0 + 1 * MS, service="early", name="a")
        child = make_span(0xB2, 3, parent=2, start_ns=now0, service="child", name="c")
        store.write(batch_of(late, early, child))
        (summary,) = _summaries(store, self._window(now0))
        assert (summary.root_service, summary.root_operation) == ("early", "a")
        assert summary.orphan_span_count == 2
        assert summary.start_ns == now0

    def test_shared_client_server_span_ids_count_as_two_spans(self, store: Any, now0: int) -> None:
        client = make_span(0xC3, 2, parent=1, start_ns=now0 + MS, service="web",
                           name="get", kind=SpanKind.CLIENT)
        server = make_span(0xC3, 2, parent=1, start_ns=now0 + 2 * MS, service="api",
                           name="get", kind=SpanKind.SERVER)
        root = make_span(0xC3, 1, start_ns=now0, duration_ns=10 * MS, service="web", name="job")
        store.write(batch_of(root, client, server))
        (summary,) = _summaries(store, self._window(now0))
        assert summary.span_count == 3 and summary.orphan_span_count == 0
        assert summary.services == (ServiceSummary("api", 1, 0), ServiceSummary("web", 2, 0))

    def test_summaries_follow_find_traces_order_limit_and_conditions(
            self, store: Any, now0: int) -> None:
        for n in range(6):
            store.write(batch_of(
                make_span(0xD0 + n, 1, start_ns=now0 + n * SECOND_NS, service="api",
                          name="GET" if n % 2 else "POST", attributes={"n": n}),
                make_span(0xD0 + n, 2, parent=1, start_ns=now0 + n * SECOND_NS + MS,
                          service="db", name="SELECT")))
        queries = [self._window(now0, limit=3), self._window(now0, operation="GET"),
                   self._window(now0, service="db", limit=2),
                   self._window(now0, tags={"n": "4"}), self._window(now0, service="nobody")]
        for query in queries:
            expected = [summarize_trace(t) for t in store.find_traces(query)]
            assert _summaries(store, query) == expected, query
        assert [s.trace_id for s in _summaries(store, queries[0])] == [
            trace_id(0xD5), trace_id(0xD4), trace_id(0xD3)]
