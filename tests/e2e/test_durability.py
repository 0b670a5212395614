"""An acknowledged span is never lost: not on kill -9, not on SIGTERM."""

from __future__ import annotations

import threading
import time

import httpx

from traceway.sample import sample_request
from traceway.testing import ServerProcess


def _send_until_stopped(server: ServerProcess, stop: threading.Event,
                        acknowledged: dict[str, int], seed: int) -> None:
    with httpx.Client(timeout=10) as client:
        i = 0
        while not stop.is_set():
            request = sample_request(3, seed=seed * 100_000 + i)
            i += 1
            counts: dict[str, int] = {}
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        counts[span.trace_id.hex()] = counts.get(span.trace_id.hex(), 0) + 1
            try:
                answer = client.post(server.otlp_http_url + "/v1/traces",
                                     content=request.SerializeToString(),
                                     headers={"Content-Type": "application/x-protobuf"})
            except httpx.HTTPError:
                continue  # the server died mid-request: not acknowledged
            if answer.status_code == 200:
                acknowledged.update(counts)


def _ingest_then(server: ServerProcess, action, seconds: float = 2.0) -> dict[str, int]:
    acknowledged: dict[str, int] = {}
    stop = threading.Event()
    senders = [threading.Thread(target=_send_until_stopped, args=(server, stop, acknowledged, n))
               for n in range(4)]
    for sender in senders:
        sender.start()
    time.sleep(seconds)
    deadline = time.monotonic() + 30  # a loaded machine acknowledges slowly: wait for real traffic
    while len(acknowledged) <= 60 and time.monotonic() < deadline:
        time.sleep(0.1)
    action()  # while requests are in flight
    stop.set()
    for sender in senders:
        sender.join()
    return acknowledged


def _assert_all_stored(server: ServerProcess, acknowledged: dict[str, int]) -> None:
    missing = []
    for trace_id, spans in acknowledged.items():
        data = server.api(f"/api/traces?traceID={trace_id}")["data"]
        if not data or len(data[0]["spans"]) < spans:
            missing.append(trace_id)
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged traces lost"


def test_kill_9_during_ingest_loses_nothing_acknowledged(tmp_path):
    server = ServerProcess(tmp_path / "data").start()
    acknowledged = _ingest_then(server, server.kill9)
    assert len(acknowledged) > 50, "the test must acknowledge real traffic before the kill"
    restarted = ServerProcess(tmp_path / "data").start()
    try:
        _assert_all_stored(restarted, acknowledged)
    finally:
        restarted.stop()


def test_sigterm_drains_accepted_spans_and_exits_0(tmp_path):
    server = ServerProcess(tmp_path / "data").start()
    codes = []
    acknowledged = _ingest_then(server, lambda: codes.append(server.stop()))
    assert codes == [0]
    assert len(acknowledged) > 50
    restarted = ServerProcess(tmp_path / "data").start()
    try:
        _assert_all_stored(restarted, acknowledged)
    finally:
        restarted.stop()
