"""`traceway demo` starts its own server when given no endpoint, and SIGTERM stops everything it started."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time

import pytest


def _closed(url: str) -> bool:
    host, port = re.match(r"http://([\d.]+):(\d+)", url).groups()  # type: ignore[union-attr]
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) != 0


def _wait_for_line(proc: subprocess.Popen[str], pattern: str, timeout_s: float = 60) -> re.Match[str]:
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        match = re.search(pattern, line)
        if match:
            return match
    pytest.fail(f"demo never printed {pattern!r}")


def test_sigterm_stops_the_server_and_every_service():
    proc = subprocess.Popen(
        [sys.executable, "-m", "traceway.demo", "--ui-port", "0", "--rate", "5"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        ui = _wait_for_line(proc, r"Traceway UI at (http://\S+)").group(1)
        shop = _wait_for_line(proc, r"shop at (http://\S+),").group(1)
        time.sleep(1.5)  # some traffic
        assert not _closed(ui) and not _closed(shop)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (_closed(ui) and _closed(shop)):
            time.sleep(0.2)
        assert _closed(ui), "traceway serve still listening after the demo stopped"
        assert _closed(shop), "the frontend still listening after the demo stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _stored_spans(server) -> int:
    """Every span stored, counted over each service's traces (each trace once)."""
    traces: dict[str, int] = {}
    for service in server.api("/api/services")["data"]:
        for trace in server.api(f"/api/traces?service={service}&lookback=1h&limit=2000")["data"]:
            traces[trace["traceID"]] = len(trace["spans"])
    return sum(traces.values())


def test_stopping_the_demo_loses_no_span_the_services_sent(tmp_path):
    from traceway.testing import ServerProcess

    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "traceway.demo", "--ui-port", "0", "--rate", "20",
         "--data-dir", str(data)], stdout=subprocess.PIPE, text=True)
    try:
        _wait_for_line(proc, r"shop at (http://\S+),")
        time.sleep(2)  # traffic in flight when the stop comes
        proc.send_signal(signal.SIGTERM)
        sent = int(_wait_for_line(proc, r"the services sent (\d+) spans").group(1))
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert sent > 50
    server = ServerProcess(data).start()
    try:
        assert _stored_spans(server) == sent
    finally:
        server.stop()


SERVICE_THAT_FLUSHES_SLOWLY = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: None)
signal.pause()
time.sleep(0.5)  # flushing its spans
try:
    os.kill(int(sys.argv[1]), 0)
    print("SERVER UP WHEN FLUSHED", flush=True)
except ProcessLookupError:
    print("SERVER GONE WHEN FLUSHED", flush=True)
"""


def test_services_are_stopped_before_the_server():
    """Whatever the timing, the server outlives every service's final flush."""
    from traceway.demo.supervisor import Processes

    procs = Processes()
    server = procs.start("traceway serve", [sys.executable, "-c", "import time; time.sleep(60)"],
                         stop_last=True)
    services = [procs.start(f"service-{n}", [sys.executable, "-c", SERVICE_THAT_FLUSHES_SLOWLY,
                                             str(server.pid)], stdout=subprocess.PIPE)
                for n in range(3)]
    time.sleep(0.5)  # the services installed their handlers
    procs.stop_all()
    for service in services:
        assert service.stdout.read().strip() == "SERVER UP WHEN FLUSHED"
    assert server.poll() is not None
