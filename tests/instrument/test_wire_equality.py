"""Our encoder and the stock OTLP encoder put the same message on the wire."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as stock_encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as StockOTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, TraceState

from traceway.instrument import OTLPSpanExporter, SpanEncoder
from traceway.instrument.testing import InMemorySpanExporter


def _varied_spans():
    memory = InMemorySpanExporter()
    providers = [
        TracerProvider(resource=Resource.create({"service.name": "a", "k8s.pod.uid": "123"}, schema_url="https://opentelemetry.io/schemas/1.21.0")),
        TracerProvider(resource=Resource.create({"service.name": "b", "weights": [1.5, 2.5]})),
    ]
    for p in providers:
        p.add_span_processor(SimpleSpanProcessor(memory))
    for n, provider in enumerate(providers):
        plain = provider.get_tracer("plain")
        scoped = provider.get_tracer("scoped", "2.1", schema_url="https://example.com/s", attributes={"scope.attr": True})
        remote = trace.SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=trace.TraceFlags(1), trace_state=TraceState([("vendor", "x")]))
        with plain.start_as_current_span(
            f"root-{n}", kind=SpanKind.SERVER,
            attributes={"s": "é unicode", "i": -42, "big": 2**62, "f": 0.25, "b": False, "bytes": b"\x00\x01",
                        "strs": ["a", "b"], "ints": [1, -2], "empty": "", "long": "x" * 300},
        ) as root:
            root.add_event("cache miss", {"key": "user:1", "ms": 3})
            root.add_event("no attributes")
            with scoped.start_as_current_span("child", kind=SpanKind.CLIENT, links=[Link(remote, {"why": "fan-in"})]) as child:
                child.set_status(Status(StatusCode.OK))
            try:
                raise ValueError("boom")
            except ValueError as exc:
                root.record_exception(exc)
                root.set_status(Status(StatusCode.ERROR, "boom"))
        with plain.start_as_current_span("from-remote", context=trace.set_span_in_context(trace.NonRecordingSpan(remote))):
            pass
        for kind in SpanKind:
            with scoped.start_as_current_span(f"kind-{kind.name}", kind=kind):
                pass
    return memory.get_finished_spans()


def test_encoder_output_equals_stock_message():
    spans = _varied_spans()
    ours = ExportTraceServiceRequest.FromString(SpanEncoder().encode(spans))
    assert ours == stock_encode_spans(spans)
    # caches warm on the second call and must not change the result
    encoder = SpanEncoder()
    encoder.encode(spans)
    assert ExportTraceServiceRequest.FromString(encoder.encode(spans)) == stock_encode_spans(spans)


def test_exporters_send_equal_requests_over_http(sink):
    spans = _varied_spans()
    StockOTLPSpanExporter(endpoint=f"{sink.endpoint}/v1/traces").export(spans)
    OTLPSpanExporter.for_protocol("http/protobuf", sink.endpoint).export(spans)
    stock, ours = sink.requests
    assert stock == ours
    assert sink.span_count == 2 * len(spans)


class PublicOnly:
    """A ReadableSpan look-alike without the SDK's private fields (other SDKs, wrappers)."""

    FIELDS = ("context", "parent", "name", "kind", "start_time", "end_time", "attributes", "events", "links",
              "status", "dropped_attributes", "dropped_events", "dropped_links", "resource", "instrumentation_scope")

    def __init__(self, span):
        for name in self.FIELDS:
            setattr(self, name, getattr(span, name))

    def get_span_context(self):
        return self.context


def test_spans_without_sdk_internals_encode_the_same():
    spans = _varied_spans()
    ours = ExportTraceServiceRequest.FromString(SpanEncoder().encode([PublicOnly(s) for s in spans]))
    assert ours == stock_encode_spans(spans)
