"""SpanBatch -> Jaeger UI JSON: golden files, Jaeger's own expected output, and the rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from goldens import EXPECTED, SHARED_OTLP, check_golden, own_otlp_inputs, shared_otlp_inputs, zipkin_inputs
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.convert.jaeger_json import trace_to_jaeger_json
from traceway.convert.otlp import spans_from_otlp_json
from traceway.convert.zipkin import spans_from_zipkin_json
from traceway.model import SpanBatch, SpanRecord

OTLP_INPUTS = own_otlp_inputs() + shared_otlp_inputs()


def _traces(batch: SpanBatch) -> list[dict[str, Any]]:
    return [trace_to_jaeger_json(trace) for trace in batch.split_by_trace()]


@pytest.mark.parametrize("path", OTLP_INPUTS, ids=lambda p: p.stem)
def test_jaeger_json_from_otlp_golden(path: Path) -> None:
    batch = spans_from_otlp_json(path.read_bytes()).batch
    check_golden(EXPECTED / "jaeger-json" / f"otlp-{path.stem}.json", _traces(batch))


@pytest.mark.parametrize("path", zipkin_inputs(), ids=lambda p: p.stem)
def test_jaeger_json_from_zipkin_golden(path: Path) -> None:
    batch = spans_from_zipkin_json(path.read_bytes()).batch
    check_golden(EXPECTED / "jaeger-json" / f"zipkin-{path.stem}.json", _traces(batch))


def test_matches_jaeger_query_output_for_its_own_fixture() -> None:
    """Jaeger's otlp2jaeger-out.json for otlp2jaeger-in.json (its jaegerquery fixture)."""
    path = SHARED_OTLP / "jaeger-otlp2jaeger-in.json"
    if not path.exists():
        pytest.skip("shared fixtures are not next to the repository")
    span = {
        "traceID": "83a9efd15c1c98a977e0711cc93ee28b",
        "spanID": "e127af99e3b3e074",
        "operationName": "okey-dokey-0",
        "references": [{"refType": "CHILD_OF", "traceID": "83a9efd15c1c98a977e0711cc93ee28b",
                        "spanID": "909541b92cf05311"}],
        "startTime": 1706678909209712,
        "duration": 123,
        "tags": [
            {"key": "otel.scope.name", "type": "string", "value": "telemetrygen"},
            {"key": "net.peer.ip", "type": "string", "value": "1.2.3.4"},
            {"key": "peer.service", "type": "string", "value": "telemetrygen-client"},
            {"key": "span.kind", "type": "string", "value": "server"},
        ],
        "logs": [],
        "processID": "p1",
        "warnings": None,
    }
    expected = {"traceID": "83a9efd15c1c98a977e0711cc93ee28b", "spans": [span, span],
                "processes": {"p1": {"serviceName": "telemetrygen", "tags": []}},
                "warnings": None}
    assert _traces(spans_from_otlp_json(path.read_bytes()).batch) == [expected]


# The rules, on small hand-made spans.

TRACE = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")


def _record(span_id: int, *, start_ns: int = 1_000_000_000, duration_ns: int = 2_500_999,
            parent: int = 0, kind: int = 2, status: int = 0, message: str = "",
            detail: Span | None = None, service: str = "svc",
            resource: Resource | None = None, scope: InstrumentationScope | None = None,
            ) -> SpanRecord:
    return SpanRecord(
        trace_id=TRACE, span_id=span_id.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        service=service, name=f"op{span_id}", kind=kind, start_ns=start_ns,
        duration_ns=duration_ns, status_code=status, status_message=message,
        detail=(detail or Span()).SerializeToString(),
        resource=(resource or Resource(attributes=[_kv("service.name", string_value=service)])
                  ).SerializeToString(),
        scope=(scope or InstrumentationScope()).SerializeToString())


def _kv(key: str, **value: Any) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(**value))


def _one(record: SpanRecord) -> dict[str, Any]:
    return trace_to_jaeger_json(SpanBatch.from_rows([record]))["spans"][0]


def test_times_are_floored_microseconds() -> None:
    span = _one(_record(1, start_ns=1_000_000_999, duration_ns=2_500_999))
    assert (span["startTime"], span["duration"]) == (1_000_000, 2_500)


def test_tag_order_and_derived_tags() -> None:
    detail = Span(trace_state="k=v", dropped_attributes_count=2, dropped_links_count=1,
                  attributes=[_kv("http.status_code", int_value=503),
                              _kv("big", int_value=2**53 + 1), _kv("ok", bool_value=True),
                              _kv("ratio", double_value=0.5), _kv("raw", bytes_value=b"hi"),
                              _kv("list", array_value={"values": [{"int_value": 1}]})])
    span = _one(_record(1, kind=3, status=2, message="boom", detail=detail,
                        scope=InstrumentationScope(name="lib", version="1.0")))
    assert span["tags"] == [
        {"key": "otel.scope.name", "type": "string", "value": "lib"},
        {"key": "otel.scope.version", "type": "string", "value": "1.0"},
        {"key": "http.status_code", "type": "int64", "value": 503},
        {"key": "big", "type": "int64", "value": "9007199254740993"},
        {"key": "ok", "type": "bool", "value": True},
        {"key": "ratio", "type": "float64", "value": 0.5},
        {"key": "raw", "type": "binary", "value": "aGk="},
        {"key": "list", "type": "string", "value": "[1]"},
        {"key": "span.kind", "type": "string", "value": "client"},
        {"key": "otel.status_code", "type": "string", "value": "ERROR"},
        {"key": "error", "type": "bool", "value": True},
        {"key": "otel.status_description", "type": "string", "value": "boom"},
        {"key": "w3c.tracestate", "type": "string", "value": "k=v"},
        {"key": "otel.dropped_attributes_count", "type": "int64", "value": 2},
        {"key": "otel.dropped_links_count", "type": "int64", "value": 1},
    ]


