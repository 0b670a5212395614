"""Zipkin JSON as a real producer writes it: OpenTelemetry Python's Zipkin v2 encoder."""

from __future__ import annotations

import pytest

pytest.importorskip("opentelemetry.exporter.zipkin.json")

from goldens import batch_to_json
from opentelemetry.exporter.zipkin.json.v2 import JsonV2Encoder
from opentelemetry.exporter.zipkin.node_endpoint import NodeEndpoint
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from traceway.convert.zipkin import spans_from_zipkin_json


def test_otel_python_zipkin_v2_json_is_ingested(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "shop")  # NodeEndpoint reads the default resource
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}),
                              span_limits=SpanLimits(max_span_attributes=3))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("shop.http", "0.9")
    with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER) as server:
        server.set_attribute("http.status_code", 502)
        with tracer.start_as_current_span("call payments", kind=SpanKind.CLIENT) as client:
            client.add_event("retry", {"attempt": 2})
            client.set_status(Status(StatusCode.ERROR, "payments down"))
            for i in range(5):
                client.set_attribute(f"a{i}", i)
    spans = exporter.get_finished_spans()
    body = JsonV2Encoder().serialize(spans, NodeEndpoint(port=8080)).encode()

    decoded = spans_from_zipkin_json(body)
    assert decoded.rejected == 0
    by_name = {s["name"]: s for s in batch_to_json(decoded.batch)}
    client_json, server_json = by_name["call payments"], by_name["GET /cart"]
    client_ctx = next(s for s in spans if s.name == "call payments").get_span_context()
    assert client_json["traceId"] == f"{client_ctx.trace_id:032x}"
    assert client_json["spanId"] == f"{client_ctx.span_id:016x}"
    assert client_json["parentSpanId"] == server_json["spanId"]
    assert (client_json["service"], client_json["kind"], server_json["kind"]) == ("shop", 3, 2)
    assert (client_json["statusCode"], client_json["statusMessage"]) == (2, "payments down")
    assert client_json["scope"] == {"name": "shop.http", "version": "0.9"}
    assert client_json["detail"]["droppedAttributesCount"] == 2
    assert client_json["detail"]["events"][0]["name"] == '{"retry": {"attempt": 2}}'
    attributes = {a["key"]: a["value"] for a in server_json["detail"]["attributes"]}
    assert attributes["http.status_code"] == {"stringValue": "502"}
    assert attributes["net.host.port"] == {"intValue": "8080"}
    assert server_json["durationNs"] % 1000 == 0
