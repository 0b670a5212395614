"""One trace -> Jaeger UI JSON, as Jaeger's ``/api/traces/{id}`` returns it. Pure.

The mapping is Jaeger v2's: OTLP -> Jaeger model by the Collector's
``pkg/translator/jaeger`` (``ProtoFromTraces``), then the v1 UI model
(``model/converter/json``). So a span's tags are: ``otel.scope.name`` and
``otel.scope.version``, the span attributes, then ``span.kind``,
``otel.status_code``, ``error`` (bool) on ERROR, ``otel.status_description``
and ``w3c.tracestate``. Events become logs whose first field is ``event`` (the
event name, unless an attribute is called ``event``); the parent becomes a
``CHILD_OF`` reference and each link a ``FOLLOWS_FROM`` one (or ``CHILD_OF``
when the link says ``opentracing.ref_type=child_of``); the attribute
``@jaeger@warnings`` becomes the span's ``warnings``.

Where Traceway differs from Jaeger, on purpose:

- trace ids are always 32 hex characters (Jaeger shortens ids whose high half
  is zero to 16), so every id a user sees is the one Traceway's API accepts;
- spans are ordered by start time (then by batch order);
- non-zero dropped counts are shown as ``otel.dropped_attributes_count``,
  ``otel.dropped_events_count`` and ``otel.dropped_links_count`` (OpenTelemetry's
  mapping to non-OTLP formats requires them; Jaeger's translator drops them);
- ``flags`` carries the W3C trace flags when non-zero (Jaeger never sets it; the
  UI model omits it when zero).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.convert.attributes import jaeger_tag, plain_value
from traceway.convert.derived import derived_tags
from traceway.convert.otlp import decode_stored
from traceway.model import SpanBatch, SpanRecord

WARNINGS_ATTRIBUTE = "@jaeger@warnings"
_REF_TYPE_ATTRIBUTE = "opentracing.ref_type"
_TRACE_FLAGS_MASK = 0xFF

JSON = dict[str, Any]


def trace_to_jaeger_json(batch: SpanBatch) -> JSON:
    """All spans of one trace as one element of the ``data`` list of Jaeger's API.

    Times are microseconds (nanoseconds floored). Processes are ``p1``, ``p2``, …
    one per distinct (service, resource), numbered in span order.
    """
    records = sorted(batch.rows(), key=lambda r: r.start_ns)
    process_ids: dict[tuple[str, bytes], str] = {}
    processes: dict[str, JSON] = {}
    # Warnings about a resource or scope that cannot be decoded go on its spans.
    resource_warnings: dict[bytes, str] = {}
    scopes: dict[bytes, tuple[InstrumentationScope, str]] = {}
    tag_memo: dict[bytes, JSON] = {}
    spans = []
    for record in records:
        key = (record.service, record.resource)
        process_id = process_ids.get(key)
        if process_id is None:
            process_id = process_ids[key] = f"p{len(process_ids) + 1}"
            processes[process_id], resource_warnings[record.resource] = _process(
                record.service, record.resource)
        scope_and_warning = scopes.get(record.scope)
        if scope_and_warning is None:
            scope_and_warning = scopes[record.scope] = decode_stored(
                InstrumentationScope, record.scope, "instrumentation scope")
        scope, scope_warning = scope_and_warning
        span = span_to_jaeger_json(record, process_id, scope, tag_memo)
        extra = [w for w in (resource_warnings[record.resource], scope_warning) if w]
        if extra:
            span["warnings"] = (span["warnings"] or []) + extra
        spans.append(span)
    return {
        "traceID": records[0].trace_id.hex() if records else "",
        "spans": spans,
        "processes": processes,
        "warnings": None,
    }


def span_to_jaeger_json(record: SpanRecord, process_id: str,
                        scope: InstrumentationScope | None = None,
                        tag_memo: dict[bytes, JSON] | None = None) -> JSON:
    """One span of the UI model; ``scope`` saves decoding ``record.scope`` again.

    ``tag_memo`` maps encoded attributes to their tags across the spans of one
    trace: most attributes repeat, and encoding one is cheaper than converting
    it. The memoised tag dicts are shared, so callers must not mutate them.
    """
    if scope is None:
        scope, _ = decode_stored(InstrumentationScope, record.scope, "instrumentation scope")
    span, detail_warning = decode_stored(Span, record.detail,
                                         "span detail (attributes, events, links)")
    trace_id = record.trace_id.hex()
    out: JSON = {"traceID": trace_id, "spanID": record.span_id.hex()}
    flags = span.flags & _TRACE_FLAGS_MASK
    if flags:
        out["flags"] = flags
    warnings = _warnings(span) + ([detail_warning] if detail_warning else [])
    out.update({
        "operationName": record.name,
        "references": _references(record, span, trace_id),
        "startTime": record.start_ns // 1000,
        "duration": record.duration_ns // 1000,
        "tags": _span_tags(record, span, scope, {} if tag_memo is None else tag_memo),
        "logs": [_log(event) for event in span.events],
        "processID": process_id,
        "warnings": warnings or None,
    })
    return out


def _process(service: str, resource_bytes: bytes) -> tuple[JSON, str]:
    """The process, and a warning when the resource cannot be decoded."""
    resource, warning = decode_stored(Resource, resource_bytes, "resource")
    tags = [jaeger_tag(kv.key, kv.value) for kv in resource.attributes
            if kv.key != "service.name"]
    return {"serviceName": service, "tags": tags}, warning


def _references(record: SpanRecord, span: Span, trace_id: str) -> list[JSON]:
    refs: list[JSON] = []
    parent = record.parent_span_id.hex()
    if parent:
        refs.append({"refType": "CHILD_OF", "traceID": trace_id, "spanID": parent})
    for link in span.links:
        ref_type = "FOLLOWS_FROM"
        for kv in link.attributes:
            if kv.key == _REF_TYPE_ATTRIBUTE and kv.value.string_value == "child_of":
                ref_type = "CHILD_OF"
        link_trace, link_span = link.trace_id.hex(), link.span_id.hex()
        if parent and link_trace == trace_id and link_span == parent:
            refs[0]["refType"] = ref_type  # the link says how the parent is referenced
            continue
        refs.append({"refType": ref_type, "traceID": link_trace, "spanID": link_span})
    return refs


def _span_tags(record: SpanRecord, span: Span, scope: InstrumentationScope,
               memo: dict[bytes, JSON]) -> list[JSON]:
    derived = _derived_json(record, span, scope)
    tags = derived[:_scope_tag_count(scope)]  # Jaeger lists scope tags first
    for kv in span.attributes:
        encoded = kv.SerializeToString()
        tag = memo.get(encoded)
        if tag is None:
            if kv.key == WARNINGS_ATTRIBUTE:
                continue
            tag = memo[encoded] = jaeger_tag(kv.key, kv.value)
        tags.append(tag)
    tags.extend(derived[_scope_tag_count(scope):])
    return tags


def _derived_json(record: SpanRecord, span: Span, scope: InstrumentationScope) -> list[JSON]:
    """The derived tags (``convert.derived``) as typed Jaeger JSON tags."""
    tags: list[JSON] = []
    for key, value in derived_tags(record, span, scope):
        if isinstance(value, bool):
            tags.append({"key": key, "type": "bool", "value": value})
        elif isinstance(value, int):
            tags.append({"key": key, "type": "int64", "value": value})
        else:
            tags.append(_string_tag(key, value))
    return tags


def _scope_tag_count(scope: InstrumentationScope) -> int:
    return bool(scope.name) + bool(scope.version)


def _log(event: Span.Event) -> JSON:
    fields: list[JSON] = []
    if event.name and not any(kv.key == "event" for kv in event.attributes):
        fields.append(_string_tag("event", event.name))
    fields.extend(jaeger_tag(kv.key, kv.value) for kv in event.attributes)
    return {"timestamp": event.time_unix_nano // 1000, "fields": fields}


def _warnings(span: Span) -> list[str]:
    for kv in span.attributes:
        if kv.key == WARNINGS_ATTRIBUTE:
            value = plain_value(kv.value)
            items = value if isinstance(value, list) else [value]
            return [str(item) for item in items if item is not None]
    return []


def _string_tag(key: str, value: str) -> JSON:
    return {"key": key, "type": "string", "value": value}
