"""OTLP/JSON traces for the UI tests and the UI render bench (hex ids, ns times as strings)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from traceway.testing import ServerProcess

SERVICES = ["frontend", "checkout", "payments", "inventory", "shipping", "email", "currency", "ads"]


def new_trace_id() -> str:
    return os.urandom(16).hex()


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _request(spans_by_service: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {"resourceSpans": [
        {"resource": {"attributes": [_attr("service.name", svc), _attr("host.name", f"{svc}-host-1")]},
         "scopeSpans": [{"scope": {"name": "traceway.tests", "version": "1.0"}, "spans": spans}]}
        for svc, spans in spans_by_service.items()
    ]}


def checkout_trace(trace_id: str, *, root_service: str = "frontend", linked_trace_id: str | None = None,
                   now_ns: int | None = None) -> dict[str, Any]:
    """Four spans over three services: root -> checkout -> payments (error, with an event), and
    checkout -> inventory. Optionally the payments span links to another trace."""
    t0 = (now_ns or time.time_ns()) - 2_000_000_000
    ms = 1_000_000
    ids = [os.urandom(8).hex() for _ in range(4)]

    def span(i: int, parent: str, name: str, kind: int, start_ms: int, dur_ms: int, **extra: Any) -> dict[str, Any]:
        return {"traceId": trace_id, "spanId": ids[i], "parentSpanId": parent, "name": name, "kind": kind,
                "startTimeUnixNano": str(t0 + start_ms * ms), "endTimeUnixNano": str(t0 + (start_ms + dur_ms) * ms),
                **extra}

    payment = span(2, ids[1], "charge card", 3, 30, 80,
                   attributes=[_attr("http.status_code", 500), _attr("payment.provider", "acme-pay")],
                   events=[{"timeUnixNano": str(t0 + 95 * ms), "name": "card declined",
                            "attributes": [_attr("decline.code", "insufficient_funds")]}],
                   status={"code": 2, "message": "card declined by issuer"})
    if linked_trace_id:
        payment["links"] = [{"traceId": linked_trace_id, "spanId": "00000000000000aa", "attributes": []}]
    return _request({
        root_service: [span(0, "", "GET /checkout", 2, 0, 200, attributes=[_attr("http.method", "GET"), _attr("http.status_code", 500)])],
        "checkout": [span(1, ids[0], "PlaceOrder", 2, 10, 150, attributes=[_attr("order.items", 3)])],
        "payments": [payment],
        "inventory": [span(3, ids[1], "ReserveItems", 3, 20, 40, attributes=[_attr("db.system", "postgresql")])],
    })


def big_trace(trace_id: str, spans: int, *, fanout: int = 8, now_ns: int | None = None) -> dict[str, Any]:
    """A trace of ``spans`` spans shaped as a tree with ``fanout`` children per span (breadth
    first), spread over eight services; every 97th span is an error."""
    t0 = (now_ns or time.time_ns()) - 5_000_000_000
    ids = [os.urandom(8).hex() for _ in range(spans)]
    starts = [0] * spans
    durations = [0] * spans
    durations[0] = 4_000_000_000
    by_service: dict[str, list[dict[str, Any]]] = {s: [] for s in SERVICES}
    for i in range(spans):
        parent = (i - 1) // fanout if i else -1
        if i:
            slot = (i - 1) % fanout
            pdur = durations[parent]
            starts[i] = starts[parent] + pdur * slot // (fanout + 1)
            durations[i] = max(1000, pdur // (fanout + 2))
        svc = SERVICES[(i * 7 + (i // fanout)) % len(SERVICES)]
        s: dict[str, Any] = {
            "traceId": trace_id, "spanId": ids[i], "parentSpanId": ids[parent] if parent >= 0 else "",
            "name": f"op-{i % 50}", "kind": 2 if i % 2 else 3,
            "startTimeUnixNano": str(t0 + starts[i]), "endTimeUnixNano": str(t0 + starts[i] + durations[i]),
            "attributes": [_attr("span.index", i), _attr("http.route", f"/api/item/{i % 200}")],
        }
        if i and i % 97 == 0:
            s["status"] = {"code": 2, "message": "synthetic failure"}
        by_service[svc].append(s)
    return _request({k: v for k, v in by_service.items() if v})


def send_otlp(otlp_http_port: int, body: dict[str, Any], *, chunk_spans: int = 20_000) -> None:
    """POSTs an OTLP/JSON request to the collector, split so no single body is huge."""
    for part in _chunks(body, chunk_spans):
        req = urllib.request.Request(
            f"http://127.0.0.1:{otlp_http_port}/v1/traces", data=json.dumps(part).encode(),
            headers={"content-type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=120) as resp:
            resp.read()


def _chunks(body: dict[str, Any], size: int):  # type: ignore[no-untyped-def]
    part: list[dict[str, Any]] = []
    count = 0
    for rs in body["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            spans = ss["spans"]
            for i in range(0, len(spans), size):
                part.append({"resource": rs["resource"], "scopeSpans": [{"scope": ss["scope"], "spans": spans[i:i + size]}]})
                count += len(spans[i:i + size])
                if count >= size:
                    yield {"resourceSpans": part}
                    part, count = [], 0
    if part:
        yield {"resourceSpans": part}


def wait_for_trace(server: ServerProcess, trace_id: str, spans: int, timeout_s: float = 30) -> None:
    """Blocks until the query API returns the trace with all its spans (ingest is asynchronous)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            data = server.api(f"/api/traces/{trace_id}")["data"]
            if data and len(data[0]["spans"]) >= spans:
                return
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"trace {trace_id} did not arrive with {spans} spans")
        time.sleep(0.1)
