"""`--workers 2`: a receiver worker beside the main process, same ports, one writer.

Spans reach the store whichever process received them; no acknowledged span
is lost on kill -9 of the worker or of the main process; SIGTERM drains both.
"""

from __future__ import annotations

import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from otlp_traffic import PROTOBUF, acknowledged_around, post_fresh, span_counts

from traceway.sample import sample_request
from traceway.testing import ServerProcess, wait_until

WORKERS = ["--workers", "2"]
# Requests on new connections: either process may accept each.
TRAFFIC = {"senders": 6, "min_traces": 100, "new_connection_each": True}
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@pytest.fixture(scope="module")
def decoder_path() -> str:
    return "default"  # process handling does not depend on the OTLP decoder: run once


def _assert_all_stored(server: ServerProcess, acknowledged: dict[str, int],
                       timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    missing = list(acknowledged)
    while missing and time.monotonic() < deadline:
        stored: dict[str, int] = {}
        for at in range(0, len(missing), 50):
            query = "&".join(f"traceID={t}" for t in missing[at:at + 50])
            for trace in server.api(f"/api/traces?{query}")["data"]:
                stored[trace["traceID"]] = len(trace["spans"])
        missing = [t for t in missing if stored.get(t, 0) < acknowledged[t]]
        if missing:
            time.sleep(0.2)
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged traces lost"


def _metric(server: ServerProcess, name: str) -> float:
    """The sum of a metric's samples on /metrics (0 if absent)."""
    with httpx.Client() as client:
        text = client.get(server.ui_url + "/metrics").text
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith(name + "{") or line.startswith(name + " "))


def _wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    wait_until(condition, timeout_s, interval_s=0.1)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def server(tmp_path):
    process = ServerProcess(tmp_path / "data", WORKERS).start()
    yield process
    process.stop()


