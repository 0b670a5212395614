"""Complete spans in one line, for tests of storage and everything above it.

``make_span`` writes a whole :class:`SpanRecord` (detail, resource and scope as
OTLP protobuf) from keyword arguments; ``batch_of`` puts records in a batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    InstrumentationScope,
    KeyValue,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.model import SpanBatch, SpanKind, SpanRecord, StatusCode

SECOND_NS = 1_000_000_000
HOUR_NS = 3600 * SECOND_NS


def trace_id(n: int) -> bytes:
    return n.to_bytes(16, "big")


def span_id(n: int) -> bytes:
    return n.to_bytes(8, "big")


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    return AnyValue(string_value=value)


def key_values(attributes: Mapping[str, Any] | None) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in (attributes or {}).items()]


def make_span(trace: int | bytes, span: int | bytes, *, start_ns: int, parent: int | bytes = b"",
              service: str = "svc", name: str = "op", kind: int = SpanKind.INTERNAL,
              duration_ns: int = 1_000_000, status_code: int = StatusCode.UNSET,
              status_message: str = "", attributes: Mapping[str, Any] | None = None,
              events: Iterable[tuple[str, Mapping[str, Any]]] = (),
              links: Iterable[Mapping[str, Any]] = (), resource: Mapping[str, Any] | None = None,
              scope_name: str = "", scope_version: str = "",
              scope_attributes: Mapping[str, Any] | None = None,
              trace_state: str = "") -> SpanRecord:
    """A complete span; ids given as ints are widened to 16/8 big-endian bytes."""
    tid = trace if isinstance(trace, bytes) else trace_id(trace)
    detail = Span(attributes=key_values(attributes), trace_state=trace_state)
    for offset, (event_name, event_attributes) in enumerate(events, start=1):
        detail.events.add(time_unix_nano=start_ns + offset, name=event_name,
                          attributes=key_values(event_attributes))
    for n, link_attributes in enumerate(links, start=1):
        detail.links.add(trace_id=trace_id(0xABC), span_id=span_id(n),
                         attributes=key_values(link_attributes))
    resource_attributes = {"service.name": service, **(resource or {})}
    resource_message = Resource(attributes=key_values(resource_attributes))
    scope = InstrumentationScope(name=scope_name, version=scope_version,
                                 attributes=key_values(scope_attributes))
    return SpanRecord(
        trace_id=tid,
        span_id=span if isinstance(span, bytes) else span_id(span),
        parent_span_id=parent if isinstance(parent, bytes) else span_id(parent),
        service=service, name=name, kind=int(kind), start_ns=start_ns, duration_ns=duration_ns,
        status_code=int(status_code), status_message=status_message,
        detail=detail.SerializeToString(), resource=resource_message.SerializeToString(),
        scope=scope.SerializeToString())


def batch_of(*records: SpanRecord) -> SpanBatch:
    return SpanBatch.from_rows(records)
