"""Bad requests get clear errors; the server stays up and keeps earlier data."""

from __future__ import annotations

import gzip
import json
import os

import grpc
import httpx
import pytest
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from traceway.sample import sample_request
from traceway.testing import ServerProcess

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process = ServerProcess(tmp_path_factory.mktemp("bad-input") / "data").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def stored_trace(server):
    """A trace accepted before the bad requests; it must survive all of them."""
    request = sample_request(1, seed=7)
    trace_id = request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    answer = httpx.post(server.otlp_http_url + "/v1/traces", content=request.SerializeToString(),
                        headers=PROTOBUF)
    assert answer.status_code == 200
    return trace_id, len(server.wait_for_trace(trace_id, len(sample_spans(request)))["spans"])


@pytest.fixture(autouse=True)
def earlier_data_intact(server, stored_trace):
    yield
    trace_id, spans = stored_trace
    assert len(server.api(f"/api/traces/{trace_id}")["data"][0]["spans"]) == spans
    assert server.process.poll() is None


def sample_spans(request) -> list:
    return [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]


def _otlp_json(trace_id: str, span_id: str = "0102030405060708") -> dict:
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "json-svc"}}]},
        "scopeSpans": [{"spans": [{"traceId": trace_id, "spanId": span_id, "name": "op",
                                   "kind": 2, "startTimeUnixNano": "1700000000000000000",
                                   "endTimeUnixNano": 1700000000500000000}]}]}]}


def test_malformed_protobuf_is_400_with_status(server):
    answer = httpx.post(server.otlp_http_url + "/v1/traces", content=b"\xff\xff\xff garbage",
                        headers=PROTOBUF)
    assert answer.status_code == 400
    status = status_pb2.Status.FromString(answer.content)
    assert status.code == code_pb2.INVALID_ARGUMENT and "OTLP" in status.message


def test_malformed_json_is_400_with_message(server):
    answer = httpx.post(server.otlp_http_url + "/v1/traces", content=b'{"resourceSpans": [',
                        headers=JSON)
    assert answer.status_code == 400
    assert "JSON" in answer.json()["message"]


def test_unsupported_content_type_is_415(server):
    answer = httpx.post(server.otlp_http_url + "/v1/traces", content=b"hello",
                        headers={"Content-Type": "text/csv"})
    assert answer.status_code == 415
    assert "text/csv" in answer.json()["message"]


def test_body_over_64_mib_is_413(server):
    answer = httpx.post(server.otlp_http_url + "/v1/traces", content=b"\0" * (65 << 20),
                        headers=PROTOBUF)
    assert answer.status_code == 413


def test_gzip_bomb_is_413_without_inflating_it(server):
    bomb = gzip.compress(b"\0" * (100 << 20), compresslevel=9)
    assert len(bomb) < 200_000
    answer = httpx.post(server.otlp_http_url + "/v1/traces", content=bomb,
                        headers={**PROTOBUF, "Content-Encoding": "gzip"})
    assert answer.status_code == 413
    assert "decompressed" in status_pb2.Status.FromString(answer.content).message


def test_corrupt_gzip_is_400(server):
    answer = httpx.post(server.otlp_http_url + "/v1/traces", content=b"\x1f\x8bnot gzip",
                        headers={**JSON, "Content-Encoding": "gzip"})
    assert answer.status_code == 400


