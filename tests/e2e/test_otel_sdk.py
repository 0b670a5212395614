"""The official OpenTelemetry SDK exporters talk to a real `traceway serve`."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

PROPAGATOR = TraceContextTextMapPropagator()


def _tracer(service: str, exporter):
    provider = TracerProvider(resource=Resource.create({"service.name": service,
                                                        "deployment.environment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, provider.get_tracer("e2e-test", "1.0")


@pytest.fixture
def three_services(traceway_server):
    """frontend (OTLP/HTTP) -> checkout (OTLP/gRPC) -> payment (Zipkin JSON)."""
    return [
        _tracer("frontend", HttpExporter(endpoint=traceway_server.otlp_http_url + "/v1/traces")),
        _tracer("checkout", GrpcExporter(endpoint=traceway_server.otlp_grpc_address, insecure=True)),
        _tracer("payment", ZipkinExporter(endpoint=traceway_server.zipkin_url)),
    ]


def _send_checkout(three_services) -> tuple[str, dict[str, tuple[int, int]]]:
    (p1, frontend), (p2, checkout), (p3, payment) = three_services
    recorded = {}
    with frontend.start_as_current_span("GET /checkout", kind=SpanKind.SERVER) as root:
        root.set_attribute("http.route", "/checkout")
        with frontend.start_as_current_span("POST checkout", kind=SpanKind.CLIENT) as call:
            headers: dict[str, str] = {}
            PROPAGATOR.inject(headers)
        # ---- the checkout service receives the request ----
        ctx = PROPAGATOR.extract(headers)
        with checkout.start_as_current_span("POST /orders", context=ctx, kind=SpanKind.SERVER) as orders:
            orders.set_attribute("order.id", 4242)
            with checkout.start_as_current_span("POST payment", kind=SpanKind.CLIENT) as pay_call:
                headers2: dict[str, str] = {}
                PROPAGATOR.inject(headers2)
            # ---- the payment service receives the request and fails ----
            ctx2 = PROPAGATOR.extract(headers2)
            with payment.start_as_current_span("POST /charge", context=ctx2, kind=SpanKind.SERVER,
                                               record_exception=False,
                                               set_status_on_exception=False) as charge:
                charge.record_exception(RuntimeError("card declined"))
                charge.set_status(Status(StatusCode.ERROR, "card declined"))
    for span in (root, call, orders, pay_call, charge):
        recorded[format(span.get_span_context().span_id, "016x")] = (
            span.start_time // 1000, (span.end_time - span.start_time) // 1000)
    for provider, _ in three_services:
        provider.force_flush()
    return format(root.get_span_context().trace_id, "032x"), recorded


def test_trace_across_three_services_and_protocols_comes_back_whole(traceway_server, three_services):
    trace_id, recorded = _send_checkout(three_services)
    traceway_server.wait_for_trace(trace_id, len(recorded))
    trace = traceway_server.api(f"/api/traces/{trace_id.upper()}")["data"][0]
    spans = {s["spanID"]: s for s in trace["spans"]}
    assert set(spans) == set(recorded)
    by_name = {s["operationName"]: s for s in trace["spans"]}
    service_of = {s["spanID"]: trace["processes"][s["processID"]]["serviceName"] for s in trace["spans"]}

    def parent(name):
        refs = [r for r in by_name[name]["references"] if r["refType"] == "CHILD_OF"]
        return refs[0]["spanID"] if refs else None

    assert parent("GET /checkout") is None
    assert parent("POST checkout") == by_name["GET /checkout"]["spanID"]
    assert parent("POST /orders") == by_name["POST checkout"]["spanID"]
    assert parent("POST payment") == by_name["POST /orders"]["spanID"]
    assert parent("POST /charge") == by_name["POST payment"]["spanID"]
    assert service_of[by_name["POST /orders"]["spanID"]] == "checkout"
    assert service_of[by_name["POST /charge"]["spanID"]] == "payment"

    def tag(name, key):
        return {t["key"]: t["value"] for t in by_name[name]["tags"]}.get(key)

    assert tag("GET /checkout", "span.kind") == "server"
    assert tag("POST checkout", "span.kind") == "client"
    assert tag("POST /charge", "span.kind") == "server"
    assert tag("POST /charge", "error") is True
    assert tag("POST /orders", "error") is None
    assert tag("POST /orders", "order.id") == 4242
    # Zipkin carries microseconds as floats in the SDK: allow 1 µs of rounding.
    for span_id, (start_us, duration_us) in recorded.items():
        assert abs(spans[span_id]["startTime"] - start_us) <= 1
        assert abs(spans[span_id]["duration"] - duration_us) <= 1


def test_search_and_dependencies_see_the_sent_trace(traceway_server, three_services):
    trace_id, recorded = _send_checkout(three_services)
    traceway_server.wait_for_trace(trace_id, len(recorded))
    api = traceway_server.api
    assert {"frontend", "checkout", "payment"} <= set(api("/api/services")["data"])
    found = api("/api/traces?service=payment&tags=%7B%22error%22%3A%22true%22%7D")["data"]
    assert [t["traceID"] for t in found] == [trace_id]
    found = api("/api/traces?service=checkout&tag=order.id:4242&operation=POST%20/orders")["data"]
    assert [t["traceID"] for t in found] == [trace_id]
    assert api("/api/traces?service=checkout&tag=order.id:4243")["data"] == []
    links = {(d["parent"], d["child"]): d["callCount"] for d in api("/api/dependencies")["data"]}
    assert links == {("frontend", "checkout"): 1, ("checkout", "payment"): 1}
