"""The tags Traceway derives from a span's fields (not its attributes). Pure.

One list serves the Jaeger view (which shows them as tags) and tag search on
every backend (which matches them): ``derived_tags`` computes them from a span,
``derived_condition`` says which span field a search for one of them tests,
so a SQL backend can push the condition down without re-stating the mapping.
OTLP -> Jaeger as Jaeger v2 maps it: scope first, then kind, status, error,
trace state, and non-zero dropped counts; each event's name is ``event``.
"""

from __future__ import annotations

import re

from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.model import SPAN_KIND_BY_NAME, SPAN_KIND_NAMES, STATUS_NAMES, SpanRecord, StatusCode

TagValue = str | bool | int
_UINT32 = re.compile(r"[0-9]{1,10}", re.ASCII)

DROPPED_COUNT_TAGS = {"otel.dropped_attributes_count": "dropped_attributes_count",
                      "otel.dropped_events_count": "dropped_events_count",
                      "otel.dropped_links_count": "dropped_links_count"}
_STATUS_BY_NAME = {name: int(code) for code, name in STATUS_NAMES.items()}


def derived_tags(record: SpanRecord, span: Span,
                 scope: InstrumentationScope) -> list[tuple[str, TagValue]]:
    """(key, typed value) in the order the Jaeger view lists them."""
    tags: list[tuple[str, TagValue]] = []
    if scope.name:
        tags.append(("otel.scope.name", scope.name))
    if scope.version:
        tags.append(("otel.scope.version", scope.version))
    kind = SPAN_KIND_NAMES.get(record.kind)
    if kind:
        tags.append(("span.kind", kind))
    status = STATUS_NAMES.get(record.status_code)
    if status:
        tags.append(("otel.status_code", status))
    if record.status_code == StatusCode.ERROR:
        tags.append(("error", True))
    if record.status_message:
        tags.append(("otel.status_description", record.status_message))
    if span.trace_state:
        tags.append(("w3c.tracestate", span.trace_state))
    for key, field in DROPPED_COUNT_TAGS.items():
        count = getattr(span, field)
        if count:
            tags.append((key, count))
    return tags


def tag_string(value: TagValue) -> str:
    """A derived tag's value as a tag search compares it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def derived_condition(key: str, value: str) -> tuple[str, str | int] | None:
    """The span field a search for derived tag ``key=value`` tests, and the
    value it must equal; None when no span can match through a derived tag.

    Fields: ``kind`` and ``status_code`` (OTLP numbers), ``status_message``,
    ``scope_name``, ``scope_version``, ``trace_state``, ``event_name`` (any
    event's), and the ``dropped_*_count`` fields of the OTLP span.
    """
    if key == "span.kind":
        kind = SPAN_KIND_BY_NAME.get(value)
        return None if kind is None else ("kind", kind)
    if key == "error":
        return ("status_code", int(StatusCode.ERROR)) if value == "true" else None
    if key == "otel.status_code":
        code = _STATUS_BY_NAME.get(value)
        return None if code is None else ("status_code", code)
    simple = {"otel.status_description": "status_message", "otel.scope.name": "scope_name",
              "otel.scope.version": "scope_version", "w3c.tracestate": "trace_state",
              "event": "event_name"}
    if key in simple:
        return (simple[key], value) if value else None
    if key in DROPPED_COUNT_TAGS and _UINT32.fullmatch(value) and 0 < int(value) < 2**32:
        return DROPPED_COUNT_TAGS[key], int(value)
    return None


def encoded_in_detail(field: str, wanted: str | int) -> bytes:
    """The protobuf bytes a span's OTLP ``detail`` contains when ``field``
    (``trace_state``, ``event_name`` or a ``dropped_*_count``) is ``wanted``,
    for stores that pre-filter on the encoded span."""
    if field == "trace_state":
        return Span(trace_state=str(wanted)).SerializeToString()
    if field == "event_name":
        return Span.Event(name=str(wanted)).SerializeToString()
    span = Span()
    setattr(span, field, int(wanted))
    return span.SerializeToString()
