"""The diagnosis endpoints end to end: hand-built traces sent over OTLP to a real server."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import replace

import pytest
from hand_traces import TRACES, s

from traceway.convert.otlp import batch_to_otlp
from traceway.model import SpanBatch
from traceway.storage.testspans import batch_of


def rebased(batch: SpanBatch, trace_id: bytes | None = None, shift_ns: int | None = None) -> SpanBatch:
    """The trace with a fresh id, moved to a minute ago (retention would drop 1970)."""
    trace_id = trace_id or os.urandom(16)
    shift = shift_ns if shift_ns is not None else time.time_ns() - 60 * 10**9
    return SpanBatch.from_rows(replace(r, trace_id=trace_id, start_ns=r.start_ns + shift)
                               for r in batch.rows())


def send(server, batch: SpanBatch) -> str:  # type: ignore[no-untyped-def]
    body = batch_to_otlp(batch).SerializeToString()
    request = urllib.request.Request(f"{server.otlp_http_url}/v1/traces", data=body, method="POST",
                                     headers={"content-type": "application/x-protobuf"})
    urllib.request.urlopen(request, timeout=10).read()
    trace_id = batch.trace_id[0].hex()
    server.wait_for_trace(trace_id, len(batch))
    return trace_id


def get(server, path: str) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    try:
        with urllib.request.urlopen(server.ui_url + path, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory):  # type: ignore[no-untyped-def]
    from traceway.testing import ServerProcess

    process = ServerProcess(tmp_path_factory.mktemp("analysis") / "data").start()
    yield process
    process.stop()


def test_critical_path_answers_in_microseconds_in_time_order(server) -> None:  # type: ignore[no-untyped-def]
    batch = rebased(TRACES["sequential"](), shift_ns=1_700_000_000_000_000_000 - 1000)
    trace_id = send(server, batch)
    status, body = get(server, f"/api/traces/{trace_id}/critical-path")
    assert status == 200
    t0 = 1_700_000_000_000_000  # µs
    assert body["data"] == [
        {"spanID": "0000000000000001", "start": t0, "end": t0 + 19},
        {"spanID": "0000000000000002", "start": t0 + 19, "end": t0 + 39},
        {"spanID": "0000000000000001", "start": t0 + 39, "end": t0 + 49},
        {"spanID": "0000000000000003", "start": t0 + 49, "end": t0 + 59},
        {"spanID": "0000000000000001", "start": t0 + 59, "end": t0 + 100},
    ]


def test_error_origins_and_statistics(server) -> None:  # type: ignore[no-untyped-def]
    trace_id = send(server, rebased(TRACES["error_chain"]()))
    status, body = get(server, f"/api/traces/{trace_id}/error-origins")
    assert status == 200
    origins = body["data"]["origins"]
    assert [o["operation"] for o in origins] == ["SELECT stock", "authorize card"]
    authorize = origins[1]
    assert authorize["service"] == "payment"
    assert authorize["exceptions"][0]["type"] == "AcquirerTimeoutError"
    assert "\n" in authorize["exceptions"][0]["stacktrace"]
    assert authorize["inheritedBy"] == [f"{n:016x}" for n in (5, 3, 2, 1)]
    assert body["data"]["inherited"]["0000000000000001"] == ["0000000000000006"]

    status, body = get(server, f"/api/traces/{trace_id}/statistics")
    assert status == 200
    stats = body["data"]
    assert stats["duration"] == 200
    payment = next(g for g in stats["services"] if g["service"] == "payment")
    assert (payment["count"], payment["total"], payment["selfTotal"]) == (2, 220, 20 + 100)


def test_compare_two_traces_and_with_typical(server) -> None:  # type: ignore[no-untyped-def]
    def shop(n_db: int, slow: int) -> SpanBatch:
        spans = [s(1, 0, 0, 100 + slow, service="shop", name="GET /cart")]
        spans += [s(2 + i, 1, 10 + i, 10 + slow, service="db", name="SELECT") for i in range(n_db)]
        return rebased(batch_of(*spans))

    usual = [send(server, shop(1, 0)) for _ in range(3)]
    odd = send(server, shop(3, 50))
    status, body = get(server, f"/api/compare?a={usual[0]}&b={odd}")
    assert status == 200
    rows = body["data"]["rows"]
    assert [(r["depth"], r["service"], r["operation"], r["status"]) for r in rows] == [
        (0, "shop", "GET /cart", "both"), (1, "db", "SELECT", "both")]
    assert rows[1]["countDelta"] == 2 and rows[1]["durationDelta"] == 50
    assert body["data"]["b"]["spans"] == 4

    status, body = get(server, f"/api/traces/{odd}/typical?lookback=1h")
    assert status == 200
    assert body["data"]["b"]["typicalOf"] == 3
    assert body["data"]["rows"][1]["a"]["count"] == 3 and body["data"]["rows"][1]["b"]["count"] == 1


def test_clock_skew_is_reported_and_adjusted_only_on_request(server) -> None:  # type: ignore[no-untyped-def]
    trace_id = send(server, rebased(TRACES["skewed"]()))
    _, body = get(server, f"/api/traces/{trace_id}")
    (trace,) = body["data"]
    assert trace["clockSkew"] == {"spans": 2, "adjusted": False}
    spans = {s["spanID"][-1]: s for s in trace["spans"]}
    assert "?adjustClockSkew=true" in spans["2"]["warnings"][0]
    raw_start = spans["2"]["startTime"]

    _, body = get(server, f"/api/traces/{trace_id}?adjustClockSkew=true")
    (trace,) = body["data"]
    spans = {s["spanID"][-1]: s for s in trace["spans"]}
    assert spans["2"]["startTime"] == raw_start + 50
    assert spans["3"]["warnings"] == ["clock skew adjusted: times shifted by +0.050ms "
                                      "(host b against its parent's host)"]
    assert trace["warnings"] == ["clock skew adjusted: 2 span(s) on host(s) b"]
    assert spans["1"]["warnings"] is None


def test_bad_requests_get_clear_answers(server) -> None:  # type: ignore[no-untyped-def]
    assert get(server, "/api/traces/zz/critical-path")[0] == 400
    status, body = get(server, f"/api/traces/{'ab' * 16}/statistics")
    assert status == 404 and "not found" in body["errors"][0]["msg"]
    status, body = get(server, "/api/compare?a=" + "ab" * 16)
    assert status == 400 and "'b'" in body["errors"][0]["msg"]
    trace_id = send(server, rebased(TRACES["overlapping"]()))
    status, body = get(server, f"/api/traces/{trace_id}/typical?limit=0")
    assert status == 400 and "limit" in body["errors"][0]["msg"]
    status, body = get(server, f"/api/traces/{trace_id}/typical?lookback=soon")
    assert status == 400
    status, body = get(server, f"/api/traces/{trace_id}/typical")
    assert status == 404 and "no other traces" in body["errors"][0]["msg"]
