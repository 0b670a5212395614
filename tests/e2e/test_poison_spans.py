"""One bad span never stops the server (issue 8, bug 1).

Spans whose kind or status code the store cannot hold are refused at ingest
with OTLP's partial_success while their siblings are stored; a spool left with
such spans (or with records that do not decode at all) is replayed with those
set aside in <data dir>/quarantine/, and the server starts.
"""

from __future__ import annotations

import json
import os
import struct
import zlib

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from traceway.pipeline.spool import Spool
from traceway.storage.testspans import batch_of, make_span
from traceway.testing import ServerProcess

T0 = 1_700_000_000_000_000_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process = ServerProcess(tmp_path_factory.mktemp("poison") / "data").start()
    yield process
    process.stop()


def _json_span(trace_id: str, span_id: str, **fields) -> dict:
    return {"traceId": trace_id, "spanId": span_id, "name": "op",
            "startTimeUnixNano": str(T0), "endTimeUnixNano": str(T0 + 1000), **fields}


def _otlp_json(*spans: dict) -> dict:
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "poison-svc"}}]},
        "scopeSpans": [{"spans": list(spans)}]}]}


def test_out_of_range_enums_are_refused_and_siblings_stored(server):
    trace_id = os.urandom(16).hex()
    document = _otlp_json(
        _json_span(trace_id, "0000000000000001", kind=300),
        _json_span(trace_id, "0000000000000002", kind=-1),
        _json_span(trace_id, "0000000000000003", status={"code": 7}),
        _json_span(trace_id, "0000000000000004", kind=2),
    )
    answer = httpx.post(server.otlp_http_url + "/v1/traces", json=document)
    assert answer.status_code == 200
    partial = answer.json()["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 3
    assert "kind must be 0..5, got 300" in partial["errorMessage"]
    trace = server.wait_for_trace(trace_id)
    assert [s["spanID"] for s in trace["spans"]] == ["0000000000000004"]
    # The write path is not wedged: later requests are stored too.
    later = os.urandom(16).hex()
    assert httpx.post(server.otlp_http_url + "/v1/traces",
                      json=_otlp_json(_json_span(later, "0000000000000001"))).status_code == 200
    server.wait_for_trace(later)
    assert server.process.poll() is None


def test_grpc_negative_kind_is_partial_success(server):
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    trace_id = os.urandom(16)
    for n, kind in ((1, -1), (2, 3)):
        spans.add(trace_id=trace_id, span_id=n.to_bytes(8, "big"), name="rpc", kind=kind,
                  start_time_unix_nano=T0, end_time_unix_nano=T0 + 5)
    with grpc.insecure_channel(server.otlp_grpc_address) as channel:
        export = channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=ExportTraceServiceRequest.SerializeToString,
            response_deserializer=ExportTraceServiceResponse.FromString)
        answer = export(request, timeout=10)
    assert answer.partial_success.rejected_spans == 1
    assert "got -1" in answer.partial_success.error_message
    trace = server.wait_for_trace(trace_id.hex())
    assert [s["spanID"] for s in trace["spans"]] == ["0000000000000002"]


def test_zipkin_kind_outside_the_enum_is_stored_as_unspecified(server):
    trace_id = os.urandom(16).hex()
    spans = [{"traceId": trace_id, "id": "00000000000000aa", "name": "get", "kind": 300,
              "timestamp": T0 // 1000, "duration": 5, "localEndpoint": {"serviceName": "z"}}]
    assert httpx.post(server.zipkin_url, json=spans).status_code == 202
    assert server.wait_for_trace(trace_id)["spans"][0]["operationName"] == "get"


def _leave_spool(directory, batches, raw_records=()) -> None:
    """What a killed server leaves: fsynced spool records nobody stored yet."""
    spool = Spool(directory)
    spool.start()
    for batch in batches:
        spool.append(batch, lambda segment: 1).result(10)
    spool.close()
    (segment,) = directory.glob("segment-*.spool")
    with open(segment, "ab") as out:
        for raw in raw_records:
            out.write(struct.pack("<II", len(raw), zlib.crc32(raw)) + raw)


def test_a_poisoned_spool_is_replayed_around_the_poison(tmp_path):
    data = tmp_path / "data"
    good = make_span(0xA1, 1, start_ns=T0, service="survivor")
    poison = make_span(0xB2, 2, start_ns=T0, service="poisoned", kind=300)
    wrong_status = make_span(0xC3, 3, start_ns=T0, status_code=256)
    neighbour = make_span(0xA1, 4, start_ns=T0 + 10, service="survivor")
    _leave_spool(data / "spool", [batch_of(good), batch_of(poison, neighbour, wrong_status)],
                 raw_records=[b"not a pickle"])
    server = ServerProcess(data).start()  # before the fix: exits 1 (OverflowError)
    try:
        trace = server.wait_for_trace(good.trace_id.hex(), min_spans=2)
        assert sorted(s["spanID"] for s in trace["spans"]) == [good.span_id.hex(),
                                                               neighbour.span_id.hex()]
        assert server.api(f"/api/traces?traceID={poison.trace_id.hex()}")["data"] == []
        lines = (data / "quarantine" / "spans.jsonl").read_text().splitlines()
        quarantined = {json.loads(line)["trace_id"]: json.loads(line) for line in lines}
        assert set(quarantined) == {poison.trace_id.hex(), wrong_status.trace_id.hex()}
        assert quarantined[poison.trace_id.hex()]["kind"] == 300
        assert quarantined[poison.trace_id.hex()]["service"] == "poisoned"
        (record,) = (data / "quarantine").glob("record-*.bin")
        assert record.read_bytes() == b"not a pickle"
        metrics = httpx.get(server.ui_url + "/metrics").text
        assert 'traceway_spans_quarantined_total{reason="store_rejected"} 2.0' in metrics
        assert "traceway_spool_records_quarantined_total 1.0" in metrics
        assert poison.trace_id.hex() in server.log_path.read_text()
        assert not list((data / "spool").glob("segment-*.spool"))[:-1]  # replayed, not kept
    finally:
        assert server.stop() == 0
