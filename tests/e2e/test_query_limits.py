"""Large search limits: a real server answers every limit up to the maximum, 400 beyond it."""

from __future__ import annotations

import time

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from traceway.query.params import MAX_LIMIT
from traceway.testing import ServerProcess

TRACES = 2_000
SPANS_PER_TRACE = 20
PROTOBUF = {"Content-Type": "application/x-protobuf"}


def _request(first_trace: int, traces: int, now_ns: int) -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(
        KeyValue(key="service.name", value=AnyValue(string_value="many")))
    spans = resource_spans.scope_spans.add().spans
    for t in range(first_trace, first_trace + traces):
        start = now_ns - (TRACES - t) * 1_000_000
        for s in range(1, SPANS_PER_TRACE + 1):
            spans.add(trace_id=(t + 1).to_bytes(16, "big"), span_id=s.to_bytes(8, "big"),
                      parent_span_id=(s - 1).to_bytes(8, "big") if s > 1 else b"",
                      name=f"op-{s % 5}", kind=2, start_time_unix_nano=start + s * 1000,
                      end_time_unix_nano=start + s * 1000 + 500_000,
                      attributes=[KeyValue(key="http.route",
                                           value=AnyValue(string_value=f"/items/{t}/{s}" * 4))])
    return request.SerializeToString()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process = ServerProcess(tmp_path_factory.mktemp("limits") / "data").start()
    now_ns = time.time_ns()
    for first in range(0, TRACES, 250):
        answer = httpx.post(process.otlp_http_url + "/v1/traces",
                            content=_request(first, 250, now_ns), headers=PROTOBUF, timeout=60)
        assert answer.status_code == 200, answer.text
    process.wait_for_trace(f"{TRACES:032x}", SPANS_PER_TRACE)
    process.wait_for_trace(f"{1:032x}", SPANS_PER_TRACE)
    yield process
    process.stop()


@pytest.mark.parametrize("limit", [1_300, MAX_LIMIT])
def test_large_limits_answer_whole_traces(server, limit):
    answer = httpx.get(server.ui_url + "/api/traces",
                       params={"service": "many", "limit": limit, "lookback": "2h"}, timeout=120)
    assert answer.status_code == 200, answer.text[:300]
    traces = answer.json()["data"]
    assert len(traces) == limit
    assert {len(t["spans"]) for t in traces} == {SPANS_PER_TRACE}
    # Newest first: trace ids were given in start order.
    ids = [int(t["traceID"], 16) for t in traces]
    assert ids == list(range(TRACES, TRACES - limit, -1))


def test_v3_summaries_at_the_maximum_depth(server):
    answer = httpx.get(server.ui_url + "/api/v3/trace-summaries",
                       params={"query.service_name": "many", "query.search_depth": MAX_LIMIT},
                       timeout=120)
    assert answer.status_code == 200, answer.text[:300]
    summaries = answer.json()["summaries"]
    assert len(summaries) == MAX_LIMIT
    assert {s["spanCount"] for s in summaries} == {SPANS_PER_TRACE}


def test_limit_over_the_maximum_is_400_with_the_maximum(server):
    answer = httpx.get(server.ui_url + "/api/traces",
                       params={"service": "many", "limit": MAX_LIMIT + 1})
    assert answer.status_code == 400
    assert str(MAX_LIMIT) in answer.json()["errors"][0]["msg"]
