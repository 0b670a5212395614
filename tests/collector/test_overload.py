"""Receivers answer 429 + Retry-After (HTTP) or UNAVAILABLE (gRPC) when the write queue is full."""

from __future__ import annotations

from starlette.testclient import TestClient

from traceway.collector.ingest import Ingest
from traceway.collector.otlp_http import otlp_http_app
from traceway.collector.zipkin_http import zipkin_http_app
from traceway.convert.otlp import spans_from_otlp_proto
from traceway.pipeline.batcher import WriteQueue
from traceway.sample import sample_request
from traceway.storage.memory import GatedMemoryStore
from traceway.telemetry import Telemetry


def test_full_queue_answers_429_with_retry_after_and_counts_the_drop():
    store, telemetry = GatedMemoryStore(), Telemetry()
    queue = WriteQueue(store, telemetry, max_bytes=1)
    ingest = Ingest(queue, telemetry)
    body = sample_request(2, seed=1).SerializeToString()
    queue.submit(spans_from_otlp_proto(body).batch)  # fills the queue: the store is stuck
    with TestClient(otlp_http_app(ingest)) as client:
        answer = client.post("/v1/traces", content=body,
                             headers={"Content-Type": "application/x-protobuf"})
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) > 0
    with TestClient(zipkin_http_app(ingest)) as client:
        answer = client.post("/api/v2/spans", json=[{
            "traceId": "00000000000000a1", "id": "00000000000000b2", "name": "x",
            "timestamp": 1, "duration": 1, "localEndpoint": {"serviceName": "z"}}])
    assert answer.status_code == 429
    metrics = telemetry.render().decode()
    assert 'traceway_spans_dropped_total{protocol="otlp_http_protobuf",reason="queue_full"}' in metrics
    store.gate.set()
    queue.close()


async def test_full_queue_answers_grpc_unavailable():
    import grpc
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse,
    )

    from traceway.collector.otlp_grpc import otlp_grpc_server
    from traceway.testing import free_port

    store, telemetry = GatedMemoryStore(), Telemetry()
    queue = WriteQueue(store, telemetry, max_bytes=1)
    request = sample_request(2, seed=2)
    queue.submit(spans_from_otlp_proto(request.SerializeToString()).batch)
    address = f"127.0.0.1:{free_port()}"
    server = otlp_grpc_server(Ingest(queue, telemetry), address)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            export = channel.unary_unary(
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=ExportTraceServiceResponse.FromString)
            try:
                await export(request, timeout=10)
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE
                assert "retry" in exc.details()
            else:
                raise AssertionError("a full queue must refuse the export")
    finally:
        store.gate.set()
        await server.stop(None)
        queue.close()
