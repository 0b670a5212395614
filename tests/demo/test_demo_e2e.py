"""The demo shop against a real `traceway serve`, checked through the Jaeger query API."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.parse

import pytest

SHOP = {"frontend", "checkout", "payment", "inventory", "worker"}


def _tags(span):
    return {t["key"]: t["value"] for t in span.get("tags", [])}


def _service(trace, span):
    return trace["processes"][span["processID"]]["serviceName"]


def _parents(span):
    return [r["spanID"] for r in span.get("references", []) if r["refType"] == "CHILD_OF"]


def _traces(server, **params):
    query = urllib.parse.urlencode({"limit": 500, "lookback": "1h", **params})
    return server.api(f"/api/traces?{query}")["data"]


@pytest.fixture(scope="module")
def demo_traces(tmp_path_factory):
    from traceway.testing import ServerProcess

    server = ServerProcess(tmp_path_factory.mktemp("demo") / "data").start()
    try:
        demo = subprocess.run(
            [sys.executable, "-m", "traceway.demo", "--otlp-endpoint", server.otlp_http_url, "--duration", "8", "--rate", "15"],
            capture_output=True, text=True, timeout=90, check=False,
        )
        assert demo.returncode == 0, demo.stderr[-3000:]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if set(server.api("/api/services")["data"]) >= SHOP and _traces(server, service="worker"):
                break
            time.sleep(0.5)
        yield server
    finally:
        server.stop()


def test_at_least_four_services(demo_traces):
    services = set(demo_traces.api("/api/services")["data"])
    assert len(services & SHOP) >= 4, services


def _complete_checkouts(server):
    for trace in _traces(server, service="frontend", operation="POST /checkout"):
        ids = {s["spanID"] for s in trace["spans"]}
        roots = [s for s in trace["spans"] if not _parents(s)]
        services = {_service(trace, s) for s in trace["spans"]}
        if len(roots) == 1 and all(set(_parents(s)) <= ids for s in trace["spans"]) and services >= SHOP:
            yield trace


def test_checkout_trace_is_complete_across_services(demo_traces):
    trace = next(_complete_checkouts(demo_traces), None)
    assert trace is not None, "no checkout trace spans frontend, checkout, payment, inventory and worker with every parent present"


def test_consumer_span_is_a_child_of_the_producer(demo_traces):
    trace = next(_complete_checkouts(demo_traces))
    by_id = {s["spanID"]: s for s in trace["spans"]}
    consumers = [s for s in trace["spans"] if _tags(s).get("span.kind") == "consumer"]
    assert consumers
    for consumer in consumers:
        assert _service(trace, consumer) == "worker"
        (parent_id,) = _parents(consumer)
        producer = by_id[parent_id]
        assert _tags(producer).get("span.kind") == "producer"
        assert _service(trace, producer) == "checkout"
        assert _tags(consumer)["messaging.destination.name"] == "orders"


def test_errors_are_marked_with_exception_events(demo_traces):
    error_spans = [
        (trace, span)
        for service in ("payment", "checkout", "worker")
        for trace in _traces(demo_traces, service=service, tags='{"error":"true"}')
        for span in trace["spans"]
        if _tags(span).get("error") in (True, "true")
    ]
    assert error_spans, "no span marked error=true"
    with_exception = [
        span for _, span in error_spans
        if any({"key": "event", "type": "string", "value": "exception"} in log["fields"] for log in span.get("logs", []))
    ]
    assert with_exception, "no error span carries an exception event"
    statuses = {_tags(span).get("http.response.status_code") for _, span in error_spans}
    assert 503 in statuses  # payment's deliberate 5xx


def test_broken_path_shows_as_a_separate_trace(demo_traces):
    orphans = [
        trace for trace in _traces(demo_traces, service="inventory", operation="GET /stock")
        for span in trace["spans"]
        if not _parents(span) and span["operationName"] == "GET /stock" and _service(trace, span) == "inventory"
    ]
    assert orphans, "inventory never started a trace of its own"
    recommendations = _traces(demo_traces, service="frontend", operation="GET /recommendations")
    assert recommendations
    for trace in recommendations:
        assert {_service(trace, s) for s in trace["spans"]} == {"frontend"}
        client = [s for s in trace["spans"] if _tags(s).get("span.kind") == "client"]
        assert client and _tags(client[0]).get("demo.context_propagated") is False


# The spans where the demo's faults start (README.md, "Faults, on purpose").
FAULT_ORIGINS = {("payment", "POST /charge"), ("payment", "authorize card"),
                 ("checkout", "validate coupon"), ("worker", "send confirmation email")}


def test_error_traces_point_at_the_span_where_each_error_started(demo_traces):
    traces = _traces(demo_traces, tags='{"error":"true"}')
    assert traces, "the demo produced no error traces"
    seen = set()
    for trace in traces:
        origins = demo_traces.api(f"/api/traces/{trace['traceID']}/error-origins")["data"]
        by_id = {s["spanID"]: s for s in trace["spans"]}
        assert origins["origins"], f"trace {trace['traceID']} has errors but no origin"
        for origin in origins["origins"]:
            where = (origin["service"], origin["operation"])
            assert where in FAULT_ORIGINS, f"{where} is not where a demo fault starts"
            seen.add(where)
            if where == ("payment", "POST /charge"):
                # Its own 503, not the acquirer timeout of its child (that one is the origin).
                assert not origin["exceptions"]
            for ancestor in origin["inheritedBy"]:
                assert (_service(trace, by_id[ancestor]), by_id[ancestor]["operationName"]) not in FAULT_ORIGINS - {("payment", "POST /charge")}
        # Every failing frontend request points below itself.
        for span in trace["spans"]:
            if _service(trace, span) == "frontend" and _tags(span).get("error"):
                assert span["spanID"] in origins["inherited"]
    assert len(seen) >= 2, seen
    exceptions = {e["type"] for t in traces
                  for o in demo_traces.api(f"/api/traces/{t['traceID']}/error-origins")["data"]["origins"]
                  for e in o["exceptions"]}
    assert exceptions & {"traceway.demo.shop.AcquirerTimeoutError", "traceway.demo.shop.CouponError",
                         "traceway.demo.shop.SMTPTimeoutError", "AcquirerTimeoutError", "CouponError",
                         "SMTPTimeoutError"}, exceptions
