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
