"""Spans -> Zipkin v2 JSON (convert/zipkin_json.py): golden files plus the rules spelled out."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from goldens import EXPECTED, GOLDEN, check_golden, own_otlp_inputs, shared_otlp_inputs, zipkin_inputs

from traceway.convert.otlp import spans_from_otlp_json
from traceway.convert.zipkin import spans_from_zipkin_json
from traceway.convert.zipkin_json import trace_to_zipkin_json
from traceway.model import SpanKind, StatusCode
from traceway.storage.testspans import batch_of, make_span

OTLP_INPUTS = own_otlp_inputs() + shared_otlp_inputs()


def _traces_json(body: bytes, decode: Any) -> list[list[dict[str, Any]]]:
    batch = decode(body).batch
    return [trace_to_zipkin_json(trace) for trace in batch.split_by_trace()]


@pytest.mark.parametrize("path", zipkin_inputs(), ids=lambda p: p.stem)
def test_zipkin_spans_back_to_zipkin_json_golden(path: Path) -> None:
    check_golden(EXPECTED / "zipkin-json" / f"from-zipkin-{path.stem}.json",
                 _traces_json(path.read_bytes(), spans_from_zipkin_json))


@pytest.mark.parametrize("path", OTLP_INPUTS, ids=lambda p: p.stem)
def test_otlp_spans_to_zipkin_json_golden(path: Path) -> None:
    check_golden(EXPECTED / "zipkin-json" / f"from-otlp-{path.stem}.json",
                 _traces_json(path.read_bytes(), spans_from_otlp_json))


def _as_zipkin_stores_it(span: dict[str, Any]) -> dict[str, Any]:
    """What Zipkin itself returns for a span it was sent: canonical IP text."""
    span = json.loads(json.dumps(span))
    for field in ("localEndpoint", "remoteEndpoint"):
        for version in ("ipv4", "ipv6"):
            if version in span.get(field, {}):
                span[field][version] = str(ipaddress.ip_address(span[field][version]))
    return span


def test_zipkin_spans_come_back_as_they_were_sent() -> None:
    sent = json.loads((GOLDEN / "zipkin" / "frontend-backend.json").read_text())
    (trace,) = _traces_json(json.dumps(sent).encode(), spans_from_zipkin_json)
    key = lambda s: (s["id"], s.get("kind", ""))  # noqa: E731
    assert sorted(trace, key=key) == sorted(map(_as_zipkin_stores_it, sent), key=key)
    shared = [s for s in trace if s.get("shared")]
    assert [(s["kind"], s["id"]) for s in shared] == [("SERVER", "352bff9a74ca9ad2")]


@pytest.mark.parametrize("trace_id", ["5af7183fb1d4cf5f", "463ac35c9f6413ad48485a3953bb6124"])
def test_trace_id_keeps_the_width_it_was_sent_with(trace_id: str) -> None:
    sent = [{"traceId": trace_id, "id": "0000000000000001", "name": "x",
             "timestamp": 1700000000000000, "duration": 5,
             "localEndpoint": {"serviceName": "a"}}]
    (trace,) = _traces_json(json.dumps(sent).encode(), spans_from_zipkin_json)
    assert trace == sent


def test_error_text_sent_as_a_zipkin_tag_comes_back() -> None:
    sent = [{"traceId": "0000000000000abc", "id": "0000000000000001", "kind": "SERVER",
             "timestamp": 1700000000000000, "duration": 5, "localEndpoint": {"serviceName": "a"},
             "tags": {"error": "timeout after 3s"}}]
    (trace,) = _traces_json(json.dumps(sent).encode(), spans_from_zipkin_json)
    assert trace[0]["tags"] == {"error": "timeout after 3s"}


def test_otlp_span_maps_like_the_collectors_zipkin_exporter() -> None:
    span = make_span(0xF00D, 7, parent=3, start_ns=1_700_000_000_123_456_789, duration_ns=1_500,
                     service="checkout", name="POST /pay", kind=SpanKind.CLIENT,
                     status_code=StatusCode.ERROR, status_message="declined",
                     attributes={"peer.service": "payment", "net.peer.ip": "10.0.0.7",
                                 "net.peer.port": 8443, "http.status_code": 402,
                                 "error": False},
                     events=[("retry", {"attempt": 2}), ("sent", {})],
                     resource={"host.name": "node-1"}, scope_name="io.otel.http",
                     scope_version="1.2")
    (out,) = trace_to_zipkin_json(batch_of(span))
    assert out == {
        "traceId": "000000000000f00d", "parentId": "0000000000000003", "id": "0000000000000007",
        "kind": "CLIENT", "name": "POST /pay", "timestamp": 1_700_000_000_123_456,
        "duration": 1,
        "localEndpoint": {"serviceName": "checkout"},
        "remoteEndpoint": {"serviceName": "payment", "ipv4": "10.0.0.7", "port": 8443},
        "annotations": [{"timestamp": 1_700_000_000_123_456, "value": 'retry|{"attempt":2}|0'},
                        {"timestamp": 1_700_000_000_123_456, "value": "sent"}],
        "tags": {"error": "true", "host.name": "node-1", "http.status_code": "402",
                 "otel.scope.name": "io.otel.http", "otel.scope.version": "1.2",
                 "otel.status_code": "ERROR", "otel.status_description": "declined"},
    }


def test_newer_semantic_conventions_fill_the_remote_endpoint() -> None:
    span = make_span(1, 2, start_ns=1_700_000_000_000_000_000, kind=SpanKind.CLIENT,
                     attributes={"server.address": "db.internal", "server.port": 5432,
                                 "network.peer.address": "2001:db8::5"})
    (out,) = trace_to_zipkin_json(batch_of(span))
    assert out["remoteEndpoint"] == {"serviceName": "db.internal", "ipv6": "2001:db8::5",
                                     "port": 5432}
    unset_internal = make_span(1, 3, start_ns=1_700_000_000_000_000_000, kind=SpanKind.INTERNAL)
    (out,) = trace_to_zipkin_json(batch_of(unset_internal))
    assert out["tags"] == {"span.kind": "internal"} and "remoteEndpoint" not in out