def test_spans_over_many_connections_to_every_receiver_are_all_stored(server):
    assert len(server.worker_pids()) == 1
    expected: dict[str, int] = {}
    lock = threading.Lock()

    def over_http(seed: int) -> None:
        request = sample_request(2, seed=seed)
        assert post_fresh(server, request.SerializeToString(), PROTOBUF).status_code == 200
        with lock:
            expected.update(span_counts(request))

    def over_grpc(seed: int) -> None:
        request = sample_request(2, seed=seed)
        with grpc.insecure_channel(server.otlp_grpc_address) as channel:
            export = channel.unary_unary(EXPORT, request_serializer=lambda m: m.SerializeToString(),
                                         response_deserializer=ExportTraceServiceResponse.FromString)
            export(request, timeout=10)
        with lock:
            expected.update(span_counts(request))

    def over_zipkin(seed: int) -> None:
        trace_id = os.urandom(16).hex()
        spans = [{"traceId": trace_id, "id": f"{seed + 1:016x}", "name": "get",
                  "timestamp": int(time.time() * 1e6), "duration": 1500, "kind": "SERVER",
                  "localEndpoint": {"serviceName": "zipkin-svc"}}]
        answer = httpx.post(server.zipkin_url, json=spans, headers={"Connection": "close"})
        assert answer.status_code == 202
        with lock:
            expected[trace_id] = 1

    jobs = ([(over_http, seed) for seed in range(40)] + [(over_grpc, 100 + seed) for seed in range(16)]
            + [(over_zipkin, 200 + seed) for seed in range(8)])
    threads = [threading.Thread(target=job, args=(seed,)) for job, seed in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(expected) == 40 * 2 + 16 * 2 + 8
    _assert_all_stored(server, expected)
    assert _metric(server, "traceway_spans_from_workers_total") > 0, \
        "the worker received none of 56 connections"
    assert _metric(server, "traceway_receiver_workers") == 1
    # The worker's counters reach /metrics within a second.
    spans = sum(expected.values())
    _wait_until(lambda: _metric(server, "traceway_spans_received_total") == spans, 5)
    assert _metric(server, "traceway_spans_accepted_total") == spans


def test_the_worker_alone_answers_bad_input_and_stores_good_input(server):
    """With the main process stopped (SIGSTOP), only the worker accepts connections."""
    assert server.process is not None
    server.process.send_signal(signal.SIGSTOP)
    try:
        bad = post_fresh(server, b"\xff\xff\xff garbage", PROTOBUF)
        assert bad.status_code == 400 and bad.content
        assert post_fresh(server, b"{}", {"Content-Type": "text/plain"}).status_code == 415
        request = sample_request(2, seed=5)
        request.resource_spans[0].scope_spans[0].spans[0].trace_id = b"short"
        partial = post_fresh(server, request.SerializeToString(), PROTOBUF)
        assert partial.status_code == 200
        answer = ExportTraceServiceResponse.FromString(partial.content)
        assert answer.partial_success.rejected_spans == 1
        good = sample_request(2, seed=6)
        assert post_fresh(server, good.SerializeToString(), PROTOBUF).status_code == 200
    finally:
        server.process.send_signal(signal.SIGCONT)
    _assert_all_stored(server, span_counts(good))


def test_kill_9_of_the_worker_loses_nothing_acknowledged_and_it_is_started_again(server):
    [worker] = server.worker_pids()
    acknowledged = acknowledged_around(server, lambda: os.kill(worker, signal.SIGKILL), **TRAFFIC)
    assert len(acknowledged) > 100, "the test must acknowledge real traffic first"
    _assert_all_stored(server, acknowledged)
    _wait_until(lambda: len(server.worker_pids()) == 1 and worker not in server.worker_pids())
    _wait_until(lambda: httpx.get(server.ui_url + "/ready").status_code == 200)
    request = sample_request(1, seed=9)
    assert post_fresh(server, request.SerializeToString(), PROTOBUF).status_code == 200
    _assert_all_stored(server, span_counts(request))


def test_kill_9_of_the_main_process_loses_nothing_acknowledged_after_restart(tmp_path):
    server = ServerProcess(tmp_path / "data", WORKERS).start()
    [worker] = server.worker_pids()
    acknowledged = acknowledged_around(server, server.kill9, **TRAFFIC)
    assert len(acknowledged) > 100, "the test must acknowledge real traffic first"
    _wait_until(lambda: not _alive(worker), timeout_s=10)  # the worker dies with it
    restarted = ServerProcess(tmp_path / "data", WORKERS).start()
    try:
        _assert_all_stored(restarted, acknowledged)
    finally:
        restarted.stop()


def test_sigterm_drains_both_processes_and_exits_0(tmp_path):
    server = ServerProcess(tmp_path / "data", WORKERS).start()
    [worker] = server.worker_pids()
    codes: list[int] = []
    acknowledged = acknowledged_around(server, lambda: codes.append(server.stop()), **TRAFFIC)
    assert len(acknowledged) > 100, "the test must acknowledge real traffic first"
    assert codes == [0]
    assert not _alive(worker)
    assert not list((tmp_path / "data" / "spool").glob("worker-*/segment-*.spool"))
    restarted = ServerProcess(tmp_path / "data", ["--workers", "1"]).start()
    try:
        _assert_all_stored(restarted, acknowledged, timeout_s=5)
    finally:
        restarted.stop()


def test_a_worker_whose_spool_cannot_write_answers_503_and_the_server_is_not_ready(server):
    assert server.process is not None
    [worker] = server.worker_pids()
    with httpx.Client(timeout=10) as sender, httpx.Client(timeout=10) as reader:
        def send(seed: int) -> int:
            body = sample_request(1, seed=seed).SerializeToString()
            status = sender.post(server.otlp_http_url + "/v1/traces", content=body,
                                 headers=PROTOBUF).status_code
            assert status in (200, 503)  # never a 500
            return status

        server.process.send_signal(signal.SIGSTOP)  # the worker accepts this keep-alive connection
        try:
            assert send(1) == 200
        finally:
            server.process.send_signal(signal.SIGCONT)
        limits = resource.prlimit(worker, resource.RLIMIT_NOFILE)
        # No new descriptor: the worker's spool cannot open its next segment (EMFILE).
        resource.prlimit(worker, resource.RLIMIT_NOFILE, (3, limits[1]))
        seeds = iter(range(2, 10_000))
        _wait_until(lambda: send(next(seeds)) == 503)
        _wait_until(lambda: reader.get(server.ui_url + "/ready").status_code == 503, 5)
        problems = reader.get(server.ui_url + "/ready").json()["problems"]
        assert any(p.startswith("receiver worker 1: ") and "open files" in p for p in problems)
        resource.prlimit(worker, resource.RLIMIT_NOFILE, limits)
        _wait_until(lambda: send(next(seeds)) == 200)
        _wait_until(lambda: reader.get(server.ui_url + "/ready").status_code == 200, 5)
