"""Tail sampling in a real `traceway serve`: whole traces, policy visible, kill -9, bad config."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import pytest
from sampling_traffic import generate, to_otlp

from traceway.testing import ServerProcess

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tail-sampling.toml"
CONFIG = EXAMPLE.read_text().replace('decision_wait = "10s"', 'decision_wait = "{wait}"')


def start(tmp_path, wait: str, data: str = "data") -> ServerProcess:
    config = tmp_path / f"traceway-{wait}.toml"
    config.write_text(CONFIG.format(wait=wait))
    return ServerProcess(tmp_path / data, extra_args=["--config", str(config)]).start()


def send(server: ServerProcess, batches) -> None:
    with httpx.Client(timeout=30) as client:
        for batch in batches:
            answer = client.post(server.otlp_http_url + "/v1/traces", content=to_otlp(batch),
                                 headers={"Content-Type": "application/x-protobuf"})
            assert answer.status_code == 200, answer.text


def metric(server: ServerProcess, name: str) -> float:
    with urllib.request.urlopen(server.ui_url + "/metrics") as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith((name + " ", name + "{")):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def held_traces_reach(server: ServerProcess, count: int, timeout_s: float = 10) -> bool:
    """Whether the sampler holds ``count`` traces within ``timeout_s``: spans a receiver
    worker (--workers) took reach it once the worker's spool segment closes (0.1 s)."""
    deadline = time.monotonic() + timeout_s
    while metric(server, "traceway_sampling_held_traces") != count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_until_decided(server: ServerProcess, timeout_s: float = 60) -> None:
    """Until no trace waits for its decision and the kept ones are written (a loaded
    machine can take seconds for that last write, so a fixed sleep is not enough)."""
    deadline = time.monotonic() + timeout_s
    settled = 0
    while settled < 2:
        busy = (metric(server, "traceway_sampling_held_traces") > 0
                or metric(server, "traceway_queue_spans") > 0)
        settled = 0 if busy else settled + 1
        assert time.monotonic() < deadline, "traces were never decided and written"
        time.sleep(0.2)


def stored_spans(server: ServerProcess, trace_id: bytes) -> list[dict]:
    data = server.api(f"/api/traces?traceID={trace_id.hex()}")["data"]
    return data[0]["spans"] if data else []


def test_kept_traces_are_whole_and_say_which_policy_kept_them(tmp_path):
    server = start(tmp_path, "1s")
    try:
        traffic = generate(1500, seed=11, error_rate=0.05, slow_rate=0.05)
        send(server, traffic.batches)
        wait_until_decided(server)
        kept = 0
        for tid, count in traffic.spans_per_trace.items():
            spans = stored_spans(server, tid)
            assert len(spans) in (0, count), "no stored trace is partial"
            if tid in traffic.errors or tid in traffic.slow:
                assert len(spans) == count
            if spans:
                kept += 1
                tags = {t["key"]: t["value"] for t in spans[0]["tags"]}
                expected = "errors" if tid in traffic.errors else (
                    "slow" if tid in traffic.slow else "baseline")
                assert tags["traceway.sampling.policy"] == expected
        assert kept < 400
        assert metric(server, "traceway_sampling_traces_total") > 0
    finally:
        assert server.stop() == 0


def test_kill_9_with_held_spans_loses_nothing_acknowledged(tmp_path):
    server = start(tmp_path, "1h")
    traffic = generate(400, seed=12, error_rate=0.1)
    send(server, traffic.batches)
    assert held_traces_reach(server, 400)
    server.kill9()
    restarted = start(tmp_path, "500ms")
    try:
        wait_until_decided(restarted)
        for tid in traffic.errors:
            assert len(stored_spans(restarted, tid)) == traffic.spans_per_trace[tid]
        left = {p.name for p in (tmp_path / "data" / "spool").glob("segment-*")}
        assert "segment-000000000000.spool" not in left, "the replayed segment is deleted once decided"
    finally:
        restarted.stop()


def test_sigterm_decides_held_traces_and_leaves_the_spool_empty(tmp_path):
    server = start(tmp_path, "1h")
    traffic = generate(100, seed=13, error_rate=0.2)
    send(server, traffic.batches)
    assert held_traces_reach(server, 100)
    assert server.stop() == 0
    assert not list((tmp_path / "data" / "spool").glob("segment-*")), "nothing left waiting"
    restarted = start(tmp_path, "1h")
    try:
        assert metric(restarted, "traceway_sampling_held_traces") == 0
        for tid, count in traffic.spans_per_trace.items():
            spans = stored_spans(restarted, tid)
            assert len(spans) in (0, count), "no stored trace is partial"
            if tid in traffic.errors:
                assert len(spans) == count
    finally:
        restarted.stop()


def test_without_tail_section_everything_is_kept(tmp_path):
    config = tmp_path / "empty.toml"
    config.write_text("# no [sampling.tail]: keep everything\n")
    server = ServerProcess(tmp_path / "data", extra_args=["--config", str(config)]).start()
    try:
        traffic = generate(50, seed=14)
        send(server, traffic.batches)
        for tid, count in traffic.spans_per_trace.items():
            assert len(server.wait_for_trace(tid.hex(), count)["spans"]) == count
    finally:
        server.stop()


def test_bad_config_exits_non_zero_naming_the_line(tmp_path):
    config = tmp_path / "bad.toml"
    text = CONFIG.format(wait="1s").replace('threshold = "500ms"', 'threshold = "fast"')
    config.write_text(text)
    line = text.splitlines().index('threshold = "fast"') + 1
    result = subprocess.run([sys.executable, "-m", "traceway.cli", "serve", "--data-dir",
                             str(tmp_path / "data"), "--config", str(config)],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"{config}:{line}:" in result.stderr and "threshold" in result.stderr


def test_invalid_reload_keeps_the_running_config(tmp_path):
    server = start(tmp_path, "200ms")
    config = tmp_path / "traceway-200ms.toml"
    try:
        config.write_text("[sampling.tail\n")
        server.reload()
        deadline = time.monotonic() + 10
        while "config reload refused" not in server.log_path.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert "line 1" in server.log_path.read_text()
        traffic = generate(100, seed=15, error_rate=0.3)
        send(server, traffic.batches)
        wait_until_decided(server)
        for tid in traffic.errors:
            assert len(stored_spans(server, tid)) == traffic.spans_per_trace[tid]
    finally:
        server.stop()


@pytest.mark.slow
def test_ten_thousand_traces_through_the_server(tmp_path):
    server = start(tmp_path, "2s")
    try:
        traffic = generate(10_000, seed=16)
        send(server, traffic.batches)
        wait_until_decided(server, 120)
        for tid in traffic.errors | traffic.slow:
            assert len(stored_spans(server, tid)) == traffic.spans_per_trace[tid]
    finally:
        server.stop()
