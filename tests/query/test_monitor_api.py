"""Jaeger's monitor API: the JSON Jaeger UI's Monitor tab reads, against golden files.

The store is a real DuckDB file, and chdb (with its RED view, and without it as on
the exporter's tables), filled with synthetic traffic at fixed times, so the
answers are exact and the same; UPDATE_GOLDEN=1 rewrites the expected files.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from traceway.analysis.red import MINUTE_NS
from traceway.model import SpanKind, StatusCode
from traceway.query.monitor_api import monitor_routes
from traceway.storage.duckdb import DuckDBStore
from traceway.storage.testspans import batch_of, make_span

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
T0 = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
END_MS = (T0 + 5 * MINUTE_NS) // 10**6


def traffic():
    """Minutes 0-4: checkout serves 60 `POST /pay` (every 6th fails, n-th lasting
    (n % 10 + 1) * 10 ms) and 30 `GET /cart` (5 ms); each pay calls payments."""
    spans = []
    for minute in range(5):
        for n in range(60):
            trace = minute * 1000 + n + 1
            start = T0 + minute * MINUTE_NS + n * 10**9
            spans.append(make_span(trace, 1, start_ns=start, service="checkout", name="POST /pay",
                                   kind=SpanKind.SERVER, duration_ns=(n % 10 + 1) * 10_000_000,
                                   status_code=StatusCode.ERROR if n % 6 == 0 else StatusCode.OK))
            spans.append(make_span(trace, 2, parent=1, start_ns=start + 1, service="payments",
                                   name="charge", kind=SpanKind.SERVER, duration_ns=8_000_000))
            if n % 2 == 0:
                spans.append(make_span(trace + 500, 1, start_ns=start, service="checkout",
                                       name="GET /cart", kind=SpanKind.SERVER,
                                       duration_ns=5_000_000))
    return spans


def open_store(backend: str, request: pytest.FixtureRequest, tmp_path: Path):
    if backend == "duckdb":
        return DuckDBStore(tmp_path)
    from traceway.storage.clickhouse import ClickHouseStore, Location

    client = request.getfixturevalue("chdb_client")
    location = Location(database=f"monitor_{uuid.uuid4().hex[:12]}")
    request.addfinalizer(lambda: client.command(f"DROP DATABASE `{location.database}`"))
    store = ClickHouseStore(client, location)
    if backend == "chdb-spans":  # as on the exporter's tables: no RED view, SQL over the spans
        for table in ("otel_traces_red_mv", "otel_traces_red"):
            client.command(f"DROP TABLE `{location.database}`.{table}")
        store = ClickHouseStore(client, location)
    return store


@pytest.fixture(scope="module", params=["duckdb", "chdb", "chdb-spans"])
def client(request, tmp_path_factory):
    store = open_store(request.param, request, tmp_path_factory.mktemp("monitor"))
    spans = traffic()
    store.write(batch_of(*spans[: len(spans) // 2]))
    store.write(batch_of(*spans[len(spans) // 2:]))
    yield TestClient(Starlette(routes=monitor_routes(store)))
    if request.param == "duckdb":
        store.close()  # chdb's client is the session's


def check_golden(name: str, document: dict) -> None:
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    assert document == json.loads(path.read_text()), f"{name} differs from {path}"


WINDOW = {"endTs": END_MS, "lookback": 3 * 60_000, "step": 60_000, "ratePer": 120_000}

CASES = [
    ("service_call_rate", "calls", {"service": "checkout"}),
    ("service_operation_call_rate", "calls", {"service": "checkout", "groupByOperation": "true"}),
    ("service_error_rate", "errors", {"service": "checkout"}),
    ("service_operation_error_rate", "errors", {"service": "checkout", "groupByOperation": "true"}),
    ("service_latencies", "latencies", {"service": "checkout", "quantile": "0.95"}),
    ("service_operation_latencies", "latencies",
     {"service": "checkout", "groupByOperation": "true", "quantile": "0.5"}),
    ("client_kind_has_no_series", "calls", {"service": "checkout", "spanKind": "client"}),
    ("nan_where_no_calls", "errors", {"service": "payments", "endTs": END_MS + 2 * 60_000}),
]


@pytest.mark.parametrize("name,metric,params", CASES, ids=[c[0] for c in CASES])
def test_metric_families_match_golden_files(client, name, metric, params):
    response = client.get(f"/api/metrics/{metric}", params={**WINDOW, **params})
    assert response.status_code == 200
    check_golden(name, response.json())


def test_the_monitor_tab_reads_what_it_expects(client):
    """What jaeger-ui's metrics reducer does with the answer, in Python: the first
    label is the service, each point's doubleValue.toFixed(2) is the y value."""
    calls = client.get("/api/metrics/calls", params={**WINDOW, "service": "checkout"}).json()
    (metric,) = calls["metrics"]
    assert metric["labels"][0] == {"name": "service_name", "value": "checkout"}
    # 90 calls a minute over a 2-minute window: 1.5 calls/s at every point.
    assert [round(p["gaugeValue"]["doubleValue"], 2) for p in metric["metricPoints"]] == [1.5] * 3
    errors = client.get("/api/metrics/errors", params={**WINDOW, "service": "checkout"}).json()
    assert [p["gaugeValue"]["doubleValue"] for p in errors["metrics"][0]["metricPoints"]] == [
        10 / 90] * 3


