"""Generated traces for sampling tests: whole traces, then shuffled into requests."""

from __future__ import annotations

import random
from dataclasses import dataclass

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from traceway.model import SpanBatch, StatusCode

BASE_NS = 1_700_000_000_000_000_000
SERVICES = ["frontend", "checkout", "payments", "inventory"]
_RESOURCES = {s: Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value=s))]
                          ).SerializeToString() for s in SERVICES}


@dataclass
class Traffic:
    batches: list[SpanBatch]
    spans_per_trace: dict[bytes, int]
    errors: set[bytes]
    slow: set[bytes]


def generate(traces: int, *, seed: int = 1, error_rate: float = 0.02, slow_rate: float = 0.02,
             requests_per_trace: int = 3, request_spans: int = 500) -> Traffic:
    """``traces`` traces of 2-8 spans; each trace's spans are spread over up to
    ``requests_per_trace`` chunks and all chunks shuffled, so a trace arrives in
    several requests, out of order."""
    rng = random.Random(seed)
    chunks: list[SpanBatch] = []
    counts, errors, slow = {}, set(), set()
    for t in range(traces):
        tid = rng.getrandbits(128).to_bytes(16, "big")
        n = rng.randint(2, 8)
        counts[tid] = n
        is_error = rng.random() < error_rate
        is_slow = rng.random() < slow_rate
        if is_error:
            errors.add(tid)
        if is_slow:
            slow.add(tid)
        root_ms = rng.randint(600, 3000) if is_slow else rng.randint(5, 400)
        trace = SpanBatch()
        root_id = rng.getrandbits(64).to_bytes(8, "big")
        for i in range(n):
            service = SERVICES[i % len(SERVICES)]
            span_id = root_id if i == 0 else rng.getrandbits(64).to_bytes(8, "big")
            trace.trace_id.append(tid)
            trace.span_id.append(span_id)
            trace.parent_span_id.append(b"" if i == 0 else root_id)
            trace.service.append(service)
            trace.name.append("GET /" if i == 0 else f"op-{i}")
            trace.kind.append(2)
            start = BASE_NS + t * 1_000_000
            trace.start_ns.append(start if i == 0 else start + i * 1000)
            trace.duration_ns.append(root_ms * 1_000_000 if i == 0 else 1_000_000)
            trace.status_code.append(StatusCode.ERROR if is_error and i == n - 1 else StatusCode.UNSET)
            trace.status_message.append("")
            trace.detail.append(b"")
            trace.resource.append(_RESOURCES[service])
            trace.scope.append(b"")
        order = list(range(n))
        rng.shuffle(order)
        parts = rng.randint(1, min(requests_per_trace, n))
        cuts = sorted(rng.sample(range(1, n), parts - 1)) if parts > 1 else []
        for lo, hi in zip([0] + cuts, cuts + [n]):
            chunks.append(trace.take(order[lo:hi]))
    # Interleave: chunks of a trace land in different requests, later ones first sometimes.
    rng.shuffle(chunks)
    batches, current = [], SpanBatch()
    for chunk in chunks:
        current.extend(chunk)
        if len(current) >= request_spans:
            batches.append(current)
            current = SpanBatch()
    if len(current):
        batches.append(current)
    return Traffic(batches, counts, errors, slow)


def to_otlp(batch: SpanBatch) -> bytes:
    """An OTLP/HTTP protobuf request body holding ``batch`` (one resource per service)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    scopes = {}
    for i in range(len(batch)):
        service = batch.service[i]
        scope = scopes.get(service)
        if scope is None:
            resource_spans = request.resource_spans.add()
            resource_spans.resource.ParseFromString(batch.resource[i])
            scope = scopes[service] = resource_spans.scope_spans.add()
        span = scope.spans.add()
        span.ParseFromString(batch.detail[i])
        span.trace_id = batch.trace_id[i]
        span.span_id = batch.span_id[i]
        span.parent_span_id = batch.parent_span_id[i]
        span.name = batch.name[i]
        span.kind = batch.kind[i]
        span.start_time_unix_nano = batch.start_ns[i]
        span.end_time_unix_nano = batch.start_ns[i] + batch.duration_ns[i]
        span.status.code = batch.status_code[i]
    return request.SerializeToString()
