"""The storage conformance suite every backend must pass.

A backend's test module subclasses :class:`StorageConformance` and provides a
``store`` fixture (an object implementing Writer and Reader)::

    class TestMemoryStore(StorageConformance):
        @pytest.fixture
        def store(self, tmp_path):
            store = MemoryStore()
            yield store
            store.close()

A durable backend also overrides the ``reopen`` fixture with a callable that
takes the store and returns a new one over the same data (closing the old one
or not, as a crash would); the persistence tests are skipped otherwise.
Retention tests run only when the store implements ``Retention``.

Every test builds its spans with :func:`make_span`, a short way to write a
complete :class:`SpanRecord` (detail, resource and scope as OTLP protobuf).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pytest

from traceway.analysis.red import MINUTE_NS, EdgeRow, RedRow, minute_of, sketch_of
from traceway.model import SpanBatch, SpanKind, SpanRecord, StatusCode
from traceway.storage.api import (
    DependencyLink,
    Operation,
    Reader,
    Retention,
    Rollups,
    TagPattern,
    TraceQuery,
    Writer,
)
from traceway.storage.summary_conformance import TraceSummaryConformance
from traceway.storage.testspans import (
    HOUR_NS,
    SECOND_NS,
    batch_of,
    make_span,
    span_id,
    trace_id,
)


def _order_key(record: SpanRecord) -> tuple[int, bytes, str, bytes]:
    return (record.start_ns, record.span_id, record.name, record.detail)


def assert_same_spans(actual: SpanBatch, expected: Iterable[SpanRecord]) -> None:
    """``actual`` holds exactly ``expected`` (each once), ordered by start time."""
    rows = list(actual.rows())
    starts = [r.start_ns for r in rows]
    assert starts == sorted(starts), "spans are not ordered by start time"
    assert sorted(rows, key=_order_key) == sorted(expected, key=_order_key)


def trace_ids_of(results: Sequence[SpanBatch]) -> list[bytes]:
    ids = []
    for batch in results:
        assert len(batch) > 0, "find_traces returned an empty trace"
        assert len(set(batch.trace_id)) == 1, "one result holds spans of several traces"
        ids.append(batch.trace_id[0])
    return ids


# Tag searches against RICH_TAGS_SPAN below: (test id, tags, whether it matches).
TAG_CASES: list[tuple[str, dict[str, str], bool]] = [
    ("span-attribute", {"http.method": "GET"}, True),
    ("int-attribute", {"retries": "123"}, True),
    ("double-attribute", {"temperature": "72.5"}, True),
    ("bool-attribute", {"cached": "true"}, True),
    ("event-attribute", {"event.key": "event-value"}, True),
    ("event-name", {"event": "cache miss"}, True),
    ("link-attribute", {"link.key": "link-value"}, True),
    ("resource-attribute", {"host.name": "node-7"}, True),
    ("scope-attribute", {"scope.key": "scope-value"}, True),
    ("derived-error", {"error": "true"}, True),
    ("derived-span-kind", {"span.kind": "server"}, True),
    ("derived-status-code", {"otel.status_code": "ERROR"}, True),
    ("derived-status-description", {"otel.status_description": "boom"}, True),
    ("derived-scope-name", {"otel.scope.name": "my.scope"}, True),
    ("derived-scope-version", {"otel.scope.version": "1.2.3"}, True),
    ("derived-tracestate", {"w3c.tracestate": "vendor=abc"}, True),
    ("all-places-one-span", {"http.method": "GET", "retries": "123", "event.key": "event-value",
                             "link.key": "link-value", "host.name": "node-7",
                             "scope.key": "scope-value", "error": "true"}, True),
    ("literal-star-value", {"wild": "same*"}, True),
    ("literal-regex-value", {"dotstar": ".*"}, True),
    ("literal-sql-value", {"pct": "50%_off"}, True),
    ("other-value", {"http.method": "POST"}, False),
    ("case-differs", {"http.method": "get"}, False),
    ("prefix-only", {"http.method": "GE"}, False),
    ("key-case-differs", {"HTTP.method": "GET"}, False),
    ("star-is-not-wildcard", {"http.method": "G*"}, False),
    ("dotstar-is-not-regex", {"http.method": ".*"}, False),
    ("percent-is-not-wildcard", {"http.method": "G%"}, False),
    ("underscore-is-not-wildcard", {"http.method": "G_T"}, False),
    ("stored-star-is-literal", {"wild": "samexyz"}, False),
    ("stored-regex-is-literal", {"dotstar": "anything"}, False),
    ("int-other-form", {"retries": "123.0"}, False),
    ("int-leading-zero", {"retries": "0123"}, False),
    ("double-other-form", {"temperature": "72.50"}, False),
    ("bool-capitalised", {"cached": "True"}, False),
    ("derived-kind-other", {"span.kind": "client"}, False),
    ("derived-error-false", {"error": "false"}, False),
    ("one-tag-missing", {"http.method": "GET", "missing": "x"}, False),
    ("event-key-on-link", {"link.key": "event-value"}, False),
]


# Pattern searches against RICH_TAGS_SPAN: (test id, patterns as (key, mode, text),
# exact tags, whether it matches). Patterns see string values only.
PATTERN_CASES: list[tuple[str, list[tuple[str, str, str]], dict[str, str], bool]] = [
    ("contains-span-attribute", [("http.method", "contains", "E")], {}, True),
    ("contains-empty-text", [("http.method", "contains", "")], {}, True),
    ("contains-star-literally", [("wild", "contains", "*")], {}, True),
    ("contains-percent-literally", [("pct", "contains", "%_")], {}, True),
    ("contains-multibyte", [("city", "contains", "Zür")], {}, True),
    ("contains-case-sensitive", [("http.method", "contains", "get")], {}, False),
    ("contains-event-attribute", [("event.key", "contains", "event-val")], {}, True),
    ("contains-resource-attribute", [("host.name", "contains", "node")], {}, True),
    ("contains-scope-attribute", [("scope.key", "contains", "scope-v")], {}, True),
    ("contains-not-on-int", [("retries", "contains", "12")], {}, False),
    ("contains-not-on-double", [("temperature", "contains", "72")], {}, False),
    ("contains-derived-status-description", [("otel.status_description", "contains", "oo")],
     {}, True),
    ("contains-derived-scope-version", [("otel.scope.version", "contains", ".2.")], {}, True),
    ("contains-derived-tracestate", [("w3c.tracestate", "contains", "abc")], {}, True),
    ("contains-event-name", [("event", "contains", "miss")], {}, True),
    ("contains-missing-key", [("missing", "contains", "")], {}, False),
    ("contains-other-key-only", [("http.method", "contains", "node")], {}, False),
    ("regex-anchored", [("http.method", "regex", "^G.T$")], {}, True),
    ("regex-unanchored", [("http.method", "regex", "ET")], {}, True),
    ("regex-anchor-mismatch", [("http.method", "regex", "^ET")], {}, False),
    ("regex-ignore-case", [("http.method", "regex", "(?i)get")], {}, True),
    ("regex-alternatives", [("http.method", "regex", "POST|GET")], {}, True),
    ("regex-dot-is-one-character", [("city", "regex", "^Z.rich$")], {}, True),
    ("regex-link-attribute", [("link.key", "regex", "^link-")], {}, True),
    ("regex-not-on-bool", [("cached", "regex", "true")], {}, False),
    ("regex-not-on-derived-error", [("error", "regex", "true")], {}, False),
    ("regex-derived-span-kind", [("span.kind", "regex", "^serv")], {}, True),
    ("regex-derived-span-kind-other", [("span.kind", "regex", "client")], {}, False),
    ("regex-derived-status-code", [("otel.status_code", "regex", "ERR")], {}, True),
    ("regex-derived-scope-name", [("otel.scope.name", "regex", r"my\.sc")], {}, True),
    ("regex-event-name", [("event", "regex", r"cache\s+miss")], {}, True),
    ("regex-other-key-only", [("http.method", "regex", "node")], {}, False),
    ("pattern-and-exact", [("host.name", "contains", "node")], {"http.method": "GET"}, True),
    ("two-patterns", [("host.name", "contains", "node"), ("http.method", "regex", "^G")],
     {}, True),
    ("pattern-and-exact-missing", [("host.name", "contains", "node")], {"http.method": "PUT"},
     False),
]


def rich_tags_span(start_ns: int) -> SpanRecord:
    return make_span(
        1, 1, start_ns=start_ns, service="tagged", name="rich", kind=SpanKind.SERVER,
        status_code=StatusCode.ERROR, status_message="boom", trace_state="vendor=abc",
        attributes={"http.method": "GET", "retries": 123, "temperature": 72.5, "cached": True,
                    "wild": "same*", "dotstar": ".*", "pct": "50%_off", "city": "Zürich"},
        events=[("cache miss", {"event.key": "event-value"})],
        links=[{"link.key": "link-value"}], resource={"host.name": "node-7"},
        scope_name="my.scope", scope_version="1.2.3", scope_attributes={"scope.key": "scope-value"})


def skip_unless_retention(store: Any) -> None:
    if not isinstance(store, Retention):
        pytest.skip("backend does not implement Retention")


def skip_unless_rollups(store: Any) -> None:
    if not isinstance(store, Rollups):
        pytest.skip("backend does not implement Rollups")


def zipkin_shared_rpc(t0: int) -> list[SpanRecord]:
    """frontend calls backend as a Zipkin sender reports it: the CLIENT and SERVER
    halves share span id 2; backend's own work (span 3) hangs under that id."""
    return [make_span(9, 1, start_ns=t0, service="frontend", kind=SpanKind.SERVER),
            make_span(9, 2, parent=1, start_ns=t0 + 1, service="frontend", kind=SpanKind.CLIENT),
            make_span(9, 2, parent=1, start_ns=t0 + 2, service="backend", kind=SpanKind.SERVER,
                      status_code=StatusCode.ERROR, duration_ns=7_000_000),
            make_span(9, 3, parent=2, start_ns=t0 + 3, service="backend"),
            make_span(9, 4, parent=3, start_ns=t0 + 4, service="db", kind=SpanKind.SERVER)]


