"""traceway.connect on real data: a server's URL, then its data directory once it stopped."""

from __future__ import annotations

import time
import urllib.request

import pytest
import scenarios

import traceway
from traceway.client import ConnectError, spans_table
from traceway.convert.jaeger_json import trace_to_jaeger_json
from traceway.convert.jaeger_json_read import spans_from_jaeger_json
from traceway.convert.otlp import batch_to_otlp
from traceway.model import SpanBatch
from traceway.testing import ServerProcess


def _send(server: ServerProcess, batch: SpanBatch) -> None:
    request = urllib.request.Request(server.otlp_http_url + "/v1/traces",
                                     data=batch_to_otlp(batch).SerializeToString(), method="POST",
                                     headers={"Content-Type": "application/x-protobuf"})
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture(scope="module")
def shop(tmp_path_factory):  # type: ignore[no-untyped-def]
    """(server, data dir) with the shop scenario stored; the server runs until the module ends."""
    data_dir = tmp_path_factory.mktemp("connect") / "data"
    server = ServerProcess(data_dir).start()
    # Microsecond-aligned times, so what the Jaeger JSON carries is exact.
    base = (time.time_ns() - 600 * 10**9) // 1000 * 1000
    _send(server, SpanBatch.from_rows(scenarios.shop(base) + scenarios.search(base)))
    for trace in (11, 104, 219):
        server.wait_for_trace(f"{trace:032x}")
    yield server, data_dir
    server.stop()


def test_a_url_reads_spans_as_a_table_and_analyses_through_the_server(shop):
    server, _ = shop
    with traceway.connect(server.ui_url) as db:
        table = db.spans(service="web", operation="GET /recs", lookback="1h", limit=100)
        assert table.num_rows == 6
        assert set(table.column("trace_id").to_pylist()) == {f"{n:032x}" for n in (2, 3, 4)}
        client = [row for row in table.to_pylist() if row["kind"] == "client"]
        assert {row["operation"] for row in client} == {"GET /stock"}
        assert dict(client[0]["attributes"])["peer.service"] == "stock"
        assert dict(client[0]["resource"])["service.name"] == "web"
        broken = db.propagation(lookback="1h")["data"][0]
        assert (broken["clientOperation"], broken["serverService"], broken["broken"]) == ("GET /stock", "stock", 3)


def test_spans_convert_to_pandas(shop):
    server, _ = shop
    frame = traceway.connect(server.ui_url).spans(service="api", lookback="1h", limit=50).to_pandas()
    import pandas as pd

    assert len(frame) == 40 and frame["duration"].max() == pd.Timedelta(milliseconds=900)
    assert str(frame["start"].dt.tz) == "UTC"


def test_a_directory_held_by_the_server_says_to_use_its_url(shop):
    _, data_dir = shop
    with pytest.raises(ConnectError, match="connect to the server's URL"):
        traceway.connect(data_dir)


def test_a_stopped_servers_directory_gives_the_same_answers_as_the_server(shop):
    server, data_dir = shop
    remote = traceway.connect(server.ui_url)
    expected = {"spans": remote.spans(service="web", lookback="1h", limit=100).sort_by("span_id"),
                "coverage": remote.coverage(lookback="1h")["data"],
                "attributes": remote.attributes(service="api", by="error", lookback="1h")["data"]}
    server.stop()
    with traceway.connect(data_dir) as db:
        assert db.spans(service="web", lookback="1h", limit=100).sort_by("span_id").equals(expected["spans"])
        assert db.coverage(lookback="1h")["data"] == expected["coverage"]
        assert db.attributes(service="api", by="error", lookback="1h")["data"] == expected["attributes"]
        local = db.propagation(lookback="1h")
        assert [r["callerOperation"] for r in local["data"]] == ["GET /recs", "GET /home", "GET /home"]
        assert local["orphans"][0]["operation"] == "refund"


def test_connect_refuses_what_is_not_traceway(tmp_path):
    with pytest.raises(ConnectError, match="no Traceway database"):
        traceway.connect(tmp_path)
    with pytest.raises(ConnectError, match="cannot reach"):
        traceway.connect("http://127.0.0.1:9").spans()


def test_jaeger_json_reads_back_into_the_same_spans():
    base = 1_700_000_000_000_000_000
    traces = SpanBatch.from_rows(scenarios.shop(base) + scenarios.search(base)).split_by_trace()
    read_back = [spans_from_jaeger_json(trace_to_jaeger_json(t)) for t in traces]
    assert spans_table(read_back).sort_by("span_id").equals(
        spans_table([SpanBatch.from_rows(sorted(t.rows(), key=lambda r: r.start_ns)) for t in traces]).sort_by("span_id"))