def test_unset_status_and_unspecified_kind_add_no_tags() -> None:
    span = _one(_record(1, kind=0, status=0))
    assert span["tags"] == [] and span["references"] == [] and span["logs"] == []
    assert "flags" not in span and span["warnings"] is None
    assert _one(_record(1, status=1))["tags"][-1] == {
        "key": "otel.status_code", "type": "string", "value": "OK"}


def test_events_become_logs() -> None:
    detail = Span(events=[
        Span.Event(time_unix_nano=1_000_001_999, name="exception",
                   attributes=[_kv("exception.type", string_value="E")]),
        Span.Event(time_unix_nano=5_000, name=""),
        Span.Event(time_unix_nano=6_000, name="x", attributes=[_kv("event", string_value="y")]),
    ])
    assert _one(_record(1, detail=detail))["logs"] == [
        {"timestamp": 1_000_001, "fields": [
            {"key": "event", "type": "string", "value": "exception"},
            {"key": "exception.type", "type": "string", "value": "E"}]},
        {"timestamp": 5, "fields": []},
        {"timestamp": 6, "fields": [{"key": "event", "type": "string", "value": "y"}]},
    ]


def test_parent_and_links_become_references() -> None:
    other = bytes.fromhex("5b8efff798038103d269b633813fc60c")
    detail = Span(links=[Span.Link(trace_id=other, span_id=(7).to_bytes(8, "big")),
                         Span.Link(trace_id=TRACE, span_id=(9).to_bytes(8, "big"),
                                   attributes=[_kv("opentracing.ref_type",
                                                   string_value="child_of")])])
    assert _one(_record(1, parent=3, detail=detail))["references"] == [
        {"refType": "CHILD_OF", "traceID": TRACE.hex(), "spanID": "0000000000000003"},
        {"refType": "FOLLOWS_FROM", "traceID": other.hex(), "spanID": "0000000000000007"},
        {"refType": "CHILD_OF", "traceID": TRACE.hex(), "spanID": "0000000000000009"},
    ]
    # A link to the parent itself sets the parent reference's type.
    to_parent = Span(links=[Span.Link(trace_id=TRACE, span_id=(3).to_bytes(8, "big"))])
    assert _one(_record(1, parent=3, detail=to_parent))["references"] == [
        {"refType": "FOLLOWS_FROM", "traceID": TRACE.hex(), "spanID": "0000000000000003"}]


def test_processes_spans_order_warnings_and_flags() -> None:
    pod_a = Resource(attributes=[_kv("service.name", string_value="api"),
                                 _kv("pod", string_value="a"), _kv("cpus", int_value=4)])
    pod_b = Resource(attributes=[_kv("service.name", string_value="api"),
                                 _kv("pod", string_value="b")])
    warned = Span(flags=0x301, attributes=[
        _kv("@jaeger@warnings", array_value={"values": [{"string_value": "clock skew"}]}),
        _kv("kept", string_value="yes")])
    batch = SpanBatch.from_rows([
        _record(1, start_ns=300, service="api", resource=pod_a),
        _record(2, start_ns=100, service="api", resource=pod_b, detail=warned),
        _record(3, start_ns=200, service="db"),
        _record(4, start_ns=300, service="api", resource=pod_a),
    ])
    trace = trace_to_jaeger_json(batch)
    assert trace["traceID"] == TRACE.hex() and trace["warnings"] is None
    assert [(s["spanID"][-1], s["processID"]) for s in trace["spans"]] == [
        ("2", "p1"), ("3", "p2"), ("1", "p3"), ("4", "p3")]
    assert trace["processes"] == {
        "p1": {"serviceName": "api", "tags": [{"key": "pod", "type": "string", "value": "b"}]},
        "p2": {"serviceName": "db", "tags": []},
        "p3": {"serviceName": "api", "tags": [{"key": "pod", "type": "string", "value": "a"},
                                              {"key": "cpus", "type": "int64", "value": 4}]},
    }
    first = trace["spans"][0]
    assert first["warnings"] == ["clock skew"]
    assert first["tags"] == [{"key": "kept", "type": "string", "value": "yes"},
                             {"key": "span.kind", "type": "string", "value": "server"}]
    assert first["flags"] == 1
    assert list(first) == ["traceID", "spanID", "flags", "operationName", "references",
                           "startTime", "duration", "tags", "logs", "processID", "warnings"]


def test_output_is_plain_json() -> None:
    batch = spans_from_otlp_json(own_otlp_inputs()[0].read_bytes()).batch
    for trace in _traces(batch):
        assert json.loads(json.dumps(trace, allow_nan=False)) == trace


def test_empty_batch() -> None:
    assert trace_to_jaeger_json(SpanBatch()) == {
        "traceID": "", "spans": [], "processes": {}, "warnings": None}
