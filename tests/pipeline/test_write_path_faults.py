"""Faults in the write path surface as 503 + Retry-After and a health signal,
and heal by themselves (issue 8: bug 7 and "disk full")."""

from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from traceway.sample import sample_request
from traceway.testing import ServerProcess

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def _request(seed: int) -> tuple[bytes, set[str]]:
    request = sample_request(1, seed=seed)
    trace_ids = {span.trace_id.hex() for rs in request.resource_spans
                 for ss in rs.scope_spans for span in ss.spans}
    return request.SerializeToString(), trace_ids


def _metric(client: httpx.Client, server: ServerProcess, line_start: str) -> float:
    for line in client.get(server.ui_url + "/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {line_start}")


def _until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout_s}s: {what}"
        time.sleep(0.05)


def test_spool_out_of_descriptors_is_503_then_recovers(tmp_path):
    # One process: the test takes its descriptors, and a receiver worker sharing the
    # port would answer the sender meanwhile.
    server = ServerProcess(tmp_path / "data", ["--workers", "1"]).start()
    pid = server.process.pid
    sender = httpx.Client(timeout=10)  # keep-alive: no new descriptor per request
    reader = httpx.Client(timeout=10)
    acknowledged: set[str] = set()
    seed = 0

    def send() -> httpx.Response:
        nonlocal seed
        seed += 1
        body, trace_ids = _request(seed)
        answer = sender.post(server.otlp_http_url + "/v1/traces", content=body, headers=PROTOBUF)
        if answer.status_code == 200:
            acknowledged.update(trace_ids)
        return answer

    try:
        assert send().status_code == 200
        assert reader.get(server.ui_url + "/ready").status_code == 200
        limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        # No new descriptor at all (open takes the lowest free number, which is now
        # past the limit): the spool's next segment cannot be opened (EMFILE).
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (3, limits[1]))
        refused: list[httpx.Response] = []
        _until(lambda: send().status_code == 503 and not refused.append(send()) and
               refused[-1].status_code == 503, 15, "a 503 while the spool cannot open a file")
        assert int(refused[-1].headers["Retry-After"]) > 0
        # Connections the server cannot accept now: their errors are logged sparingly.
        knocking = [socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])))
                    for url in (server.otlp_http_url, server.ui_url) for _ in range(50)]
        for _ in range(8):  # the keep-alive connections stay in use meanwhile
            assert reader.get(server.ui_url + "/ready").status_code == 503
            time.sleep(0.5)
        for sock in knocking:
            sock.close()
        ready = reader.get(server.ui_url + "/ready")
        assert ready.status_code == 503
        assert any("open files" in problem for problem in ready.json()["problems"])
        assert _metric(reader, server, 'traceway_write_path_healthy{component="spool"}') == 0

        resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)
        _until(lambda: send().status_code == 200, 15, "recovery once descriptors are back")
        _until(lambda: reader.get(server.ui_url + "/ready").status_code == 200, 15, "ready")
        assert _metric(reader, server, 'traceway_write_path_healthy{component="spool"}') == 1
        for trace_id in acknowledged:
            server.wait_for_trace(trace_id)
    finally:
        sender.close()
        reader.close()
        assert server.stop() == 0
    log = server.log_path.read_text()
    assert "never retrieved" not in log
    assert "Exception in thread" not in log
    accept_errors = [line for line in log.splitlines() if "socket.accept()" in line]
    assert 0 < len(accept_errors) <= 2, accept_errors  # one per 10 s, not one per retry


@pytest.fixture
def small_disks(tmp_path):
    """The data directory and its spool on two small tmpfs mounts (root only)."""
    data = tmp_path / "data"
    spool = data / "spool"
    mounted: list[Path] = []
    for directory, size in ((data, "24m"), (spool, "8m")):
        directory.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                               str(directory)], capture_output=True)
        if done.returncode != 0:
            for path in reversed(mounted):
                subprocess.run(["umount", "-l", str(path)])
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(directory)
    yield data, spool
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)])


def _fill(directory: Path) -> Path:
    """Take every last byte of the file system ``directory`` is on."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 16, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_disk_full_then_freed_stores_what_was_acknowledged(small_disks):
    data, spool = small_disks
    server = ServerProcess(data).start()
    client = httpx.Client(timeout=10)
    try:
        store_filler = _fill(data)
        acknowledged: set[str] = set()
        for seed in range(40):  # the spool has room: acknowledged, the store write fails
            body, trace_ids = _request(1000 + seed)
            answer = client.post(server.otlp_http_url + "/v1/traces", content=body,
                                 headers=PROTOBUF)
            if answer.status_code == 200:
                acknowledged |= trace_ids
        assert acknowledged
        _until(lambda: client.get(server.ui_url + "/ready").status_code == 503, 10,
               "not ready while the store cannot write")
        assert _metric(client, server, 'traceway_write_path_healthy{component="store"}') == 0

        spool_filler = _fill(spool)  # now nothing can be made durable: 503 + Retry-After
        refused: list[httpx.Response] = []

        def refused_503() -> bool:  # the spool's last page may still take a record or two
            body, _ = _request(5000 + len(refused))
            refused.append(client.post(server.otlp_http_url + "/v1/traces", content=body,
                                       headers=PROTOBUF))
            return refused[-1].status_code == 503
        _until(refused_503, 10, "503 once the spool is full too")
        assert int(refused[-1].headers["Retry-After"]) > 0

        store_filler.unlink()
        spool_filler.unlink()
        for trace_id in acknowledged:  # without a restart
            server.wait_for_trace(trace_id, timeout_s=30)
        body, _ = _request(6000)  # senders go on sending; the spool's next write succeeds

        def ready() -> bool:
            client.post(server.otlp_http_url + "/v1/traces", content=body, headers=PROTOBUF)
            return client.get(server.ui_url + "/ready").status_code == 200
        _until(ready, 15, "ready again")
    finally:
        client.close()
        server.stop()
        shutil.rmtree(data / "quarantine", ignore_errors=True)
