"""Error origins, statistics, comparison and clock skew on hand-built traces."""

from __future__ import annotations

from hand_traces import STACK, TRACES, US, s

from traceway.analysis.clock_skew import adjust_clock_skew, clock_skew, may_be_skewed
from traceway.analysis.compare import compare_shapes, trace_shape, typical_shape
from traceway.analysis.error_origin import error_origins
from traceway.analysis.statistics import self_time_ns, trace_statistics
from traceway.model import StatusCode
from traceway.storage.testspans import batch_of, span_id


def ids(spans):  # type: ignore[no-untyped-def]
    return [x[-1] for x in spans]


def test_the_innermost_span_in_error_is_the_origin_and_its_ancestors_inherit():
    analysis = error_origins(TRACES["error_chain"]())
    assert [o.span.span_id[-1] for o in analysis.origins] == [8, 6]
    authorize = analysis.origins[1]
    assert ids(authorize.inherited_by) == [5, 3, 2, 1]
    (error,) = authorize.exceptions
    assert (error.type, error.message) == ("AcquirerTimeoutError", "acquirer did not answer")
    assert error.stacktrace == STACK and "\n" in error.stacktrace
    # A handled exception (status OK) is not an error; a span not in error stops the climb.
    assert analysis.origins[0].inherited_by == []
    assert {k[-1]: ids(v) for k, v in analysis.inherited.items()} == {5: [6], 3: [6], 2: [6], 1: [6]}


def test_a_5xx_answer_points_at_the_callee_and_several_failures_are_several_origins():
    batch = batch_of(
        s(1, 0, 0, 100, status_code=StatusCode.ERROR),
        s(2, 1, 10, 20, status_code=StatusCode.ERROR, kind=3),  # client: HTTP 503
        s(3, 2, 12, 15, status_code=StatusCode.ERROR, kind=2, service="payment"),
        s(4, 1, 40, 20, status_code=StatusCode.ERROR, kind=3),  # the retry: 503 again
        s(5, 4, 42, 15, status_code=StatusCode.ERROR, kind=2, service="payment"))
    analysis = error_origins(batch)
    assert [o.span.span_id[-1] for o in analysis.origins] == [3, 5]
    assert ids(analysis.inherited[span_id(1)]) == [3, 5]


def test_no_errors_no_origins():
    analysis = error_origins(TRACES["sequential"]())
    assert analysis.origins == [] and analysis.inherited == {}


def test_self_time_counts_overlapping_children_once_and_clips_them():
    assert self_time_ns(0, 100, [(10, 50), (20, 60), (90, 120)]) == 100 - 50 - 10
    assert self_time_ns(0, 100, []) == 100
    assert self_time_ns(10, 20, [(0, 30)]) == 0


def test_statistics_per_service_and_operation():
    stats = trace_statistics(TRACES["several_roots"]())
    assert stats.duration_ns == 100 * US
    by_service = {g.service: g for g in stats.services}
    assert by_service["a"].self_total_ns == 30 * US and by_service["a"].count == 1
    c = by_service["c"]
    assert (c.count, c.total_ns, c.min_ns, c.max_ns) == (2, 60 * US, 20 * US, 40 * US)
    assert c.self_total_ns == 40 * US and (c.self_min_ns, c.self_max_ns) == (20 * US, 20 * US)
    assert [g.service for g in stats.services] == ["c", "a", "b"]
    assert {(g.service, g.operation) for g in stats.operations} == {
        ("a", "op-1"), ("b", "op-2"), ("c", "op-10"), ("c", "op-11")}


def test_compare_two_traces_as_trees_of_service_and_operation():
    a = batch_of(s(1, 0, 0, 100, name="root"), s(2, 1, 10, 20, name="db"),
                 s(3, 1, 40, 30, name="db"), s(4, 1, 80, 10, name="cache"))
    b = batch_of(s(1, 0, 0, 200, name="root", trace=2), s(2, 1, 10, 100, name="db", trace=2),
                 s(5, 2, 20, 10, name="lock", trace=2))
    rows = compare_shapes(trace_shape(a), trace_shape(b))
    table = [(tuple(op for _, op in r.path), r.status,
              r.a and (r.a.count, r.a.duration_ns // US), r.b and (r.b.count, r.b.duration_ns // US))
             for r in rows]
    assert table == [
        (("root",), "both", (1, 100), (1, 200)),
        (("root", "db"), "both", (2, 25), (1, 100)),
        (("root", "db", "lock"), "onlyB", None, (1, 10)),
        (("root", "cache"), "onlyA", (1, 10), None),
    ]


def test_the_typical_shape_is_the_median_of_several():
    def trace(n, db_calls, db_us, retry):  # type: ignore[no-untyped-def]
        spans = [s(1, 0, 0, 100, name="root", trace=n)]
        spans += [s(2 + i, 1, 10 + i, db_us, name="db", trace=n) for i in range(db_calls)]
        if retry:
            spans.append(s(50, 1, 60, 5, name="retry", trace=n))
        return trace_shape(batch_of(*spans))

    typical = typical_shape([trace(1, 1, 10, False), trace(2, 2, 30, True), trace(3, 1, 20, False)])
    root, db = ("svc", "root"), ("svc", "db")
    assert list(typical) == [(root,), (root, db)]  # retry is in one trace of three: not typical
    assert typical[(root, db)].count == 1 and typical[(root, db)].duration_ns == 20 * US
    assert typical_shape([]) == {}


def test_clock_skew_is_detected_and_undone_on_request():
    batch = TRACES["skewed"]()
    assert may_be_skewed(batch)
    found = clock_skew(batch)
    # Centred in its parent: (100 - 60) / 2 = 20 after the parent's start 100, so +50.
    assert [(a.span_id[-1], a.delta_ns // US, a.host, a.measured_at[-1]) for a in found] == [
        (2, 50, "b", 2), (3, 50, "b", 2)]
    adjusted, shifts = adjust_clock_skew(batch)
    assert shifts == found
    starts = {r.span_id[-1]: r.start_ns // US for r in adjusted.rows()}
    assert starts == {1: 100, 2: 120, 3: 130, 4: 150}
    from opentelemetry.proto.trace.v1.trace_pb2 import Span
    server = next(r for r in adjusted.rows() if r.span_id[-1] == 2)
    assert Span.FromString(server.detail).events[0].time_unix_nano == (70 + 50) * US + 1


def test_no_skew_within_one_host_or_when_children_fit():
    assert not may_be_skewed(TRACES["sequential"]())
    assert clock_skew(TRACES["child_outlives_parent"]()) == []  # one host: not skew
    consumer_late = TRACES["producer_consumer"]()  # ends after its producer: async, not skew
    assert clock_skew(consumer_late) == []
