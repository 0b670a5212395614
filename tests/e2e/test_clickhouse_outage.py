"""A ClickHouse outage answers 503 + Retry-After, not 429, and heals by itself.

The outage is real: chdb's directory is a small tmpfs that the test fills, so
ClickHouse refuses inserts (NOT_ENOUGH_SPACE) as a server with a full disk
does. The write queue fills behind the stalled insert (its bound is small
here), then senders get 503; ``/ready`` and ``traceway_write_path_healthy``
say why. Once space is back every acknowledged span is stored.
"""

from __future__ import annotations

import os
import subprocess
import time

import httpx
import pytest

from traceway.sample import sample_request
from traceway.testing import ServerProcess

pytest.importorskip("chdb")

PROTOBUF = {"Content-Type": "application/x-protobuf"}


@pytest.fixture
def small_disk(tmp_path):
    """A 48 MiB tmpfs for chdb (root only)."""
    path = tmp_path / "ch"
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(path)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield path
    subprocess.run(["umount", "-l", str(path)])


def fill(path) -> None:
    with open(path, "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * (1 << 20))
                filler.flush()
        except OSError:
            pass


def until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout_s}s: {what}"
        time.sleep(0.05)


def store_healthy(client: httpx.Client, server: ServerProcess) -> float:
    for line in client.get(server.ui_url + "/metrics").text.splitlines():
        if line.startswith('traceway_write_path_healthy{component="store"}'):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no traceway_write_path_healthy metric")


@pytest.mark.slow  # clean-clone CI: the server did not exit on SIGTERM in time after the outage (exit -9); open in issue 12
def test_clickhouse_outage_is_503_with_retry_after_then_heals(tmp_path, small_disk):
    server = ServerProcess(tmp_path / "data", extra_args=[
        "--storage", f"chdb://{small_disk}", "--max-queue-bytes", "1MiB"]).start(timeout_s=60)
    client = httpx.Client(timeout=30)
    acknowledged: set[str] = set()
    seed = 0

    def send() -> httpx.Response:
        nonlocal seed
        seed += 1
        request = sample_request(2, seed=seed)
        answer = client.post(server.otlp_http_url + "/v1/traces",
                             content=request.SerializeToString(), headers=PROTOBUF)
        if answer.status_code == 200:
            acknowledged.update(span.trace_id.hex() for rs in request.resource_spans
                                for ss in rs.scope_spans for span in ss.spans)
        return answer

    try:
        assert send().status_code == 200
        fill(small_disk / "filler")
        answers: list[httpx.Response] = []
        until(lambda: answers.append(send()) or answers[-1].status_code != 200, 120,
              "a refusal once ClickHouse cannot insert")
        assert {a.status_code for a in answers} <= {200, 503}, "a full queue is not 429 here"
        refused = answers[-1]
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
        assert "ClickHouse unavailable" in refused.text
        ready = client.get(server.ui_url + "/ready")
        assert ready.status_code == 503
        assert any("NOT_ENOUGH_SPACE" in p or "not enough space" in p
                   for p in ready.json()["problems"]), ready.json()
        assert store_healthy(client, server) == 0

        os.unlink(small_disk / "filler")  # the outage ends; nothing is restarted
        until(lambda: send().status_code == 200, 120, "accepting again")
        until(lambda: client.get(server.ui_url + "/ready").status_code == 200, 60, "ready")
        assert store_healthy(client, server) == 1
        for trace_id in acknowledged:
            server.wait_for_trace(trace_id, timeout_s=60)
    finally:
        client.close()
        assert server.stop() == 0
