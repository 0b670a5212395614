"""Each policy type on small hand-made traces."""

from __future__ import annotations

import pytest

from traceway.model import SpanBatch, StatusCode
from traceway.pipeline.sampling.policies import TraceView, build_policy, decide, gather
from traceway.pipeline.sampling.settings import parse_policy
from traceway.storage.testspans import batch_of, make_span

BASE = 1_700_000_000_000_000_000


def view(*records, tid: bytes | None = None) -> TraceView:
    batch = batch_of(*records)
    return TraceView.of(tid or batch.trace_id[0], [(batch, list(range(len(batch))))])


def policy(**table):
    return build_policy(parse_policy({"name": "p", **table}, ("policy", 0)))


def trace(status=StatusCode.UNSET, duration_ms=10, service="svc", attributes=None,
          resource=None, spans=2, trace_no=1):
    root = make_span(trace_no, 1, start_ns=BASE, duration_ns=duration_ms * 1_000_000,
                     service=service, name="GET /", attributes=attributes, resource=resource)
    children = [make_span(trace_no, 2 + i, start_ns=BASE + 1000, parent=1, status_code=status,
                          service=service) for i in range(spans - 1)]
    return view(root, *children)


def test_always_sample_and_status_code():
    assert policy(type="always_sample").keeps(trace(), 0)
    errors = policy(type="status_code", status_codes=["ERROR"])
    assert errors.keeps(trace(status=StatusCode.ERROR), 0)
    assert not errors.keeps(trace(status=StatusCode.OK), 0)


def test_latency_fixed_threshold_and_upper_bound():
    slow = policy(type="latency", threshold="500ms")
    assert slow.keeps(trace(duration_ms=600), 0)
    assert not slow.keeps(trace(duration_ms=400), 0)
    band = policy(type="latency", threshold_ms=100, upper_threshold="1s")
    assert band.keeps(trace(duration_ms=200), 0) and not band.keeps(trace(duration_ms=2000), 0)


def test_latency_learns_the_per_operation_p99():
    learned = policy(type="latency", learn_percentile=99, learn_min_traces=100)
    for i in range(1000):
        learned.keeps(trace(duration_ms=10 + i % 10), 0)
    assert learned.keeps(trace(duration_ms=50), 0)
    assert not learned.keeps(trace(duration_ms=12), 0)


def test_probabilistic_is_decided_by_trace_id_alone():
    half = policy(type="probabilistic", percent=50)
    low = view(make_span(b"\xff" * 8 + b"\x00" * 8, 1, start_ns=BASE))
    high = view(make_span(b"\x00" * 8 + b"\xff" * 8, 1, start_ns=BASE))
    assert half.keeps(low, 0) and not half.keeps(high, 0)
    again = policy(type="probabilistic", percent=50)
    assert again.keeps(low, 0) == half.keeps(low, 0)


def test_rate_limiting_is_per_service():
    limit = policy(type="rate_limiting", spans_per_second=10)
    assert [limit.keeps(trace(spans=4, service="a"), 0.0) for _ in range(3)] == [True, True, False]
    assert limit.keeps(trace(spans=4, service="b"), 0.0)
    assert limit.keeps(trace(spans=4, service="a"), 1.0), "the bucket refills"


def test_string_attribute_on_span_and_resource_with_regex_and_invert():
    by_value = policy(type="string_attribute", key="http.route", values=["/checkout"])
    assert by_value.keeps(trace(attributes={"http.route": "/checkout"}), 0)
    assert not by_value.keeps(trace(attributes={"http.route": "/health"}), 0)
    resource = policy(type="string_attribute", key="deployment.environment", values=["prod.*"],
                      enabled_regex_matching=True)
    assert resource.keeps(trace(resource={"deployment.environment": "production"}), 0)
    inverted = policy(type="string_attribute", key="http.route", values=["/health"],
                      invert_match=True)
    assert not inverted.keeps(trace(attributes={"http.route": "/health"}), 0)


def test_numeric_attribute_range():
    p = policy(type="numeric_attribute", key="http.status_code", min_value=500, max_value=599)
    assert p.keeps(trace(attributes={"http.status_code": 503}), 0)
    assert not p.keeps(trace(attributes={"http.status_code": 200}), 0)


def test_span_count_and_and():
    assert policy(type="span_count", min_spans=3).keeps(trace(spans=3), 0)
    assert not policy(type="span_count", min_spans=3, max_spans=4).keeps(trace(spans=5), 0)
    both = policy(type="and", and_sub_policy=[
        {"name": "errors", "type": "status_code", "status_codes": ["ERROR"]},
        {"name": "big", "type": "span_count", "min_spans": 3}])
    assert both.keeps(trace(status=StatusCode.ERROR, spans=3), 0)
    assert not both.keeps(trace(status=StatusCode.ERROR, spans=2), 0)


def test_composite_shares_a_rate_budget():
    composite = policy(type="composite", max_total_spans_per_second=10,
                       policy_order=["errors", "all"],
                       rate_allocation=[{"policy": "errors", "percent": 80},
                                        {"policy": "all", "percent": 20}],
                       composite_sub_policy=[
                           {"name": "errors", "type": "status_code", "status_codes": ["ERROR"]},
                           {"name": "all", "type": "always_sample"}])
    kept = [composite.keeps(trace(spans=2), 0.0) for _ in range(3)]
    assert kept == [True, False, False], "'all' has 20% of 10 spans/s"
    errors = [composite.keeps(trace(spans=2, status=StatusCode.ERROR), 0.0) for _ in range(5)]
    assert errors == [True, True, True, True, False]


def test_decide_names_the_first_policy_that_keeps():
    policies = [policy(type="status_code", status_codes=["ERROR"]),
                build_policy(parse_policy({"name": "big", "type": "span_count", "min_spans": 2},
                                          ()))]
    assert decide(policies, trace(spans=2), 0) == "big"
    assert decide(policies, trace(spans=1), 0) is None


@pytest.mark.parametrize("spans", [1, 3])
def test_view_of_several_chunks(spans):
    a = batch_of(make_span(1, 1, start_ns=BASE, duration_ns=5))
    b = batch_of(*[make_span(1, 2 + i, start_ns=BASE + 100, parent=1, duration_ns=50)
                   for i in range(spans)])
    v = TraceView.of(a.trace_id[0], [(b, list(range(spans))), (a, [0])])
    assert v.duration_ns == 150
    assert v.root == ("svc", "op")
    assert isinstance(SpanBatch.concat([a, b]), SpanBatch)


def test_gather_tags_each_span_with_its_chunks_suffix_whole_batches_or_not():
    a = batch_of(*[make_span(1 + i % 2, 1 + i, start_ns=BASE + i) for i in range(4)])
    b = batch_of(*[make_span(3, 10 + i, start_ns=BASE) for i in range(3)])
    # Every span of a (traces 1 and 2, interleaved), two of b's three.
    chunks = [(a, [0, 2]), (b, [2, 0]), (a, [1, 3])]
    out = gather(chunks, [b"-x", b"-y", b"-z"])
    tagged = {(sid, detail) for sid, detail in zip(out.span_id, out.detail)}
    expected = {(batch.span_id[i], batch.detail[i] + suffix)
                for (batch, idx), suffix in zip(chunks, [b"-x", b"-y", b"-z"]) for i in idx}
    assert tagged == expected and len(out) == 6
    assert out.trace_id == [a.trace_id[i] for i in range(4)] + [b.trace_id[2], b.trace_id[0]]
    assert gather(chunks).detail[:4] == a.detail
