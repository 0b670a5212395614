"""An acknowledged span is never lost: not on kill -9, not on SIGTERM."""

from __future__ import annotations

from otlp_traffic import acknowledged_around

from traceway.testing import ServerProcess

TRAFFIC = {"senders": 4, "min_traces": 60, "warm_up_s": 2.0}


def _assert_all_stored(server: ServerProcess, acknowledged: dict[str, int]) -> None:
    missing = []
    for trace_id, spans in acknowledged.items():
        data = server.api(f"/api/traces?traceID={trace_id}")["data"]
        if not data or len(data[0]["spans"]) < spans:
            missing.append(trace_id)
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged traces lost"


def test_kill_9_during_ingest_loses_nothing_acknowledged(tmp_path):
    server = ServerProcess(tmp_path / "data").start()
    acknowledged = acknowledged_around(server, server.kill9, **TRAFFIC)
    assert len(acknowledged) > 50, "the test must acknowledge real traffic before the kill"
    restarted = ServerProcess(tmp_path / "data").start()
    try:
        _assert_all_stored(restarted, acknowledged)
    finally:
        restarted.stop()


def test_sigterm_drains_accepted_spans_and_exits_0(tmp_path):
    server = ServerProcess(tmp_path / "data").start()
    codes = []
    acknowledged = acknowledged_around(server, lambda: codes.append(server.stop()), **TRAFFIC)
    assert codes == [0]
    assert len(acknowledged) > 50
    restarted = ServerProcess(tmp_path / "data").start()
    try:
        _assert_all_stored(restarted, acknowledged)
    finally:
        restarted.stop()