def test_gzip_json_with_a_bad_trace_id_keeps_the_valid_span(server):
    good = "5B8EFFF798038103D269B633813FC60C"  # upper case is valid hex
    document = _otlp_json(good)
    bad_span = _otlp_json("abcd")["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    document["resourceSpans"][0]["scopeSpans"][0]["spans"].append(bad_span)
    answer = httpx.post(server.otlp_http_url + "/v1/traces",
                        content=gzip.compress(json.dumps(document).encode()),
                        headers={**JSON, "Content-Encoding": "gzip"})
    assert answer.status_code == 200
    partial = answer.json()["partialSuccess"]
    assert partial["rejectedSpans"] in (1, "1")
    assert "trace id" in partial["errorMessage"]
    trace = server.wait_for_trace(good.lower())
    assert [s["operationName"] for s in trace["spans"]] == ["op"]
    assert trace["spans"][0]["duration"] == 500_000


def test_protobuf_partial_success_answers_in_protobuf(server):
    request = sample_request(1, seed=3)
    request.resource_spans[0].scope_spans[0].spans[0].trace_id = b"short"
    answer = httpx.post(server.otlp_http_url + "/v1/traces", content=request.SerializeToString(),
                        headers=PROTOBUF)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-protobuf"
    assert ExportTraceServiceResponse.FromString(answer.content).partial_success.rejected_spans == 1


def test_grpc_malformed_message_is_invalid_argument(server):
    with grpc.insecure_channel(server.otlp_grpc_address) as channel:
        export = channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=lambda raw: raw,
            response_deserializer=ExportTraceServiceResponse.FromString)
        with pytest.raises(grpc.RpcError) as failure:
            export(b"\xff\xff\xff garbage", timeout=10)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_grpc_gzip_export_is_accepted(server):
    request = sample_request(1, seed=11)
    trace_id = request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    with grpc.insecure_channel(server.otlp_grpc_address,
                               compression=grpc.Compression.Gzip) as channel:
        export = channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=ExportTraceServiceResponse.FromString)
        export(request, timeout=10)
    assert server.wait_for_trace(trace_id)["traceID"] == trace_id


def test_zipkin_malformed_json_is_400_and_valid_is_202(server):
    answer = httpx.post(server.zipkin_url, content=b"[{", headers=JSON)
    assert answer.status_code == 400
    trace_id = os.urandom(8).hex()
    spans = [{"traceId": trace_id, "id": "00000000000000aa", "name": "get",
              "timestamp": 1_700_000_000_000_000, "duration": 1500, "kind": "SERVER",
              "localEndpoint": {"serviceName": "zipkin-svc"}}]
    answer = httpx.post(server.zipkin_url, content=gzip.compress(json.dumps(spans).encode()),
                        headers={**JSON, "Content-Encoding": "gzip"})
    assert answer.status_code == 202
    trace = server.wait_for_trace(trace_id)
    assert trace["spans"][0]["duration"] == 1500


@pytest.mark.parametrize("path", [
    "/api/traces?service=x&minDuration=fast",
    "/api/traces?service=x&start=yesterday",
    "/api/traces?service=x&tags=not-json",
    "/api/traces?service=x&tag=novalue",
    "/api/traces/xyz",
    "/api/operations?service=x&spanKind=sideways",
])
def test_bad_query_parameters_are_400_with_reason(server, path):
    answer = httpx.get(server.ui_url + path)
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert errors and errors[0]["code"] == 400 and errors[0]["msg"]


def test_unknown_trace_is_404(server):
    answer = httpx.get(server.ui_url + "/api/traces/" + "ab" * 16)
    assert answer.status_code == 404
    assert answer.json()["errors"][0]["msg"] == "trace not found"


def test_span_times_beyond_int64_are_rejected_not_crashing(server):
    document = _otlp_json("6b" * 16)
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["endTimeUnixNano"] = \
        "18446744073709551615"
    answer = httpx.post(server.otlp_http_url + "/v1/traces", json=document)
    assert answer.status_code == 200
    assert answer.json()["partialSuccess"]["rejectedSpans"] in (1, "1")


def test_metrics_count_what_happened(server):
    text = httpx.get(server.ui_url + "/metrics").text
    values = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
              for line in text.splitlines() if line and not line.startswith("#")}
    assert values['traceway_spans_accepted_total{protocol="otlp_http_protobuf"}'] > 0
    assert values['traceway_spans_rejected_total{protocol="otlp_http_json"}'] >= 1
    assert values["traceway_write_batch_spans_count"] > 0
    assert values["traceway_write_duration_seconds_count"] > 0
    assert values["traceway_queue_spans"] == 0
    assert values["traceway_store_size_bytes"] > 0
