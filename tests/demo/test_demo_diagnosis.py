"""The demo shop against a real `traceway serve`: the diagnosis endpoints name its injected faults."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from traceway.testing import ServerProcess


@pytest.fixture(scope="module")
def shop_server(tmp_path_factory):  # type: ignore[no-untyped-def]
    server = ServerProcess(tmp_path_factory.mktemp("demo-diagnosis") / "data").start()
    try:
        demo = subprocess.run(
            [sys.executable, "-m", "traceway.demo", "--otlp-endpoint", server.otlp_http_url,
             "--duration", "10", "--rate", "15"],
            capture_output=True, text=True, timeout=120, check=False)
        assert demo.returncode == 0, demo.stderr[-3000:]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if "worker" in server.api("/api/services")["data"]:
                break
            time.sleep(0.5)
        time.sleep(2)  # the last spans the services flushed on exit reach the store
        assert server.process is not None and server.process.poll() is None, (
            server.log_path.read_text()[-3000:] if server.log_path else "server exited")
        yield server
    finally:
        server.stop()


def test_the_broken_recommendations_hop_is_flagged(shop_server):
    # grace=0s: the demo just stopped, every span it sent has arrived.
    rows = shop_server.api("/api/analysis/propagation?lookback=1h&grace=0s")["data"]
    broken = [r for r in rows if r["clientService"] == "frontend" and r["serverService"] == "inventory"]
    assert [r["callerOperation"] for r in broken] == ["GET /recommendations"], rows
    assert broken[0]["broken"] == broken[0]["total"] > 0
    assert broken[0]["exampleTraceIDs"] and broken[0]["continuationTraceIDs"]
    # Every other call of the shop carries its context (the database calls are not judged);
    # only orders still on the queue when the demo stopped wait for their consumer.
    others = {(r["clientService"], r["clientOperation"]) for r in rows if r not in broken}
    assert others <= {("checkout", "send orders")}, rows


def test_the_unmonitored_database_is_named(shop_server):
    rows = {r["service"]: r for r in shop_server.api("/api/analysis/coverage?lookback=1h")["data"]}
    assert (rows["sqlite"]["instrumented"], rows["sqlite"]["callers"]) == (False, ["inventory"])
    assert all(rows[s]["instrumented"] for s in ("frontend", "checkout", "payment", "inventory", "worker"))


def test_the_slow_query_attribute_is_named(shop_server):
    rows = shop_server.api("/api/analysis/attributes?service=inventory&lookback=1h&by=latency")["data"]
    top = rows[0]
    assert (top["key"], top["value"]) == ("demo.slow_query", "true"), rows[:3]
    # On a loaded machine a few slow queries can finish under the window's p90, so the flag
    # also shows up among the "fast" traces: what matters is how much more often it is slow.
    assert top["selectedShare"] > 3 * top["baselineShare"], rows[:3]
