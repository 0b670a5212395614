"""The critical path against Jaeger UI's own test cases (testCases/test1..9) and more."""

from __future__ import annotations

import pytest
from hand_traces import TRACES, US, s

from traceway.analysis.critical_path import critical_path
from traceway.storage.testspans import batch_of, span_id


def path(batch):  # type: ignore[no-untyped-def]
    return [(seg.span_id[-1], seg.start_ns // US, seg.end_ns // US) for seg in critical_path(batch)]


def test_jaeger_test1_sequential_children_with_gaps():
    assert path(TRACES["sequential"]()) == [(1, 1, 20), (2, 20, 40), (1, 40, 50), (3, 50, 60),
                                           (1, 60, 101)]


def test_jaeger_test2_a_child_overlapped_by_a_later_finishing_sibling_is_not_on_the_path():
    assert path(TRACES["overlapping"]()) == [(1, 1, 20), (3, 20, 60), (1, 60, 101)]


def test_jaeger_test3_and_test9_a_child_wholly_outside_its_parent_is_dropped():
    after = batch_of(s(1, 0, 100, 40), s(2, 1, 150, 60))
    before = batch_of(s(1, 0, 10, 20), s(2, 1, 1, 4))
    assert path(after) == [(1, 100, 140)]
    assert path(before) == [(1, 10, 30)]


def test_jaeger_test4_a_dropped_child_takes_its_descendants_along():
    assert path(TRACES["child_after_parent"]()) == [(1, 1, 31)]


def test_jaeger_test5_a_follows_from_child_is_not_waited_for():
    parent = s(1, 0, 1, 30)
    child = s(2, 1, 10, 10, links=[{}])
    # make_span links to trace 0xABC; point the link at the parent to make it FOLLOWS_FROM.
    from opentelemetry.proto.trace.v1.trace_pb2 import Span
    detail = Span.FromString(child.detail)
    detail.links[0].trace_id, detail.links[0].span_id = child.trace_id, span_id(1)
    from dataclasses import replace
    follows = replace(child, detail=detail.SerializeToString())
    assert path(batch_of(parent, follows)) == [(1, 1, 31)]
    detail.links[0].attributes.add(key="opentracing.ref_type").value.string_value = "child_of"
    child_of = replace(child, detail=detail.SerializeToString())
    assert path(batch_of(parent, child_of)) == [(1, 1, 10), (2, 10, 20), (1, 20, 31)]


def test_jaeger_test6_children_outliving_their_parent_are_clipped():
    assert path(TRACES["child_outlives_parent"]()) == [(1, 1, 15), (3, 15, 25), (2, 25, 30)]


def test_jaeger_test7_a_chain_clipped_at_the_root():
    batch = batch_of(s(1, 0, 1, 29), s(2, 1, 15, 20), s(3, 2, 20, 20))
    assert path(batch) == [(1, 1, 15), (2, 15, 20), (3, 20, 30)]


def test_jaeger_test8_a_child_covering_its_parent_takes_all_of_it():
    assert path(batch_of(s(1, 0, 10, 20), s(2, 1, 5, 30))) == [(2, 10, 30)]


def test_sequential_children_that_touch_are_both_on_the_path():
    # Jaeger (strict "ended before") would give 10..50 to the parent instead of span 2.
    assert path(TRACES["touching"]()) == [(1, 0, 10), (2, 10, 50), (3, 50, 90), (1, 90, 100)]


def test_a_consumer_under_a_producer_is_not_waited_for():
    assert path(TRACES["producer_consumer"]()) == [(1, 0, 10), (2, 10, 20), (1, 20, 100)]


def test_several_roots_and_orphans_each_get_their_path():
    assert path(TRACES["several_roots"]()) == [(1, 0, 10), (2, 10, 30), (1, 30, 50),
                                              (10, 60, 70), (11, 70, 90), (10, 90, 100)]
    # In time order, so the orphan's path interleaves with the root's.
    assert path(TRACES["missing_parent"]()) == [(1, 0, 10), (2, 10, 40), (5, 20, 30),
                                               (6, 30, 50), (1, 40, 100), (5, 50, 80)]


@pytest.mark.parametrize("name", sorted(TRACES))
def test_segments_of_each_top_span_cover_it_exactly(name):
    from traceway.analysis.tree import TraceTree
    batch = TRACES[name]()
    segments = critical_path(batch)
    tree = TraceTree.of(batch)
    tops = tree.tops()
    covered = sorted((seg.start_ns, seg.end_ns) for seg in segments)
    total = sum(end - start for start, end in covered)
    assert total == sum(top.duration_ns for top in tops)
    assert all(seg.start_ns < seg.end_ns for seg in segments)
    if len(tops) == 1:
        assert covered[0][0] == tops[0].start_ns and covered[-1][1] == tops[0].end_ns
        assert all(a[1] == b[0] for a, b in zip(covered, covered[1:]))


def test_zero_duration_children_and_wide_fan_out_finish():
    children = [s(n, 1, 10 + n % 50, 0 if n % 3 else 5) for n in range(2, 5000)]
    segments = critical_path(batch_of(s(1, 0, 0, 100), *children))
    assert sum(seg.end_ns - seg.start_ns for seg in segments) == 100 * US


def test_an_empty_trace_has_no_path():
    assert critical_path(batch_of()) == []
