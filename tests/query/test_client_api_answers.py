"""Every answer of Jaeger's /api/v3 and Zipkin's /api/v2 read API: golden JSON, valid against
the clients' own response schemas (Jaeger UI's zod schemas, zipkin2-api.yaml).

Served from a MemoryStore holding spans that arrived over OTLP (built with make_span) and as
Zipkin (tests/convert/golden/zipkin/frontend-backend.json, with a shared CLIENT/SERVER id).
Run with UPDATE_GOLDEN=1 to rewrite the files under golden/, then review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from schemas.contracts import check_jaeger_v3, check_zipkin
from traceway.convert.zipkin import spans_from_zipkin_json
from traceway.model import SpanKind, StatusCode
from traceway.query.jaeger_v3_api import jaeger_v3_routes
from traceway.query.zipkin_api import autocomplete_values, zipkin_read_routes
from traceway.storage.memory import MemoryStore
from traceway.storage.testspans import batch_of, make_span

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
ZIPKIN_INPUT = HERE.parent / "convert" / "golden" / "zipkin" / "frontend-backend.json"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
T0 = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z
MS = 1_000_000
OTLP_TRACE = "0af7651916cd43dd8448eb211c80319c"
ZIPKIN_TRACE = "5af7183fb1d4cf5f"


def _otlp_spans():
    tid = bytes.fromhex(OTLP_TRACE)
    return [
        make_span(tid, 1, start_ns=T0, duration_ns=120 * MS, service="frontend",
                  name="GET /checkout", kind=SpanKind.SERVER,
                  attributes={"http.route": "/checkout", "http.status_code": 200},
                  resource={"host.name": "web-1"}, scope_name="io.opentelemetry.flask",
                  scope_version="0.48b0"),
        make_span(tid, 2, parent=1, start_ns=T0 + 5 * MS, duration_ns=80 * MS, service="frontend",
                  name="POST payment", kind=SpanKind.CLIENT,
                  attributes={"peer.service": "payment", "server.address": "pay.internal",
                              "server.port": 8443, "retry": True, "ratio": 0.25,
                              "blob": b"\x00\xff"},
                  events=[("retry", {"attempt": 2})], links=[{"why": "batch"}],
                  trace_state="vendor=1"),
        make_span(tid, 3, parent=2, start_ns=T0 + 6 * MS, duration_ns=70 * MS, service="payment",
                  name="POST /charge", kind=SpanKind.SERVER, status_code=StatusCode.ERROR,
                  status_message="card declined", events=[("exception", {})]),
        make_span(tid, 4, parent=99, start_ns=T0 + 7 * MS, duration_ns=1 * MS, service="audit",
                  name="log", kind=SpanKind.PRODUCER),
    ]


@pytest.fixture(scope="module")
def clients():
    store = MemoryStore()
    store.write(batch_of(*_otlp_spans()))
    store.write(spans_from_zipkin_json(ZIPKIN_INPUT.read_bytes()).batch)
    app = Starlette(routes=jaeger_v3_routes(store)
                    + zipkin_read_routes(store, autocomplete_keys=("http.method", "http.route")))
    with TestClient(app) as client:
        yield client


WINDOW = "query.start_time_min=2023-11-14T22:00:00Z&query.start_time_max=2023-11-15T00:00:00.5%2B01:00"
ZIPKIN_WINDOW = f"endTs={T0 // MS + 60_000}&lookback=3600000"
# (golden name, path, schema definition, status)
JAEGER_V3 = [
    ("v3-services", "/api/v3/services", "ServicesResponse", 200),
    ("v3-operations", "/api/v3/operations?service=frontend", "OperationsResponse", 200),
    ("v3-operations-client", "/api/v3/operations?service=frontend&span_kind=client",
     "OperationsResponse", 200),
    ("v3-trace-summaries", f"/api/v3/trace-summaries?{WINDOW}", "TraceSummariesResponse", 200),
    ("v3-trace-summaries-errors",
     "/api/v3/trace-summaries?query.serviceName=payment&query.startTimeMin=2023-11-14T22:00:00Z"
     "&query.attributes=%7B%22error%22%3Atrue%7D&query.durationMin=0.05s&query.searchDepth=5",
     "TraceSummariesResponse", 200),
    ("v3-trace", f"/api/v3/traces/{OTLP_TRACE}", "GetTraceResponse", 200),
    ("v3-trace-from-zipkin", f"/api/v3/traces/{ZIPKIN_TRACE}?start_time=2019-04-30T06:02:52Z",
     "GetTraceResponse", 200),
    ("v3-traces", f"/api/v3/traces?{WINDOW}&query.service_name=payment", "GetTraceResponse", 200),
    ("v3-trace-unknown", "/api/v3/traces/00000000000000000000000000000bad", "ErrorResponse", 404),
    ("v3-traces-none", f"/api/v3/traces?{WINDOW}&query.service_name=nobody", "ErrorResponse", 404),
    ("v3-bad-duration", "/api/v3/trace-summaries?query.duration_min=fast", "ErrorResponse", 400),
    ("v3-bad-time", "/api/v3/traces?query.start_time_min=yesterday", "ErrorResponse", 400),
    ("v3-bad-attributes", "/api/v3/trace-summaries?query.attributes=%7Bbroken",
     "ErrorResponse", 400),
    ("v3-bad-trace-id", "/api/v3/traces/xyz", "ErrorResponse", 400),
    ("v3-unknown-endpoint", "/api/v3/spans", "ErrorResponse", 404),
]
ZIPKIN = [
    ("zipkin-services", "/api/v2/services", "ListOfStrings"),
    ("zipkin-spans", "/api/v2/spans?serviceName=frontend", "ListOfStrings"),
    ("zipkin-traces", f"/api/v2/traces?{ZIPKIN_WINDOW}", "ListOfTraces"),
    ("zipkin-traces-by-annotation-query",
     f"/api/v2/traces?{ZIPKIN_WINDOW}&annotationQuery=http.status_code%3D200%20and%20http.route",
     "ListOfTraces"),
    ("zipkin-traces-by-remote-service",
     f"/api/v2/traces?{ZIPKIN_WINDOW}&serviceName=frontend&remoteServiceName=payment"
     "&minDuration=50000&maxDuration=90000", "ListOfTraces"),
    ("zipkin-trace-otlp", f"/api/v2/trace/{OTLP_TRACE}", "Trace"),
    ("zipkin-trace-64-bit", f"/api/v2/trace/{ZIPKIN_TRACE}", "Trace"),
    ("zipkin-trace-many", f"/api/v2/traceMany?traceIds={ZIPKIN_TRACE},{OTLP_TRACE},abc",
     "ListOfTraces"),
    ("zipkin-dependencies", f"/api/v2/dependencies?{ZIPKIN_WINDOW}", "ListOfDependencyLinks"),
    ("zipkin-autocomplete-keys", "/api/v2/autocompleteKeys", "ListOfStrings"),
    ("zipkin-autocomplete-values", "/api/v2/autocompleteValues?key=http.method", "ListOfStrings"),
]


def _check_golden(name: str, document: object) -> None:
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1"
    assert document == json.loads(path.read_text()), f"{name} differs from {path.name}"


@pytest.mark.parametrize("name,path,definition,status", JAEGER_V3, ids=[c[0] for c in JAEGER_V3])
def test_jaeger_v3_answer(clients, name, path, definition, status):
    answer = clients.get(path)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    check_jaeger_v3(definition, answer.json())
    _check_golden(name, answer.json())


@pytest.mark.parametrize("name,path,definition", ZIPKIN, ids=[c[0] for c in ZIPKIN])
def test_zipkin_answer(clients, name, path, definition):
    answer = clients.get(path)
    assert answer.status_code == 200, answer.text
    check_zipkin(definition, answer.json())
    _check_golden(name, answer.json())


@pytest.mark.parametrize("path,message", [
    ("/api/v2/spans", "serviceName is required"),
    ("/api/v2/traces?maxDuration=5", "maxDuration is only valid with minDuration"),
    ("/api/v2/traces?limit=many", "limit must be an integer, got 'many'"),
    ("/api/v2/traceMany?traceIds=", "traceIds parameter is empty"),
    ("/api/v2/trace/nothex", "trace id 'nothex' is not hexadecimal"),
    ("/api/v2/autocompleteValues", "key is required"),
])
def test_zipkin_bad_parameters_get_400_with_the_reason(clients, path, message):
    answer = clients.get(path)
    assert (answer.status_code, answer.text) == (400, message)


def test_zipkin_autocomplete_values_are_the_recent_values_of_configured_keys():
    store = MemoryStore()
    store.write(batch_of(*_otlp_spans()))
    store.write(spans_from_zipkin_json(ZIPKIN_INPUT.read_bytes()).batch)
    zipkin_now = 1_556_604_172_356_000 * 1000 + 60 * 10**9
    assert autocomplete_values(store, "http.method", now_ns=zipkin_now) == ["GET"]
    assert autocomplete_values(store, "http.path", now_ns=zipkin_now) == ["/", "/api"]
    assert autocomplete_values(store, "http.route", now_ns=T0 + 60 * 10**9) == ["/checkout"]
    # Only recent traces count: a day later there are none.
    assert autocomplete_values(store, "http.route", now_ns=T0 + 2 * 86_400 * 10**9) == []


def test_zipkin_autocomplete_offers_only_the_configured_keys(clients):
    assert clients.get("/api/v2/autocompleteKeys").json() == ["http.method", "http.route"]
    assert clients.get("/api/v2/autocompleteValues?key=http.path").json() == []


def test_zipkin_unknown_trace_is_404(clients):
    assert clients.get("/api/v2/trace/00000000000000ab").status_code == 404


def test_summaries_agree_with_the_traces_they_summarise(clients):
    summary = next(s for s in clients.get(f"/api/v3/trace-summaries?{WINDOW}").json()["summaries"]
                   if s["traceId"] == OTLP_TRACE)
    spans = [span for rs in clients.get(f"/api/v3/traces/{OTLP_TRACE}").json()["result"]
             ["resourceSpans"] for ss in rs["scopeSpans"] for span in ss["spans"]]
    assert summary["spanCount"] == len(spans) == 4
    assert summary["errorSpanCount"] == sum(s.get("status", {}).get("code") == 2 for s in spans)
    assert summary["minStartTimeUnixNano"] == min(s["startTimeUnixNano"] for s in spans)
    assert (summary["rootServiceName"], summary["rootOperationName"], summary["orphanSpanCount"]) \
        == ("frontend", "GET /checkout", 1)
