"""A ClickHouse outage answers 503 + Retry-After, not 429, and heals by itself.

The outage is real: chdb's directory is a small tmpfs that the test fills
until less than the store's free-space floor is left, so ClickHouse refuses
inserts (NOT_ENOUGH_SPACE) as a server with a full disk does. The write queue
fills behind the stalled insert (its bound is small here), then senders get
503; ``/ready`` and ``traceway_write_path_healthy`` say why. Once space is
back every acknowledged span is stored and readable.
"""

from __future__ import annotations

import os
import subprocess
from urllib.parse import urlencode

import httpx
import pytest

from traceway.sample import sample_request
from traceway.testing import ServerProcess, wait_until

pytest.importorskip("chdb")
MIN_FREE_DISK_BYTES = pytest.importorskip("traceway.storage.clickhouse.store").MIN_FREE_DISK_BYTES

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


def free_bytes(path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def fill(path, leave_bytes: int = MIN_FREE_DISK_BYTES // 2) -> None:
    """Fills the disk of ``path`` until less than ``leave_bytes`` is free: a
    disk full for ClickHouse (below the store's floor), not yet for the system."""
    with open(path, "wb") as filler:
        try:
            while free_bytes(path.parent) >= leave_bytes:
                filler.write(b"\0" * (1 << 20))
                filler.flush()
        except OSError:
            pass


def until(predicate, timeout_s: float, what: str) -> None:
    wait_until(predicate, timeout_s, what, interval_s=0.05)


def store_healthy(client: httpx.Client, server: ServerProcess) -> float:
    for line in client.get(server.ui_url + "/metrics").text.splitlines():
        if line.startswith('traceway_write_path_healthy{component="store"}'):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no traceway_write_path_healthy metric")


class Sender:
    """Posts small OTLP requests one after another; remembers the acknowledged traces."""

    def __init__(self, server: ServerProcess, client: httpx.Client) -> None:
        self.server = server
        self.client = client
        self.acknowledged: set[str] = set()
        self.seed = 0

    def send(self) -> httpx.Response:
        self.seed += 1
        request = sample_request(2, seed=self.seed)
        answer = self.client.post(self.server.otlp_http_url + "/v1/traces",
                                  content=request.SerializeToString(), headers=PROTOBUF)
        if answer.status_code == 200:
            self.acknowledged.update(span.trace_id.hex() for rs in request.resource_spans
                                     for ss in rs.scope_spans for span in ss.spans)
        return answer

    def until_refused(self) -> httpx.Response:
        """Send until an answer is not 200 (every one before was 200) and return it."""
        answers: list[httpx.Response] = []
        until(lambda: answers.append(self.send()) or answers[-1].status_code != 200, 120,
              "a refusal once ClickHouse cannot insert")
        assert {a.status_code for a in answers} <= {200, 503}, "a full queue is not 429 here"
        return answers[-1]


def chdb_server(data_dir, chdb_dir) -> ServerProcess:
    """A small queue (and receiver workers' backlog): refusals start after a few dozen requests."""
    return ServerProcess(data_dir, extra_args=[
        "--storage", f"chdb://{chdb_dir}", "--max-queue-bytes", "256KiB"]).start(timeout_s=60)


def wait_until_stored(server: ServerProcess, trace_ids: set[str], timeout_s: float = 60) -> None:
    missing = set(trace_ids)

    def all_stored() -> bool:
        ids = sorted(missing)
        for first in range(0, len(ids), 50):
            found = server.api("/api/traces?" + urlencode(
                [("traceID", trace_id) for trace_id in ids[first:first + 50]]))["data"]
            missing.difference_update(trace["traceID"] for trace in found)
        return not missing

    until(all_stored, timeout_s, f"every acknowledged trace stored ({len(missing)} missing)")


def test_clickhouse_outage_is_503_with_retry_after_then_heals(tmp_path, small_disk):
    """Inserts stop while the disk still has room: chdb commits a part whose
    files meet ENOSPC with empty files, and reads of it then fail (500)."""
    server = chdb_server(tmp_path / "data", small_disk)
    client = httpx.Client(timeout=30)
    sender = Sender(server, client)
    try:
        assert sender.send().status_code == 200
        fill(small_disk / "filler")
        refused = sender.until_refused()
        assert free_bytes(small_disk) > MIN_FREE_DISK_BYTES // 4, "ClickHouse wrote on a full disk"
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
        assert "ClickHouse unavailable" in refused.text
        ready = client.get(server.ui_url + "/ready")
        assert ready.status_code == 503
        assert any("NOT_ENOUGH_SPACE" in p or "not enough space" in p
                   for p in ready.json()["problems"]), ready.json()
        assert store_healthy(client, server) == 0

        os.unlink(small_disk / "filler")  # the outage ends; nothing is restarted
        until(lambda: sender.send().status_code == 200, 120, "accepting again")
        until(lambda: client.get(server.ui_url + "/ready").status_code == 200, 60, "ready")
        assert store_healthy(client, server) == 1
        wait_until_stored(server, sender.acknowledged)
    finally:
        client.close()
        assert server.stop(timeout_s=30) == 0, "SIGTERM did not stop the server (killed)"


# Stopping does not depend on the OTLP decoder: run once.
@pytest.mark.parametrize("decoder_path", ["c-decoder"], indirect=True)
def test_sigterm_during_an_outage_stops_promptly_and_the_next_start_stores_everything(
        tmp_path, small_disk):
    """A stop does not wait for ClickHouse to come back: what is not stored stays in
    the spools (acknowledged = fsynced there), and the next start stores it."""
    server = chdb_server(tmp_path / "data", small_disk)
    sender = Sender(server, httpx.Client(timeout=30))
    try:
        assert sender.send().status_code == 200
        fill(small_disk / "filler")
        assert sender.until_refused().status_code == 503
    finally:
        sender.client.close()
        # ServerProcess.stop kills (exit -9) a server that takes longer.
        assert server.stop(timeout_s=30) == 0, "SIGTERM during the outage did not stop the server"
    os.unlink(small_disk / "filler")
    server = chdb_server(tmp_path / "data", small_disk)
    try:
        wait_until_stored(server, sender.acknowledged)
    finally:
        assert server.stop(timeout_s=30) == 0
