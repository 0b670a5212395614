"""`traceway serve --storage chdb://…`: the Jaeger API over the ClickHouse
backend, over tables the OpenTelemetry Collector's exporter made, and the
collector and query roles (each alone on chdb, which one process opens at a
time; together against a server when TRACEWAY_CLICKHOUSE_URL is set)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from traceway.testing import ServerProcess

pytest.importorskip("chdb")

HERE = Path(__file__).parent
TRACE = "5b8efff798038103d269b633813fc60c"
LINKED = "0af7651916cd43dd8448eb211c80319c"


def exporter_database(path: Path, t0_ns: int) -> None:
    subprocess.run([sys.executable, str(HERE / "otel_exporter_tables.py"), str(path), TRACE,
                    LINKED, str(t0_ns)], check=True, timeout=120)


def tags(span: dict) -> dict:
    return {t["key"]: t["value"] for t in span["tags"]}


@pytest.mark.parametrize("create", ["true", "false"])
def test_spans_the_otel_exporter_wrote_are_served_by_the_jaeger_api(tmp_path, create):
    t0_ns = (time.time_ns() // 10**9 - 60) * 10**9
    exporter_database(tmp_path / "ch", t0_ns)
    server = ServerProcess(tmp_path / "data", extra_args=[
        "--storage", f"chdb://{tmp_path / 'ch'}?create={create}"]).start(timeout_s=60)
    try:
        trace = server.api(f"/api/traces/{TRACE}")["data"][0]
        spans = {s["spanID"]: s for s in trace["spans"]}
        assert list(spans) == ["a1a1a1a1a1a1a1a1", "b2b2b2b2b2b2b2b2", "d4d4d4d4d4d4d4d4"]
        root, charge, legacy = spans.values()
        assert root["startTime"] == t0_ns // 1000 and root["duration"] == 250_000
        assert tags(root) == {"otel.scope.name": "io.opentelemetry.flask",
                              "otel.scope.version": "0.45b0", "http.route": "/checkout",
                              "http.status_code": "200", "span.kind": "server",
                              "otel.status_code": "OK", "w3c.tracestate": "vendor=1"}
        assert root["logs"] == [{"timestamp": t0_ns // 1000 + 1, "fields": [
            {"key": "event", "type": "string", "value": "request.read"},
            {"key": "bytes", "type": "string", "value": "512"}]}]
        assert {"refType": "FOLLOWS_FROM", "traceID": LINKED,
                "spanID": "c3c3c3c3c3c3c3c3"} in root["references"]
        assert trace["processes"][root["processID"]]["tags"] == [
            {"key": "host.name", "type": "string", "value": "web-1"}]
        assert tags(charge)["error"] is True
        assert tags(charge)["otel.status_description"] == "card declined"
        assert charge["references"][0]["spanID"] == "a1a1a1a1a1a1a1a1"
        # Older exporters' spellings, and the scope they kept among the attributes.
        assert tags(legacy) == {"otel.scope.name": "old-lib", "span.kind": "server",
                                "otel.status_code": "ERROR", "error": True}
        assert server.api("/api/services")["data"] == ["bank", "frontend", "payment"]
        lookback = "&lookback=2h"
        for query, found in [("service=frontend&tags=%7B%22http.status_code%22%3A%22200%22%7D", 1),
                             ("service=bank&tags=%7B%22error%22%3A%22true%22%7D", 1),
                             ("service=frontend&tags=%7B%22error%22%3A%22true%22%7D", 0)]:
            assert len(server.api(f"/api/traces?{query}{lookback}")["data"]) == found, query
        end_ms = time.time_ns() // 10**6
        links = server.api(f"/api/dependencies?endTs={end_ms}&lookback=3600000")["data"]
        assert links == [{"parent": "frontend", "child": "payment", "callCount": 1},
                         {"parent": "payment", "child": "bank", "callCount": 1}]
        # RED without Traceway's rollup view: SQL over the exporter's spans.
        window = f"endTs={end_ms + 60_000}&lookback=600000"
        services = server.api(f"/api/red/services?{window}")["data"]
        assert [(s["service"], s["calls"], s["errors"]) for s in services] == [
            ("bank", 1, 1), ("frontend", 1, 0)]  # their own work: SERVER spans, both spellings
        assert services[1]["p95Ms"] == pytest.approx(250, rel=0.01)
        edges = server.api(f"/api/red/edges?{window}")["data"]
        assert [(e["parent"], e["child"], e["callCount"], e["errorCount"]) for e in edges] == [
            ("frontend", "payment", 1, 1), ("payment", "bank", 1, 1)]
        errors = server.api(f"/api/metrics/errors?service=bank&{window}&step=60000")["metrics"]
        ratios = {p["gaugeValue"]["doubleValue"] for p in errors[0]["metricPoints"]}
        assert ratios - {"NaN"} == {1.0}  # bank's one call failed
    finally:
        server.stop()