def test_minstep_is_the_rollup_minute(client):
    assert client.get("/api/metrics/minstep").json() == {
        "data": 60000, "total": 0, "limit": 0, "offset": 0, "errors": None}


@pytest.mark.parametrize("path,params,message", [
    ("calls", {}, "unable to parse param 'service': please provide at least one service name"),
    ("latencies", {"service": "a"}, "unable to parse param 'quantile': '' is not a number"),
    ("latencies", {"service": "a", "quantile": "1.5"}, "unable to parse param 'quantile'"),
    ("calls", {"service": "a", "spanKind": "sideways"},
     "unable to parse param 'spanKind': unsupported span kind: 'sideways'"),
    ("calls", {"service": "a", "endTs": "yesterday"}, "unable to parse param 'endTs'"),
    ("calls", {"service": "a", "lookback": "-5"}, "unable to parse param 'lookback'"),
    ("calls", {"service": "a", "step": "0"}, "unable to parse param 'step'"),
    ("calls", {"service": "a", "lookback": "365d", "step": "60000"},
     "unable to parse param 'step': more than 11000 points"),
    ("errors", {"service": "a", "groupByOperation": "maybe"},
     "unable to parse param 'groupByOperation'"),
])
def test_bad_parameters_get_jaegers_error_envelope(client, path, params, message):
    response = client.get(f"/api/metrics/{path}", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["data"] is None and body["errors"][0]["code"] == 400
    assert body["errors"][0]["msg"].startswith(message)


def test_services_overview_and_edges(client):
    params = {"endTs": END_MS, "lookback": "5m"}
    services = client.get("/api/red/services", params=params).json()["data"]
    assert [(s["service"], s["calls"], s["errors"]) for s in services] == [
        ("checkout", 450, 50), ("payments", 300, 0)]
    assert services[0]["ratePerSecond"] == 1.5
    assert len(services[0]["sparklines"]["rate"]) == 5
    operations = client.get("/api/red/services", params={**params, "service": "checkout"}).json()
    assert [(o["operation"], o["calls"]) for o in operations["data"]] == [
        ("GET /cart", 150), ("POST /pay", 300)]
    (edge,) = client.get("/api/red/edges", params=params).json()["data"]
    assert (edge["parent"], edge["child"], edge["callCount"], edge["errorCount"]) == (
        "checkout", "payments", 300, 0)
    assert edge["p95Ms"] == pytest.approx(8, rel=0.01)
