"""A stored span that cannot be decoded is a warning on that span, never a 500
for the whole trace or search (issue 8, bug 2)."""

from __future__ import annotations

import dataclasses
import json

import duckdb
import httpx

import traceway
from traceway.storage.duckdb import DuckDBStore
from traceway.storage.testspans import batch_of, make_span
from traceway.testing import ServerProcess

T0 = 1_700_000_000_000_000_000


def test_a_broken_span_degrades_to_a_warning(tmp_path):
    data = tmp_path / "data"
    healthy = make_span(0xE1, 1, start_ns=T0, service="broken-svc", name="healthy",
                        attributes={"k": "v"})
    # What the old fast path stored for kind 200: the detail cut one byte short.
    broken = dataclasses.replace(make_span(0xE1, 2, start_ns=T0 + 5, parent=1,
                                           service="broken-svc", name="broken"),
                                 detail=b"\x4a\xff\xff\xff")
    odd_resource = make_span(0xE2, 1, start_ns=T0, service="broken-svc", name="odd-resource",
                             resource={"host.name": "odd-host"})
    store = DuckDBStore(data)
    store.write(batch_of(healthy, broken, odd_resource))
    store.close()
    with duckdb.connect(str(data / "traceway.duckdb")) as con:  # damage one stored resource
        con.execute("UPDATE resources SET body = ? WHERE contains(body, 'odd-host')",
                    ["\x0a\x05ab"])

    server = ServerProcess(data).start()
    try:
        trace = server.api(f"/api/traces/{healthy.trace_id.hex()}")["data"][0]
        by_name = {span["operationName"]: span for span in trace["spans"]}
        assert by_name["healthy"]["warnings"] is None
        assert {"key": "k", "type": "string", "value": "v"} in by_name["healthy"]["tags"]
        (warning,) = by_name["broken"]["warnings"]
        assert "could not be decoded" in warning
        assert by_name["broken"]["references"][0]["spanID"] == healthy.span_id.hex()

        found = server.api("/api/traces?service=broken-svc&limit=20&lookback=custom"
                           f"&start={T0 // 1000 - 10}&end={T0 // 1000 + 10_000}")["data"]
        assert len(found) == 2
        tagged = httpx.get(server.ui_url + "/api/traces", params={
            "service": "broken-svc", "tags": '{"k":"v"}', "start": T0 // 1000 - 10,
            "end": T0 // 1000 + 10_000})
        assert tagged.status_code == 200
        assert [t["traceID"] for t in tagged.json()["data"]] == [healthy.trace_id.hex()]

        # The other read APIs leave the broken part out rather than failing.
        zipkin = httpx.get(server.zipkin_url.replace("/spans", "/trace/")
                           + healthy.trace_id.hex())
        assert zipkin.status_code == 200 and len(zipkin.json()) == 2
        v3 = httpx.get(f"{server.ui_url}/api/v3/traces/{healthy.trace_id.hex()}")
        assert v3.status_code == 200

        odd = server.api(f"/api/traces/{odd_resource.trace_id.hex()}")["data"][0]
        assert odd["spans"][0]["warnings"]
        assert odd["processes"]["p1"]["serviceName"] == "broken-svc"

        # The diagnosis endpoints analyse what decodes and leave the broken part out.
        trace_id = healthy.trace_id.hex()
        window = {"end": T0 // 1000 + 10_000, "lookback": "1h"}
        for path, params in [
                (f"/api/traces/{trace_id}/critical-path", {}),
                (f"/api/traces/{trace_id}/error-origins", {}),
                (f"/api/traces/{trace_id}/statistics", {}),
                (f"/api/traces/{trace_id}", {"adjustClockSkew": "true"}),
                ("/api/compare", {"a": trace_id, "b": odd_resource.trace_id.hex()}),
                ("/api/analysis/attributes", {**window, "service": "broken-svc",
                                              "by": "latency", "threshold": "1ns"}),
                ("/api/analysis/propagation", window),
                ("/api/analysis/coverage", window)]:
            answer = httpx.get(server.ui_url + path, params=params)
            assert answer.status_code == 200, (path, answer.text)
        statistics = httpx.get(f"{server.ui_url}/api/traces/{trace_id}/statistics").json()
        assert "broken" in json.dumps(statistics)
    finally:
        server.stop()

    # The Python API returns the broken span with what its columns hold.
    with traceway.connect(data) as connection:
        spans = connection.spans(service="broken-svc", lookback="20000d").to_pylist()
    by_name = {span["operation"]: span for span in spans}
    assert by_name["broken"]["attributes"] == []
    assert ("k", "v") in by_name["healthy"]["attributes"]
