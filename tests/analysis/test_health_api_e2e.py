"""The diagnosis endpoints through a real `traceway serve`, on traces with known answers."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest
import scenarios

from traceway.convert.otlp import batch_to_otlp
from traceway.model import SpanBatch
from traceway.testing import ServerProcess


def _send(server: ServerProcess, records) -> None:  # type: ignore[no-untyped-def]
    body = batch_to_otlp(SpanBatch.from_rows(records)).SerializeToString()
    request = urllib.request.Request(server.otlp_http_url + "/v1/traces", data=body, method="POST",
                                     headers={"Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


@pytest.fixture(scope="module")
def server(tmp_path_factory):  # type: ignore[no-untyped-def]
    server = ServerProcess(tmp_path_factory.mktemp("health") / "data").start()
    now = time.time_ns()
    records = scenarios.shop(now - 600 * 10**9) + scenarios.search(now - 300 * 10**9) \
        + scenarios.recent_broken_call(now)
    _send(server, records)
    for trace in (11, 104, 219, 50):
        server.wait_for_trace(f"{trace:032x}")
    yield server
    server.stop()


def test_propagation_names_the_broken_hop_orphans_and_multiple_roots(server):
    answer = server.api("/api/analysis/propagation?lookback=1h")
    rows = {(r["clientService"], r["clientOperation"], r["serverService"]): (r["broken"], r["total"])
            for r in answer["data"]}
    # The call that ended a second ago is inside the 30 s grace period: not judged yet.
    assert rows == {("web", "GET /stock", "stock"): (3, 3), ("web", "GET /geo", None): (1, 1),
                    ("web", "POST /mail", None): (1, 1)}
    recs = answer["data"][0]
    assert sorted(recs["exampleTraceIDs"]) == [f"{n:032x}" for n in (2, 3, 4)]
    assert [(o["service"], o["operation"], o["count"]) for o in answer["orphans"]] == [("pay", "refund", 1)]
    assert [[r["operation"] for r in m["roots"]] for m in answer["multipleRoots"]] == [["GET /a", "cron tick"]]
    assert answer["traceLimit"] >= answer["traces"] > 30


def test_a_shorter_grace_judges_recent_calls(server):
    answer = server.api("/api/analysis/propagation?lookback=1h&grace=0s")
    assert "GET /slowpoke" in {r["clientOperation"] for r in answer["data"]}


def test_coverage_lists_uninstrumented_next_to_instrumented(server):
    rows = {r["service"]: r for r in server.api("/api/analysis/coverage?lookback=1h")["data"]}
    assert {s for s, r in rows.items() if not r["instrumented"]} == {"cards", "geo.example.com", "mailer", "redis"}
    assert (rows["cards"]["callers"], rows["cards"]["calls"], rows["cards"]["type"]) == (["pay"], 1, "database")
    assert (rows["redis"]["callers"], rows["redis"]["calls"]) == (["api"], 20)
    assert rows["stock"]["instrumented"] and rows["stock"]["callers"] == ["web"]
    assert {"web", "pay", "worker", "api"} <= {s for s, r in rows.items() if r["instrumented"]}


def test_attributes_of_slow_and_failing_requests(server):
    slow = server.api("/api/analysis/attributes?service=api&operation=GET%20/search&lookback=1h&by=latency")
    assert {(r["key"], r["value"]) for r in slow["data"][:2]} == {("cache.hit", "false"), ("cloud.region", "eu")}
    assert set(slow["data"][0]) >= {"key", "value", "selected", "baseline", "selectedShare", "baselineShare", "score"}
    failing = server.api("/api/analysis/attributes?service=api&lookback=1h&by=error")
    assert (failing["data"][0]["key"], failing["data"][0]["value"]) == ("exception.type", "TimeoutError")
    below = server.api("/api/analysis/attributes?service=api&lookback=1h&threshold=20ms")
    assert below["selectedTraces"] == 11


@pytest.mark.parametrize("query", ["propagation?lookback=soon", "coverage?end=yesterday",
                                   "attributes?by=size", "attributes?threshold=fast",
                                   "propagation?grace=-1s"])
def test_bad_parameters_answer_400_with_a_reason(server, query):
    with pytest.raises(urllib.error.HTTPError) as caught:
        server.api(f"/api/analysis/{query}")
    assert caught.value.code == 400
    body = caught.value.read().decode()
    assert query.split("?")[1].split("=")[0] in body