class StorageConformance(TraceSummaryConformance):
    """Mix into a ``Test*`` class that provides the ``store`` fixture."""

    @pytest.fixture
    def store(self) -> Any:
        raise NotImplementedError("the backend's test class must provide a `store` fixture")

    @pytest.fixture
    def reopen(self) -> Callable[[Any], Any] | None:
        """Override for durable backends: old store -> new store on the same data."""
        return None

    @pytest.fixture
    def t0(self) -> int:
        """A recent whole second (an hour ago), so no retention policy drops the spans."""
        return (time.time_ns() // SECOND_NS) * SECOND_NS - HOUR_NS

    @staticmethod
    def around(t0: int, **conditions: Any) -> TraceQuery:
        return TraceQuery(start_min_ns=t0 - HOUR_NS, start_max_ns=t0 + HOUR_NS, **conditions)

    # -- write and get_trace ----------------------------------------------

    def test_store_implements_writer_and_reader(self, store: Any) -> None:
        assert isinstance(store, Writer) and isinstance(store, Reader)

    def test_get_trace_returns_every_field_intact(self, store: Any, t0: int) -> None:
        root = make_span(0xFEDCBA9876543210FEDCBA9876543210, 0xFFFFFFFFFFFFFFFE,
                         start_ns=t0 + 123, duration_ns=987_654_321, service="frontend",
                         name="GET /checkout", kind=SpanKind.SERVER, status_code=StatusCode.OK,
                         attributes={"http.route": "/checkout", "n": -7, "x": 0.25, "ok": False,
                                     "raw": b"\x00\xff"},
                         events=[("started", {"step": 1})], links=[{"why": "retry"}],
                         resource={"host.name": "h1"}, scope_name="s", scope_version="v",
                         scope_attributes={"a": "b"}, trace_state="k=v")
        child = make_span(root.trace_id, 2, parent=root.span_id, start_ns=t0 + 5_001,
                          duration_ns=1, service="backend", name="SELECT", kind=SpanKind.CLIENT,
                          status_code=StatusCode.ERROR, status_message="timeout \u2014 \u00e9")
        last = make_span(root.trace_id, 3, parent=2, start_ns=t0 + 9_999_999, duration_ns=0,
                         kind=SpanKind.UNSPECIFIED, name="")
        store.write(batch_of(last, root, child))
        got = store.get_trace(root.trace_id)
        assert list(got.rows()) == [root, child, last]
        for record in got.rows():
            for column in ("trace_id", "span_id", "parent_span_id", "detail", "resource", "scope"):
                assert type(getattr(record, column)) is bytes, column
        assert got.parent_span_id[0] == b""

    def test_get_trace_orders_by_start(self, store: Any, t0: int) -> None:
        spans = [make_span(5, n, start_ns=t0 + (n * 7919) % 100 * SECOND_NS) for n in range(1, 40)]
        store.write(batch_of(*spans))
        assert_same_spans(store.get_trace(trace_id(5)), spans)

    def test_get_trace_with_window_returns_the_trace(self, store: Any, t0: int) -> None:
        spans = [make_span(6, 1, start_ns=t0), make_span(6, 2, parent=1, start_ns=t0 + SECOND_NS)]
        store.write(batch_of(*spans))
        got = store.get_trace(trace_id(6), t0 - HOUR_NS, t0 + HOUR_NS)
        assert_same_spans(got, spans)

    def test_unknown_trace_returns_empty_batch(self, store: Any, t0: int) -> None:
        assert len(store.get_trace(trace_id(404))) == 0
        store.write(batch_of(make_span(1, 1, start_ns=t0)))
        empty = store.get_trace(trace_id(404), t0 - HOUR_NS, t0 + HOUR_NS)
        assert isinstance(empty, SpanBatch) and len(empty) == 0

    def test_spans_of_one_trace_from_separate_writes_are_joined(self, store: Any, t0: int) -> None:
        first = make_span(7, 1, start_ns=t0 + 10)
        second = make_span(7, 2, parent=1, start_ns=t0 + 20, service="other")
        store.write(batch_of(second))
        store.write(batch_of(first))
        assert_same_spans(store.get_trace(trace_id(7)), [first, second])

    def test_many_traces_keep_their_own_spans(self, store: Any, t0: int) -> None:
        expected: dict[bytes, list[SpanRecord]] = {}
        batch = SpanBatch()
        for t in range(1, 201):
            for s in range(1, 4):
                record = make_span(t, s, parent=s - 1 if s > 1 else b"", start_ns=t0 + t * 1000 + s,
                                   service=f"svc-{t % 7}", name=f"op-{s}")
                expected.setdefault(record.trace_id, []).append(record)
                batch.append(record)
            if t % 50 == 0:
                store.write(batch)
                batch = SpanBatch()
        for tid, records in expected.items():
            assert_same_spans(store.get_trace(tid), records)

    def test_empty_batch_is_accepted(self, store: Any) -> None:
        store.write(SpanBatch())
        assert store.services() == []

    def test_large_trace_is_returned_whole(self, store: Any, t0: int) -> None:
        spans = [make_span(9, n, parent=n - 1 if n > 1 else b"", start_ns=t0 + n * 1000,
                           service="big", name=f"step-{n % 10}", attributes={"n": n})
                 for n in range(1, 5001)]
        for start in range(0, len(spans), 1000):
            store.write(batch_of(*spans[start:start + 1000]))
        assert_same_spans(store.get_trace(trace_id(9)), spans)
        found = store.find_traces(self.around(t0, service="big", tags={"n": "4321"}))
        assert len(found) == 1 and len(found[0]) == 5000

    # -- services and operations ------------------------------------------

    def test_services_are_distinct_and_sorted(self, store: Any, t0: int) -> None:
        assert store.services() == []
        store.write(batch_of(*(make_span(n, 1, start_ns=t0, service=name)
                               for n, name in enumerate(["beta", "alpha", "gamma", "alpha"], 1))))
        assert store.services() == ["alpha", "beta", "gamma"]

    def test_operations(self, store: Any, t0: int) -> None:
        pairs = [("gamma", SpanKind.CLIENT), ("alpha", SpanKind.CLIENT),
                 ("beta", SpanKind.INTERNAL), ("alpha", SpanKind.SERVER),
                 ("alpha", SpanKind.SERVER)]
        spans = [make_span(1, n, start_ns=t0 + n, service="shop", name=name, kind=kind)
                 for n, (name, kind) in enumerate(pairs, 1)]
        spans.append(make_span(2, 1, start_ns=t0, service="other", name="delta"))
        store.write(batch_of(*spans))
        assert store.operations("shop") == [
            Operation("alpha", SpanKind.SERVER), Operation("alpha", SpanKind.CLIENT),
            Operation("beta", SpanKind.INTERNAL), Operation("gamma", SpanKind.CLIENT)]
        assert store.operations("shop", SpanKind.CLIENT) == [
            Operation("alpha", SpanKind.CLIENT), Operation("gamma", SpanKind.CLIENT)]
        assert store.operations("shop", SpanKind.PRODUCER) == []
        assert store.operations("nobody") == []

    # -- dependencies -------------------------------------------------------

    def _dependency_spans(self, t0: int) -> list[SpanRecord]:
        return [
            make_span(1, 1, start_ns=t0, service="frontend"),
            make_span(1, 2, parent=1, start_ns=t0 + 1, service="backend"),
            make_span(1, 3, parent=1, start_ns=t0 + 2, service="backend"),
            make_span(1, 4, parent=2, start_ns=t0 + 3, service="backend"),  # same service
            make_span(1, 5, parent=2, start_ns=t0 + 4, service="db"),
            make_span(2, 1, start_ns=t0 + 5, service="frontend"),
            make_span(2, 2, parent=1, start_ns=t0 + 6, service="backend"),
            make_span(2, 3, parent=1, start_ns=t0 + 2 * HOUR_NS, service="cache"),  # late
            make_span(3, 7, parent=6, start_ns=t0, service="orphan"),  # parent never stored
        ]

    def test_dependencies_count_cross_service_calls(self, store: Any, t0: int) -> None:
        store.write(batch_of(*self._dependency_spans(t0)))
        assert store.dependencies(t0 - HOUR_NS, t0 + HOUR_NS) == [
            DependencyLink("backend", "db", 1), DependencyLink("frontend", "backend", 3)]

    def test_dependencies_respect_the_window(self, store: Any, t0: int) -> None:
        store.write(batch_of(*self._dependency_spans(t0)))
        assert store.dependencies(t0 + HOUR_NS, t0 + 3 * HOUR_NS) == [
            DependencyLink("frontend", "cache", 1)]
        assert store.dependencies(t0 - 3 * HOUR_NS, t0 - HOUR_NS) == []

    def test_dependencies_count_duplicate_spans_once(self, store: Any, t0: int) -> None:
        spans = self._dependency_spans(t0)[:3]
        store.write(batch_of(*spans))
        store.write(batch_of(*spans))
        assert store.dependencies(t0 - HOUR_NS, t0 + HOUR_NS) == [
            DependencyLink("frontend", "backend", 2)]

    def test_dependencies_count_a_zipkin_shared_span_once_with_its_error(
            self, store: Any, t0: int) -> None:
        store.write(batch_of(*zipkin_shared_rpc(t0)))
        assert store.dependencies(t0 - HOUR_NS, t0 + HOUR_NS) == [
            DependencyLink("backend", "db", 1, 0), DependencyLink("frontend", "backend", 1, 1)]

    def test_dependencies_find_a_parent_written_after_its_children(
            self, store: Any, t0: int) -> None:
        spans = self._dependency_spans(t0)
        store.write(batch_of(*spans[1:5]))
        assert store.dependencies(t0 - HOUR_NS, t0 + HOUR_NS) == [DependencyLink("backend", "db", 1)]
        store.write(batch_of(spans[0]))
        assert store.dependencies(t0 - HOUR_NS, t0 + HOUR_NS) == [
            DependencyLink("backend", "db", 1), DependencyLink("frontend", "backend", 2)]

    # -- optional: rollups ----------------------------------------------------

    def test_red_rollup_counts_spans_per_minute_by_their_start(self, store: Any, t0: int) -> None:
        skip_unless_rollups(store)
        m0 = minute_of(t0)

        def api(start_ns: int, duration_ns: int, status: int = StatusCode.UNSET) -> SpanRecord:
            return make_span(int(start_ns), 1, start_ns=start_ns, service="api", name="GET /",
                             kind=SpanKind.SERVER, duration_ns=duration_ns, status_code=status)

        crossing = api(m0 + 59 * SECOND_NS, 3 * SECOND_NS)  # ends in the next minute
        same_minute = [api(m0 + n, n * 1_000_000, StatusCode.ERROR if n == 3 else StatusCode.OK)
                       for n in (1, 2, 3)]
        next_minute = api(m0 + MINUTE_NS, 5_000_000)
        store.write(batch_of(crossing, *same_minute[:2], next_minute))
        late = api(m0 - 2 * MINUTE_NS, 4_000_000)
        store.write(batch_of(same_minute[2], late))
        minute_durations = [1_000_000, 2_000_000, 3_000_000, 3 * SECOND_NS]
        assert store.red(m0 - 5 * MINUTE_NS, m0 + 5 * MINUTE_NS).rows() == [
            RedRow(m0 - 2 * MINUTE_NS, "api", "GET /", 1, 0, 4_000_000, sketch_of([4_000_000])),
            RedRow(m0, "api", "GET /", 4, 1, sum(minute_durations), sketch_of(minute_durations)),
            RedRow(m0 + MINUTE_NS, "api", "GET /", 1, 0, 5_000_000, sketch_of([5_000_000]))]
        assert store.red(m0, m0 + MINUTE_NS, by_operation=False).rows() == [
            RedRow(m0, "api", None, 4, 1, sum(minute_durations), sketch_of(minute_durations))]
        everything = [4_000_000, *minute_durations, 5_000_000]
        assert store.red(m0 - 2 * MINUTE_NS, m0 + 2 * MINUTE_NS, 4 * MINUTE_NS).rows() == [
            RedRow(m0 - 2 * MINUTE_NS, "api", "GET /", 6, 1, sum(everything), sketch_of(everything))]
        assert [(r.time_ns, r.calls) for r in store.red(m0 - 3 * MINUTE_NS, m0 + 3 * MINUTE_NS,
                                                        3 * MINUTE_NS).rows()] == [
            (m0 - 3 * MINUTE_NS, 1), (m0, 5)]

    def test_red_rollup_narrows_by_service_and_kind(self, store: Any, t0: int) -> None:
        skip_unless_rollups(store)
        m0 = minute_of(t0)
        store.write(batch_of(
            make_span(1, 1, start_ns=t0, service="a", name="x", kind=SpanKind.SERVER),
            make_span(1, 2, parent=1, start_ns=t0, service="a", name="y", kind=SpanKind.CLIENT),
            make_span(1, 3, parent=2, start_ns=t0, service="b", name="z", kind=SpanKind.SERVER)))

        def keys(**narrow: Any) -> list[tuple[str, str | None, int]]:
            return [(r.service, r.operation, r.calls)
                    for r in store.red(m0, m0 + MINUTE_NS, **narrow).rows()]

        assert keys() == [("a", "x", 1), ("a", "y", 1), ("b", "z", 1)]
        assert keys(by_operation=False) == [("a", None, 2), ("b", None, 1)]
        assert keys(services=["a"]) == [("a", "x", 1), ("a", "y", 1)]
        assert keys(span_kinds=[SpanKind.SERVER]) == [("a", "x", 1), ("b", "z", 1)]
        assert keys(services=["a"], span_kinds=[SpanKind.CLIENT, SpanKind.PRODUCER]) == [
            ("a", "y", 1)]
        assert keys(services=[]) == []
        assert keys(services=["nobody"]) == []

    def test_rollups_count_a_span_written_again_once(self, store: Any, t0: int) -> None:
        skip_unless_rollups(store)
        m0 = minute_of(t0)
        ms = 1_000_000
        late = m0 - 30 * MINUTE_NS
        spans = [make_span(1, 1, start_ns=m0 + SECOND_NS, service="web", name="GET /",
                           kind=SpanKind.SERVER, duration_ns=5 * ms),
                 make_span(1, 2, parent=1, start_ns=m0 + 2 * SECOND_NS, service="db",
                           name="query", kind=SpanKind.SERVER, duration_ns=2 * ms,
                           status_code=StatusCode.ERROR),
                 make_span(2, 1, start_ns=late, service="web", name="GET /",
                           kind=SpanKind.SERVER, duration_ns=3 * ms),
                 make_span(2, 2, parent=1, start_ns=late + 1, service="db", name="query",
                           kind=SpanKind.SERVER, duration_ns=4 * ms)]
        store.write(batch_of(*spans[:3]))
        store.write(batch_of(*spans[:3]))  # a retried write
        store.write(batch_of(*spans[1:]))  # overlapping an earlier write
        store.write(batch_of(spans[3], spans[3]))  # twice in one batch, after it was stored
        assert store.red(late - MINUTE_NS, m0 + MINUTE_NS, 32 * MINUTE_NS).rows() == [
            RedRow(late - MINUTE_NS, "db", "query", 2, 1, 6 * ms, sketch_of([2 * ms, 4 * ms])),
            RedRow(late - MINUTE_NS, "web", "GET /", 2, 0, 8 * ms, sketch_of([5 * ms, 3 * ms]))]
        assert store.edges(late, m0 + MINUTE_NS) == [
            EdgeRow("web", "db", 2, 1, sketch_of([2 * ms, 4 * ms]))]
        assert store.dependencies(late, m0 + MINUTE_NS) == [DependencyLink("web", "db", 2, 1)]

    def test_red_counts_both_halves_of_a_zipkin_shared_span(self, store: Any, t0: int) -> None:
        skip_unless_rollups(store)
        m0 = minute_of(t0)
        store.write(batch_of(*zipkin_shared_rpc(m0)))
        store.write(batch_of(*zipkin_shared_rpc(m0)))
        assert [(r.service, r.calls, r.errors) for r in store.red(
            m0, m0 + MINUTE_NS, by_operation=False).rows()] == [
            ("backend", 2, 1), ("db", 1, 0), ("frontend", 2, 0)]

    def test_edges_with_errors_and_callee_durations(self, store: Any, t0: int) -> None:
        skip_unless_rollups(store)
        m0 = minute_of(t0)
        store.write(batch_of(*zipkin_shared_rpc(m0)))
        later = [make_span(8, 1, start_ns=m0 + MINUTE_NS, service="frontend"),
                 make_span(8, 2, parent=1, start_ns=m0 + MINUTE_NS + 1, service="backend",
                           duration_ns=2_000_000)]
        store.write(batch_of(later[1]))
        assert store.edges(m0, m0 + 2 * MINUTE_NS) == [
            EdgeRow("backend", "db", 1, 0, sketch_of([1_000_000])),
            EdgeRow("frontend", "backend", 1, 1, sketch_of([7_000_000]))]
        store.write(batch_of(later[0]))  # the parent arrives after its child
        assert store.edges(m0, m0 + 2 * MINUTE_NS) == [
            EdgeRow("backend", "db", 1, 0, sketch_of([1_000_000])),
            EdgeRow("frontend", "backend", 2, 1, sketch_of([7_000_000, 2_000_000]))]
        assert store.edges(m0 + MINUTE_NS, m0 + 2 * MINUTE_NS) == [
            EdgeRow("frontend", "backend", 1, 0, sketch_of([2_000_000]))]

    # -- find_traces ----------------------------------------------------------

    def test_find_by_service_returns_whole_traces(self, store: Any, t0: int) -> None:
        mixed = [make_span(1, 1, start_ns=t0, service="frontend"),
                 make_span(1, 2, parent=1, start_ns=t0 + 1, service="backend"),
                 make_span(1, 3, parent=2, start_ns=t0 + 2 * HOUR_NS, service="backend")]
        store.write(batch_of(*mixed, make_span(2, 1, start_ns=t0, service="elsewhere")))
        found = store.find_traces(self.around(t0, service="backend"))
        assert trace_ids_of(found) == [trace_id(1)]
        assert sorted(found[0].rows(), key=_order_key) == mixed
        assert store.find_traces(self.around(t0, service="nobody")) == []

    def test_find_by_operation(self, store: Any, t0: int) -> None:
        store.write(batch_of(make_span(1, 1, start_ns=t0, service="a", name="checkout"),
                             make_span(2, 1, start_ns=t0, service="a", name="login"),
                             make_span(3, 1, start_ns=t0, service="b", name="checkout")))
        found = store.find_traces(self.around(t0, service="a", operation="checkout"))
        assert trace_ids_of(found) == [trace_id(1)]
        anywhere = store.find_traces(self.around(t0, operation="checkout"))
        assert set(trace_ids_of(anywhere)) == {trace_id(1), trace_id(3)}

    def test_find_by_span_kind(self, store: Any, t0: int) -> None:
        store.write(batch_of(make_span(1, 1, start_ns=t0, kind=SpanKind.SERVER),
                             make_span(2, 1, start_ns=t0, kind=SpanKind.CLIENT)))
        found = store.find_traces(self.around(t0, service="svc", span_kind=SpanKind.SERVER))
        assert trace_ids_of(found) == [trace_id(1)]

    def test_find_by_duration(self, store: Any, t0: int) -> None:
        for n, duration in enumerate([1_000, 4_500, 5_000, 5_500, 9_000], 1):
            store.write(batch_of(make_span(n, 1, start_ns=t0 + n, duration_ns=duration)))

        def durations(**bounds: int) -> set[int]:
            found = store.find_traces(self.around(t0, service="svc", **bounds))
            return {batch.duration_ns[0] for batch in found}

        assert durations(duration_min_ns=5_000) == {5_000, 5_500, 9_000}
        assert durations(duration_max_ns=5_000) == {1_000, 4_500, 5_000}
        assert durations(duration_min_ns=4_501, duration_max_ns=5_499) == {5_000}
        assert durations(duration_min_ns=4_500, duration_max_ns=5_500) == {4_500, 5_000, 5_500}

    def test_find_by_time_window(self, store: Any, t0: int) -> None:
        starts = {1: t0 - 1, 2: t0, 3: t0 + 5 * SECOND_NS, 4: t0 + 10 * SECOND_NS,
                  5: t0 + 10 * SECOND_NS + 1}
        store.write(batch_of(*(make_span(n, 1, start_ns=s) for n, s in starts.items())))
        found = store.find_traces(TraceQuery(start_min_ns=t0, start_max_ns=t0 + 10 * SECOND_NS,
                                             service="svc"))
        assert trace_ids_of(found) == [trace_id(4), trace_id(3), trace_id(2)]

    def test_find_returns_newest_first_by_latest_matching_span(self, store: Any, t0: int) -> None:
        store.write(batch_of(
            make_span(1, 1, start_ns=t0 + 10 * SECOND_NS, service="svc"),
            make_span(1, 2, start_ns=t0 + 50 * SECOND_NS, service="other"),  # does not match
            make_span(2, 1, start_ns=t0 + 20 * SECOND_NS, service="svc"),
            make_span(3, 1, start_ns=t0 + 5 * SECOND_NS, service="svc"),
            make_span(3, 2, start_ns=t0 + 30 * SECOND_NS, service="svc")))
        found = store.find_traces(self.around(t0, service="svc"))
        assert trace_ids_of(found) == [trace_id(3), trace_id(2), trace_id(1)]

    def test_find_respects_limit(self, store: Any, t0: int) -> None:
        for n in range(1, 8):
            store.write(batch_of(make_span(n, 1, start_ns=t0 + n * SECOND_NS)))
        assert trace_ids_of(store.find_traces(self.around(t0, service="svc", limit=3))) == [
            trace_id(7), trace_id(6), trace_id(5)]
        assert trace_ids_of(store.find_traces(self.around(t0, limit=1))) == [trace_id(7)]

    def test_find_returns_each_trace_once(self, store: Any, t0: int) -> None:
        store.write(batch_of(*(make_span(1, n, start_ns=t0 + n) for n in range(1, 30))))
        assert trace_ids_of(store.find_traces(self.around(t0, service="svc"))) == [trace_id(1)]

    def test_find_many_traces_returns_each_whole(self, store: Any, t0: int) -> None:
        # Analyses read hundreds of traces in one search; each still comes back whole, even
        # its spans that started before the window.
        store.write(batch_of(*(make_span(n, s, start_ns=t0 + n * SECOND_NS + (s - 2) * 60 * SECOND_NS,
                                         parent=1 if s > 1 else b"")
                               for n in range(1, 41) for s in (1, 2, 3))))
        found = store.find_traces(TraceQuery(start_min_ns=t0, start_max_ns=t0 + HOUR_NS, limit=100))
        assert trace_ids_of(found) == [trace_id(n) for n in range(40, 0, -1)]
        assert all([r.span_id for r in t.rows()] == [span_id(1), span_id(2), span_id(3)] for t in found)

    def test_find_holds_all_conditions_on_one_span(self, store: Any, t0: int) -> None:
        store.write(batch_of(
            # service on one span, tag on another
            make_span(1, 1, start_ns=t0, service="frontend"),
            make_span(1, 2, parent=1, start_ns=t0 + 1, service="backend", attributes={"k": "v"}),
            # operation on one span, duration on another
            make_span(2, 1, start_ns=t0, service="frontend", name="a", duration_ns=1_000),
            make_span(2, 2, parent=1, start_ns=t0 + 1, service="frontend", name="b",
                      duration_ns=9_000),
            # kind on one span, operation on another
            make_span(3, 1, start_ns=t0, service="frontend", name="c", kind=SpanKind.SERVER),
            make_span(3, 2, parent=1, start_ns=t0 + 1, service="frontend", name="d",
                      kind=SpanKind.CLIENT),
            # the matching span is outside the window, another one inside
            make_span(4, 1, start_ns=t0 - 2 * HOUR_NS, service="frontend", attributes={"k": "v"}),
            make_span(4, 2, parent=1, start_ns=t0, service="backend"),
            # two tags on two spans of one service
            make_span(5, 1, start_ns=t0, service="frontend", attributes={"k": "v"}),
            make_span(5, 2, parent=1, start_ns=t0 + 1, service="frontend", attributes={"j": "w"})))
        cases: list[tuple[dict[str, Any], list[bytes]]] = [
            ({"service": "frontend", "tags": {"k": "v"}}, [trace_id(5)]),
            ({"service": "frontend", "operation": "a", "duration_min_ns": 5_000}, []),
            ({"service": "frontend", "operation": "d", "span_kind": SpanKind.SERVER}, []),
            ({"service": "frontend", "tags": {"k": "v", "j": "w"}}, [])]
        for conditions, expected in cases:
            found = store.find_traces(self.around(t0, **conditions))
            assert trace_ids_of(found) == expected, conditions

    @pytest.mark.parametrize("tags, matches", [(tags, matches) for _, tags, matches in TAG_CASES],
                             ids=[case_id for case_id, _, _ in TAG_CASES])
    def test_find_by_tag(self, store: Any, t0: int, tags: dict[str, str],
                        matches: bool) -> None:
        store.write(batch_of(rich_tags_span(t0),
                             make_span(2, 1, start_ns=t0 + 1, service="tagged", name="plain")))
        found = store.find_traces(self.around(t0, service="tagged", tags=tags))
        assert trace_ids_of(found) == ([trace_id(1)] if matches else [])

    @pytest.mark.parametrize("patterns, tags, matches",
                             [(p, t, m) for _, p, t, m in PATTERN_CASES],
                             ids=[case_id for case_id, _, _, _ in PATTERN_CASES])
    def test_find_by_tag_pattern(self, store: Any, t0: int, patterns: list[tuple[str, str, str]],
                                 tags: dict[str, str], matches: bool) -> None:
        store.write(batch_of(rich_tags_span(t0),
                             make_span(2, 1, start_ns=t0 + 1, service="tagged", name="plain",
                                       attributes={"other": "node GET"})))
        found = store.find_traces(self.around(
            t0, service="tagged", tags=tags,
            tag_patterns=tuple(TagPattern(*p) for p in patterns)))
        assert trace_ids_of(found) == ([trace_id(1)] if matches else [])

    def test_find_by_tag_without_service(self, store: Any, t0: int) -> None:
        store.write(batch_of(rich_tags_span(t0), make_span(2, 1, start_ns=t0, service="plain")))
        found = store.find_traces(self.around(t0, tags={"retries": "123"}))
        assert trace_ids_of(found) == [trace_id(1)]

    # -- duplicates and concurrency ---------------------------------------

    def test_identical_spans_written_twice_are_returned_once(self, store: Any, t0: int) -> None:
        spans = [make_span(1, 1, start_ns=t0, attributes={"k": "v"}),
                 make_span(1, 2, parent=1, start_ns=t0 + 1, name="child")]
        store.write(batch_of(*spans))
        store.write(batch_of(*spans))
        store.write(batch_of(spans[1]))
        assert_same_spans(store.get_trace(trace_id(1)), spans)
        found = store.find_traces(self.around(t0, tags={"k": "v"}))
        assert len(found) == 1
        assert sorted(found[0].rows(), key=_order_key) == spans
        assert store.operations("svc") == [Operation("child", SpanKind.INTERNAL),
                                           Operation("op", SpanKind.INTERNAL)]

    def test_spans_differing_only_in_content_are_both_kept(self, store: Any, t0: int) -> None:
        first = make_span(1, 1, start_ns=t0, attributes={"attempt": 1})
        second = make_span(1, 1, start_ns=t0, attributes={"attempt": 2})
        store.write(batch_of(first))
        store.write(batch_of(second))
        assert_same_spans(store.get_trace(trace_id(1)), [first, second])

    def test_concurrent_writes_and_reads(self, store: Any, t0: int) -> None:
        threads_n, batches_n, spans_n = 8, 20, 25
        start = threading.Barrier(threads_n + 1)
        errors: list[Exception] = []
        writing = threading.Event()
        writing.set()

        def writer(w: int) -> None:
            try:
                start.wait()
                for b in range(batches_n):
                    tid = 1_000 + w * batches_n + b
                    store.write(batch_of(
                        *(make_span(tid, s, start_ns=t0 + s, service=f"writer-{w}")
                          for s in range(1, spans_n + 1)),
                        make_span(1, w * batches_n + b + 1, start_ns=t0 + b, service="shared")))
            except Exception as exc:  # surfaced by the assertion below
                errors.append(exc)

        def reader() -> None:
            try:
                start.wait()
                while writing.is_set():
                    store.find_traces(self.around(t0, service="shared", limit=5))
                    store.get_trace(trace_id(1))
                    store.services()
            except Exception as exc:
                errors.append(exc)

        workers = [threading.Thread(target=writer, args=(w,)) for w in range(threads_n)]
        watcher = threading.Thread(target=reader)
        for thread in [*workers, watcher]:
            thread.start()
        for thread in workers:
            thread.join()
        writing.clear()
        watcher.join()
        assert errors == []
        assert len(store.get_trace(trace_id(1))) == threads_n * batches_n
        for w in range(threads_n):
            for b in range(batches_n):
                assert len(store.get_trace(trace_id(1_000 + w * batches_n + b))) == spans_n
        assert store.services() == sorted(["shared", *(f"writer-{w}" for w in range(threads_n))])

    # -- optional: retention and persistence --------------------------------

    def test_retention_deletes_spans_started_before(self, store: Any, t0: int) -> None:
        skip_unless_retention(store)
        old = make_span(1, 1, start_ns=t0 - 1, service="old")
        kept = make_span(2, 1, start_ns=t0, service="kept")
        partial = [make_span(3, 1, start_ns=t0 - SECOND_NS),
                   make_span(3, 2, parent=1, start_ns=t0 + 1)]
        store.write(batch_of(old, kept, *partial))
        assert store.delete_before(t0) == 2
        assert len(store.get_trace(trace_id(1))) == 0
        assert_same_spans(store.get_trace(trace_id(2)), [kept])
        assert_same_spans(store.get_trace(trace_id(3)), partial[1:])
        assert store.find_traces(self.around(t0, service="old")) == []
        assert store.delete_before(t0) == 0

    def test_retention_forgets_services_with_no_spans_left(self, store: Any, t0: int) -> None:
        skip_unless_retention(store)
        store.write(batch_of(make_span(1, 1, start_ns=t0 - 1, service="old", name="gone"),
                             make_span(2, 1, start_ns=t0, service="kept", name="stays"),
                             make_span(3, 1, start_ns=t0 - 1, service="kept", name="gone")))
        store.delete_before(t0)
        assert store.services() == ["kept"]
        assert store.operations("old") == []
        assert store.operations("kept") == [Operation("stays", SpanKind.INTERNAL)]

    def test_data_survives_reopen(self, store: Any, reopen: Callable[[Any], Any] | None,
                                 t0: int) -> None:
        if reopen is None:
            pytest.skip("backend is not durable (no `reopen` fixture)")
        spans = [rich_tags_span(t0), make_span(1, 2, parent=1, start_ns=t0 + 7, service="child")]
        store.write(batch_of(*spans))
        reopened = reopen(store)
        assert_same_spans(reopened.get_trace(trace_id(1)), spans)
        assert reopened.services() == ["child", "tagged"]
        found = reopened.find_traces(self.around(t0, service="tagged", tags={"retries": "123"}))
        assert trace_ids_of(found) == [trace_id(1)]
        assert reopened.dependencies(t0 - HOUR_NS, t0 + HOUR_NS) == [
            DependencyLink("tagged", "child", 1)]
        if isinstance(reopened, Rollups):
            minute = minute_of(t0)
            assert [r.calls for r in reopened.red(minute, minute + MINUTE_NS).rows()] == [1, 1]
            assert [e.calls for e in reopened.edges(minute, minute + MINUTE_NS)] == [1]
