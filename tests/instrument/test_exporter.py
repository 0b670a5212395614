from __future__ import annotations

from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

from traceway.instrument import OTLPSpanExporter
from traceway.instrument.exporter import traces_url
from traceway.instrument.testing import InMemorySpanExporter
from traceway.instrument.transport import GRPC_METHOD


def _spans(n=3):
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for i in range(n):
        with provider.get_tracer("t").start_as_current_span(f"s{i}"):
            pass
    return memory.get_finished_spans()


def test_traces_url():
    assert traces_url("http://127.0.0.1:4318") == "http://127.0.0.1:4318/v1/traces"
    assert traces_url("http://127.0.0.1:4318/") == "http://127.0.0.1:4318/v1/traces"
    assert traces_url("http://collector/custom/path") == "http://collector/custom/path"


def test_retries_503_honouring_retry_after(sink):
    sink.statuses = [503, 429]
    sink.retry_after = "0"
    exporter = OTLPSpanExporter.for_protocol("http/protobuf", sink.endpoint)
    assert exporter.export(_spans()) is SpanExportResult.SUCCESS
    assert exporter.retries == 2
    assert sink.span_count == 3


def test_gives_up_on_permanent_error(sink):
    sink.statuses = [400]
    exporter = OTLPSpanExporter.for_protocol("http/protobuf", sink.endpoint)
    assert exporter.export(_spans()) is SpanExportResult.FAILURE
    assert exporter.retries == 0


def test_gzip(sink):
    exporter = OTLPSpanExporter.for_protocol("http/protobuf", sink.endpoint, compression="gzip")
    assert exporter.export(_spans(5)) is SpanExportResult.SUCCESS
    assert sink.span_count == 5


def test_grpc_transport():
    received: list[bytes] = []

    def export(request: bytes, context: grpc.ServicerContext) -> bytes:
        received.append(request)
        return b""

    handler = grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.trace.v1.TraceService",
        {"Export": grpc.unary_unary_rpc_method_handler(export)},
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        exporter = OTLPSpanExporter.for_protocol("grpc", f"http://127.0.0.1:{port}")
        assert exporter.export(_spans(4)) is SpanExportResult.SUCCESS
        exporter.shutdown()
    finally:
        server.stop(None)
    (body,) = received
    request = ExportTraceServiceRequest.FromString(body)
    assert sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans) == 4
    assert GRPC_METHOD.endswith("/Export")
