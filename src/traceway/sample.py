"""`traceway sample`: a few realistic multi-service traces for a first look."""

from __future__ import annotations

import os
import random
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status

_MS = 1_000_000


@dataclass
class _Call:
    service: str
    name: str
    kind: int
    offset_ms: float
    duration_ms: float
    attributes: dict[str, Any] = field(default_factory=dict)
    children: list[_Call] = field(default_factory=list)
    error: str = ""


def _checkout(rng: random.Random) -> _Call:
    payment_fails = rng.random() < 0.15
    slow_stock = rng.random() < 0.1
    stock_ms = rng.uniform(300, 900) if slow_stock else rng.uniform(2, 12)
    order = rng.randrange(10_000, 99_999)
    inventory = _Call("inventory", "GET /stock/{sku}", Span.SPAN_KIND_SERVER, 1, stock_ms + 3,
                      {"http.request.method": "GET", "http.route": "/stock/{sku}",
                       "http.response.status_code": 200},
                      [_Call("inventory", "SELECT stock", Span.SPAN_KIND_CLIENT, 1, stock_ms,
                             {"db.system": "postgresql", "db.name": "inventory",
                              "db.statement": "SELECT qty FROM stock WHERE sku = $1"})])
    payment = _Call("payment", "POST /charge", Span.SPAN_KIND_SERVER, 1, rng.uniform(20, 80),
                    {"http.request.method": "POST", "http.route": "/charge",
                     "http.response.status_code": 502 if payment_fails else 200,
                     "payment.provider": rng.choice(["stripe", "adyen"])},
                    error="card processor timed out" if payment_fails else "")
    checkout = _Call("checkout", "POST /orders", Span.SPAN_KIND_SERVER, 2, 0, {
        "http.request.method": "POST", "http.route": "/orders", "order.id": order,
        "http.response.status_code": 500 if payment_fails else 201}, [
        _Call("checkout", "GET inventory", Span.SPAN_KIND_CLIENT, 1, inventory.duration_ms + 2,
              {"http.request.method": "GET", "server.address": "inventory"}, [inventory]),
        _Call("checkout", "POST payment", Span.SPAN_KIND_CLIENT, stock_ms + 8,
              payment.duration_ms + 2, {"http.request.method": "POST",
                                        "server.address": "payment"}, [payment],
              error="payment failed" if payment_fails else ""),
    ], error="payment failed" if payment_fails else "")
    checkout.duration_ms = stock_ms + payment.duration_ms + 20
    return _Call("frontend", "GET /checkout", Span.SPAN_KIND_SERVER, 0,
                 checkout.duration_ms + 12, {"http.request.method": "GET",
                                             "http.route": "/checkout",
                                             "user_agent.original": "Mozilla/5.0"}, [
        _Call("frontend", "POST checkout", Span.SPAN_KIND_CLIENT, 4, checkout.duration_ms + 4,
              {"http.request.method": "POST", "server.address": "checkout"}, [checkout])])


def sample_request(traces: int, seed: int | None = None) -> ExportTraceServiceRequest:
    rng = random.Random(seed)
    request = ExportTraceServiceRequest()
    by_service: dict[str, ResourceSpans] = {}
    now_ns = time.time_ns()
    for i in range(traces):
        start_ns = now_ns - (traces - i) * rng.randrange(2_000, 20_000) * _MS
        _emit(_checkout(rng), os.urandom(16), b"", start_ns, request, by_service)
    return request


def _emit(call: _Call, trace_id: bytes, parent: bytes, parent_start_ns: int,
          request: ExportTraceServiceRequest, by_service: dict[str, ResourceSpans]) -> None:
    resource_spans = by_service.get(call.service)
    if resource_spans is None:
        resource_spans = by_service[call.service] = request.resource_spans.add()
        for key, value in (("service.name", call.service), ("service.version", "2.3.1"),
                           ("deployment.environment", "demo"),
                           ("host.name", f"{call.service}-1")):
            resource_spans.resource.attributes.add(key=key).value.string_value = value
        scope = resource_spans.scope_spans.add().scope
        scope.name, scope.version = "traceway.sample", "1.0"
    span = resource_spans.scope_spans[0].spans.add()
    span.trace_id, span.span_id, span.parent_span_id = trace_id, os.urandom(8), parent
    span.name = call.name
    span.kind = call.kind  # type: ignore[assignment]
    span.start_time_unix_nano = parent_start_ns + int(call.offset_ms * _MS)
    span.end_time_unix_nano = span.start_time_unix_nano + int(call.duration_ms * _MS)
    for key, value in call.attributes.items():
        span.attributes.append(_attribute(key, value))
    if call.error:
        span.status.code, span.status.message = Status.STATUS_CODE_ERROR, call.error
        event = span.events.add(name="exception", time_unix_nano=span.end_time_unix_nano)
        event.attributes.append(_attribute("exception.type", "PaymentError"))
        event.attributes.append(_attribute("exception.message", call.error))
    for child in call.children:
        _emit(child, trace_id, span.span_id, span.start_time_unix_nano, request, by_service)


def _attribute(key: str, value: object) -> KeyValue:
    kv = KeyValue(key=key)
    if isinstance(value, int):
        kv.value.int_value = value
    else:
        kv.value.string_value = str(value)
    return kv


def send_sample(endpoint: str, traces: int) -> int:
    body = sample_request(traces).SerializeToString()
    url = endpoint.rstrip("/") + "/v1/traces"
    request = urllib.request.Request(url, body, {"Content-Type": "application/x-protobuf"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()
    except (urllib.error.URLError, OSError) as exc:
        print(f"traceway sample: cannot send to {url}: {exc}", file=sys.stderr)
        return 1
    print(f"sent {traces} sample traces to {url}")
    return 0
