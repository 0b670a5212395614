"""Synthetic OTLP traffic for benchmarks: 20 services, ~8 attributes per span."""

from __future__ import annotations

import os
import random
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

SERVICES = [f"service-{i:02d}" for i in range(20)]
ROUTES = [f"/api/v1/{noun}/{{id}}" for noun in
          ("users", "orders", "items", "carts", "payments", "invoices", "sessions", "reviews")]


def request_of(spans: int, *, spans_per_trace: int = 8, seed: int | None = None,
               now_ns: int | None = None) -> ExportTraceServiceRequest:
    """One export request of ``spans`` spans in traces of ``spans_per_trace``,
    grouped by service as a real collector would send them."""
    rng = random.Random(seed)
    now_ns = now_ns or time.time_ns()
    request = ExportTraceServiceRequest()
    by_service = {}
    trace_id = b""
    parent = b""
    for i in range(spans):
        if i % spans_per_trace == 0:
            trace_id = os.urandom(16)
            parent = b""
        service = SERVICES[rng.randrange(len(SERVICES))]
        scope_spans = by_service.get(service)
        if scope_spans is None:
            resource_spans = request.resource_spans.add()
            for key, value in (("service.name", service), ("service.version", "1.4.2"),
                               ("host.name", f"{service}-7d9f8b-{rng.randrange(3)}"),
                               ("deployment.environment", "production")):
                kv = resource_spans.resource.attributes.add()
                kv.key = key
                kv.value.string_value = value
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = "opentelemetry.instrumentation.flask"
            scope_spans.scope.version = "0.48b0"
            by_service[service] = scope_spans
        span = scope_spans.spans.add()
        span.trace_id = trace_id
        span.span_id = os.urandom(8)
        span.parent_span_id = parent
        parent = span.span_id
        route = ROUTES[rng.randrange(len(ROUTES))]
        method = rng.choice(("GET", "GET", "GET", "POST", "PUT"))
        span.name = f"{method} {route}"
        span.kind = Span.SPAN_KIND_SERVER if i % 2 else Span.SPAN_KIND_CLIENT
        start = now_ns - rng.randrange(1_000_000_000)
        span.start_time_unix_nano = start
        span.end_time_unix_nano = start + int(rng.expovariate(1 / 20_000_000))
        status = rng.choices((200, 200, 200, 200, 404, 500), k=1)[0]
        for key, value in (("http.method", method), ("http.route", route),
                           ("http.status_code", status), ("http.flavor", "1.1"),
                           ("net.peer.name", f"{rng.choice(SERVICES)}.internal"),
                           ("net.peer.port", 8080), ("user_agent.original", "python-requests/2.32"),
                           ("customer.tier", rng.choice(("free", "pro", "enterprise")))):
            kv = span.attributes.add()
            kv.key = key
            if isinstance(value, int):
                kv.value.int_value = value
            else:
                kv.value.string_value = value
        if status == 500:
            span.status.code = Status.STATUS_CODE_ERROR
            span.status.message = "upstream returned 500"
    return request
