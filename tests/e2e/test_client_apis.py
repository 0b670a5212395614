"""Jaeger UI's /api/v3 and Zipkin Lens's /api/v2 against a real `traceway serve`.

Spans go in as real clients send them (the OpenTelemetry SDK over OTLP/HTTP, the stock
Zipkin JSON exporter, raw Zipkin JSON with a 64-bit id and a shared CLIENT/SERVER id);
every answer is checked against the client's own response schema.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from schemas.contracts import check_jaeger_v3, check_zipkin
from traceway.testing import ServerProcess

LENS_ORIGIN = "http://lens.example:8080"


@pytest.fixture(scope="module", params=["duckdb", "chdb"])
def server(request, tmp_path_factory, decoder_path):
    # decoder_path (tests/e2e/conftest.py) sets how the server decodes OTLP: one server per
    # path, on DuckDB and on ClickHouse (chdb: summaries, search and traces in its SQL).
    storage: list[str] = []
    if request.param == "chdb":
        pytest.importorskip("chdb")
        storage = ["--storage", f"chdb://{tmp_path_factory.mktemp('clients-chdb')}"]
    process = ServerProcess(tmp_path_factory.mktemp("clients") / "data",
                            extra_args=["--zipkin-cors-origins", LENS_ORIGIN,
                                        "--zipkin-autocomplete-keys", "otel.status_description",
                                        *storage]).start(timeout_s=60)
    yield process
    process.stop()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict, object]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, dict(exc.headers), json.loads(body)
        except ValueError:
            return exc.code, dict(exc.headers), body.decode()


def _send_otlp_and_zipkin_exporter(server: ServerProcess) -> tuple[str, str]:
    """One trace over OTLP/HTTP (shop -> payment), one over the stock Zipkin exporter."""
    ids = []
    for service, exporter in (
            ("shop", OTLPSpanExporter(endpoint=server.otlp_http_url + "/v1/traces")),
            ("ledger", ZipkinExporter(endpoint=server.zipkin_url))):
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("e2e-clients", "1.0")
        with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER) as root:
            root.set_attribute("http.status_code", 500)
            with tracer.start_as_current_span("charge", kind=SpanKind.CLIENT) as call:
                call.set_attribute("peer.service", "payment")
                call.add_event("retry", {"attempt": 2})
                call.set_status(Status(StatusCode.ERROR, "declined"))
        provider.force_flush()
        provider.shutdown()
        ids.append(format(root.get_span_context().trace_id, "032x"))
    return ids[0], ids[1]


def _send_raw_zipkin(server: ServerProcess) -> list[dict]:
    now_us = time.time_ns() // 1000 - 2_000_000
    spans = [
        {"traceId": "7a2b3c4d5e6f7081", "id": "1000000000000001", "kind": "SERVER",
         "name": "get /", "timestamp": now_us, "duration": 9000,
         "localEndpoint": {"serviceName": "edge", "ipv4": "10.0.0.1", "port": 80},
         "tags": {"http.method": "GET"}},
        {"traceId": "7a2b3c4d5e6f7081", "parentId": "1000000000000001", "id": "1000000000000002",
         "kind": "CLIENT", "name": "get /api", "timestamp": now_us + 100, "duration": 5000,
         "localEndpoint": {"serviceName": "edge"}, "remoteEndpoint": {"serviceName": "api"},
         "annotations": [{"timestamp": now_us + 150, "value": "ws"}]},
        {"traceId": "7a2b3c4d5e6f7081", "parentId": "1000000000000001", "id": "1000000000000002",
         "kind": "SERVER", "name": "get /api", "timestamp": now_us + 200, "duration": 4000,
         "shared": True, "localEndpoint": {"serviceName": "api"},
         "tags": {"error": "upstream timeout"}},
    ]
    request = urllib.request.Request(server.zipkin_url, data=json.dumps(spans).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 202
    return spans


@pytest.fixture(scope="module")
def sent(server):
    otlp_trace, zipkin_exporter_trace = _send_otlp_and_zipkin_exporter(server)
    raw = _send_raw_zipkin(server)
    for trace_id, spans in ((otlp_trace, 2), (zipkin_exporter_trace, 2), ("7a2b3c4d5e6f7081", 3)):
        server.wait_for_trace(trace_id, spans)
    return {"otlp": otlp_trace, "zipkin_exporter": zipkin_exporter_trace, "raw": raw}


def test_jaeger_ui_search_page_calls(server, sent):
    v3 = server.ui_url + "/api/v3"
    status, headers, services = _get(v3 + "/services")
    check_jaeger_v3("ServicesResponse", services)
    assert {"shop", "ledger", "edge", "api"} <= set(services["services"])

    status, _, operations = _get(v3 + "/operations?service=shop")
    check_jaeger_v3("OperationsResponse", operations)
    assert {(o["name"], o["spanKind"]) for o in operations["operations"]} == {
        ("GET /cart", "server"), ("charge", "client")}

    # What Jaeger UI's client sends for a search (times from toISOString()).
    since = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 600))
    query = urllib.parse.urlencode({"query.service_name": "shop", "query.start_time_min": since,
                                    "query.num_traces": "20", "query.duration_min": "0.000001s",
                                    "query.attributes": json.dumps({"error": "true"})})
    status, _, found = _get(f"{v3}/trace-summaries?{query}")
    assert status == 200
    check_jaeger_v3("TraceSummariesResponse", found)
    (summary,) = found["summaries"]
    assert summary["traceId"] == sent["otlp"]
    assert (summary["rootServiceName"], summary["rootOperationName"]) == ("shop", "GET /cart")
    assert (summary["spanCount"], summary["errorSpanCount"], summary["orphanSpanCount"]) == (2, 1, 0)
    assert summary["services"] == [{"name": "shop", "spanCount": 2, "errorSpanCount": 1}]


def test_jaeger_v3_trace_is_otlp_json(server, sent):
    status, _, trace = _get(f"{server.ui_url}/api/v3/traces/{sent['otlp']}")
    assert status == 200
    check_jaeger_v3("GetTraceResponse", trace)
    spans = {s["name"]: s for rs in trace["result"]["resourceSpans"]
             for ss in rs["scopeSpans"] for s in ss["spans"]}
    assert spans["charge"]["kind"] == 3 and spans["charge"]["status"]["code"] == 2
    assert spans["charge"]["parentSpanId"] == spans["GET /cart"]["spanId"]
    status, _, answer = _get(f"{server.ui_url}/api/v3/traces/{'0' * 31}1")
    assert status == 404
    check_jaeger_v3("ErrorResponse", answer)


def test_unknown_api_paths_are_json_404s(server):
    for path in ("/api/v3/nothing", "/api/nothing", "/analytics/v1/anything"):
        status, headers, body = _get(server.ui_url + path)
        assert status == 404 and headers["content-type"].startswith("application/json"), path


def test_zipkin_lens_discover_page_calls(server, sent):
    zipkin = f"http://127.0.0.1:{server.zipkin_port}/api/v2"
    status, _, services = _get(zipkin + "/services")
    check_zipkin("ListOfStrings", services)
    assert {"shop", "ledger", "edge", "api"} <= set(services)
    _, _, names = _get(zipkin + "/spans?serviceName=ledger")
    assert names == ["GET /cart", "charge"]
    _, _, remotes = _get(zipkin + "/remoteServices?serviceName=shop")
    assert remotes == ["payment"]
    query = urllib.parse.urlencode({"serviceName": "ledger", "remoteServiceName": "payment",
                                    "annotationQuery": "otel.status_description=declined and error", "minDuration": "1",
                                    "endTs": str(time.time_ns() // 10**6), "lookback": "600000",
                                    "limit": "10"})
    status, _, traces = _get(f"{zipkin}/traces?{query}")
    check_zipkin("ListOfTraces", traces)
    assert [t[0]["traceId"] for t in traces] == [sent["zipkin_exporter"]]
    charge = next(s for s in traces[0] if s["name"] == "charge")
    assert charge["tags"]["error"] == "true"
    assert charge["remoteEndpoint"] == {"serviceName": "payment"}
    # The stock exporter writes an event with attributes as JSON text: it comes back so.
    assert charge["annotations"][0]["value"] == '{"retry": {"attempt": 2}}'
    # Lens's search bar offers the configured keys and their recent values.
    assert _get(zipkin + "/autocompleteKeys")[2] == ["otel.status_description"]
    assert "declined" in _get(zipkin + "/autocompleteValues?key=otel.status_description")[2]


def test_zipkin_trace_comes_back_as_sent(server, sent):
    zipkin = f"http://127.0.0.1:{server.zipkin_port}/api/v2"
    status, headers, trace = _get(zipkin + "/trace/7a2b3c4d5e6f7081", {"Origin": LENS_ORIGIN})
    assert status == 200 and headers["access-control-allow-origin"] == LENS_ORIGIN
    check_zipkin("Trace", trace)
    key = lambda s: (s["id"], s["kind"])  # noqa: E731
    assert sorted(trace, key=key) == sorted(sent["raw"], key=key)

    _, _, otlp = _get(f"{zipkin}/trace/{sent['otlp']}")
    check_zipkin("Trace", otlp)
    charge = next(s for s in otlp if s["name"] == "charge")
    assert charge["kind"] == "CLIENT" and charge["tags"]["error"] == "true"
    assert charge["annotations"][0]["value"] == 'retry|{"attempt":2}|0'
    assert charge["localEndpoint"] == {"serviceName": "shop"}

    _, _, many = _get(f"{zipkin}/traceMany?traceIds=7a2b3c4d5e6f7081,{sent['otlp']}")
    check_zipkin("ListOfTraces", many)
    assert sorted(len(t) for t in many) == [2, 3]
    # A trailing slash is no such path (urllib would follow a redirect to the trace).
    assert _get(zipkin + "/trace/7a2b3c4d5e6f7081/")[0] == 404


def test_zipkin_dependencies_and_cors(server, sent):
    zipkin = f"http://127.0.0.1:{server.zipkin_port}/api/v2"
    status, _, links = _get(f"{zipkin}/dependencies?endTs={time.time_ns() // 10**6}&lookback=600000")
    check_zipkin("ListOfDependencyLinks", links)
    # The shared CLIENT/SERVER pair is one call, failed by the server's error tag.
    assert {"parent": "edge", "child": "api", "callCount": 1, "errorCount": 1} in links
    _, headers, _ = _get(zipkin + "/services", {"Origin": "http://elsewhere.example"})
    assert "access-control-allow-origin" not in headers
