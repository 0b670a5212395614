"""OTLP (protobuf and JSON) <-> SpanBatch. Pure functions.

``spans_from_otlp`` is the ingest hot path: it touches only the fields that
become columns and re-encodes the rest of each span as ``detail`` bytes, never
looking at attributes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, TracesData

from traceway.convert.json_body import JSONBodyError, parse_json_body
from traceway.convert.otlp_native import batch_from_otlp_native
from traceway.model import SpanBatch, SpanKind, SpanRecord, StatusCode

UNKNOWN_SERVICE = "unknown_service"
_Stored = TypeVar("_Stored", Span, Resource, InstrumentationScope)
_ZERO_TRACE_ID = bytes(16)
_ZERO_SPAN_ID = bytes(8)
_MAX_TIME_NS = 2**63 - 1
# The store keeps kind and status code in one byte; OTLP defines these values.
_MAX_KIND = int(max(SpanKind))
_MAX_STATUS_CODE = int(max(StatusCode))
# First bytes of the tags of Span fields 9-16 (attributes ... flags).
_TAGS_AFTER_COLUMNS = frozenset((0x4A, 0x50, 0x5A, 0x60, 0x6A, 0x70, 0x7A, 0x85))
# Fields kept as SpanBatch columns; the rest of the span is the ``detail``.
_COLUMN_FIELDS = ("trace_id", "span_id", "parent_span_id", "name", "kind",
                  "start_time_unix_nano", "end_time_unix_nano")


class InvalidPayloadError(ValueError):
    """The request body is not a valid OTLP/Zipkin payload; the message says why."""


@dataclass(slots=True)
class DecodedSpans:
    """A converter's result: the valid spans, and what was rejected and why.

    ``request`` is the OTLP protobuf body the spans came from when ``batch`` is
    every span of it (none rejected): a spool keeps those bytes as they arrived.
    """

    batch: SpanBatch
    rejected: int = 0
    error_message: str = ""
    request: bytes | None = None


def spans_from_otlp_proto(body: bytes) -> DecodedSpans:
    batch = batch_from_otlp_native(body)
    if batch is not None:
        return DecodedSpans(batch, request=body)
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise InvalidPayloadError(f"body is not an OTLP ExportTraceServiceRequest: {exc}") from None
    decoded = spans_from_otlp(request)
    if not decoded.rejected:
        decoded.request = body
    return decoded


def spans_from_otlp_json(body: bytes) -> DecodedSpans:
    """OTLP/JSON as the OTLP specification defines it (hex ids, any case)."""
    try:
        document = parse_json_body(body)
    except JSONBodyError as exc:
        raise InvalidPayloadError(str(exc)) from None
    if not isinstance(document, dict):
        raise InvalidPayloadError("body must be a JSON object with resourceSpans")
    _hex_ids_to_base64(document)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except RecursionError:
        raise InvalidPayloadError("body is OTLP/JSON nested too deep") from None
    except (json_format.ParseError, ValueError, TypeError, OverflowError) as exc:
        raise InvalidPayloadError(f"body is not OTLP/JSON: {exc}") from None
    return spans_from_otlp(request)


def spans_from_otlp(request: ExportTraceServiceRequest | TracesData) -> DecodedSpans:
    """Split each span into columns and ``detail``; reject spans with bad ids.

    May mutate ``request`` (clearing column fields from unusual spans).
    """
    batch = SpanBatch()
    trace_ids, span_ids, parents = batch.trace_id, batch.span_id, batch.parent_span_id
    services, names, kinds = batch.service, batch.name, batch.kind
    starts, durations = batch.start_ns, batch.duration_ns
    status_codes, status_messages = batch.status_code, batch.status_message
    details, resources, scopes = batch.detail, batch.resource, batch.scope
    rejected = 0
    reasons: list[str] = []
    for resource_spans in request.resource_spans:
        resource = resource_spans.resource
        service = service_name(resource)
        resource_bytes = resource.SerializeToString()
        for scope_spans in resource_spans.scope_spans:
            scope_bytes = scope_spans.scope.SerializeToString()
            for span in scope_spans.spans:
                trace_id = span.trace_id
                span_id = span.span_id
                parent = span.parent_span_id
                start = span.start_time_unix_nano
                end = span.end_time_unix_nano
                kind = span.kind
                status = span.status
                status_code = status.code
                if not (len(trace_id) == 16 and len(span_id) == 8 and len(parent) in (0, 8)
                        and start <= _MAX_TIME_NS and end <= _MAX_TIME_NS
                        and 0 <= kind <= _MAX_KIND and 0 <= status_code <= _MAX_STATUS_CODE
                        and trace_id != _ZERO_TRACE_ID and span_id != _ZERO_SPAN_ID):
                    rejected += 1
                    if len(reasons) < 3:
                        reasons.append(_id_problem(trace_id, span_id, parent)
                                       or _time_problem(start, end)
                                       or _enum_problem(kind, status_code))
                    continue
                trace_ids.append(trace_id)
                span_ids.append(span_id)
                parents.append(b"" if parent == _ZERO_SPAN_ID else parent)
                services.append(service)
                name = span.name
                names.append(name)
                kinds.append(kind)
                starts.append(start)
                durations.append(max(0, end - start))
                status_codes.append(status_code)
                status_messages.append(status.message)
                details.append(_detail(span, parent, name, kind, start, end))
                resources.append(resource_bytes)
                scopes.append(scope_bytes)
    message = ""
    if rejected:
        message = f"{rejected} span(s) rejected: " + "; ".join(reasons)
    return DecodedSpans(batch, rejected, message)


def _detail(span: Span, parent: bytes, name: str, kind: int, start: int, end: int) -> bytes:
    """The span's encoding without the column fields (1, 2, 4-8).

    Encoders write fields in number order, so those fields are a prefix whose
    length follows from their values: slicing it off costs far less than
    clearing them. The status (field 15) stays in; readers take the columns'.
    When the layout is not the expected one, clear the fields properly.
    """
    full = span.SerializeToString()
    if not span.trace_state:
        name_len = len(name) if name.isascii() else len(name.encode())
        prefix = (28 + (10 if parent else 0) + (_len_field_size(name_len) if name_len else 0)
                  + (1 + _varint_size(kind) if kind else 0)
                  + (9 if start else 0) + (9 if end else 0))
        if full[0] == 0x0A and (prefix == len(full) or full[prefix] in _TAGS_AFTER_COLUMNS):
            return full[prefix:]
    for field_name in _COLUMN_FIELDS:
        span.ClearField(field_name)  # type: ignore[arg-type]
    return span.SerializeToString()


def _len_field_size(length: int) -> int:
    """Bytes of a length-delimited field of ``length`` bytes: tag, varint, data."""
    return 1 + _varint_size(length) + length


def _varint_size(value: int) -> int:
    """Bytes of ``value`` as a protobuf varint (negative int32/enum: ten)."""
    if value < 0:
        return 10
    return max(1, (value.bit_length() + 6) // 7)


def _time_problem(start_ns: int, end_ns: int) -> str:
    if start_ns > _MAX_TIME_NS or end_ns > _MAX_TIME_NS:
        return f"times must fit in a signed 64-bit count of nanoseconds, got {start_ns}..{end_ns}"
    return ""


def _enum_problem(kind: int, status_code: int) -> str:
    if not 0 <= kind <= _MAX_KIND:
        return f"span kind must be 0..{_MAX_KIND}, got {kind}"
    return f"status code must be 0..{_MAX_STATUS_CODE}, got {status_code}"


def _id_problem(trace_id: bytes, span_id: bytes, parent: bytes) -> str:
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE_ID:
        return f"trace id must be 16 non-zero bytes, got {trace_id.hex() or 'empty'}"
    if len(span_id) != 8 or span_id == _ZERO_SPAN_ID:
        return f"span id must be 8 non-zero bytes, got {span_id.hex() or 'empty'}"
    if parent and len(parent) != 8:
        return f"parent span id must be empty or 8 bytes, got {parent.hex()}"
    return ""


def service_name(resource: Resource) -> str:
    for kv in resource.attributes:
        if kv.key == "service.name":
            return kv.value.string_value or UNKNOWN_SERVICE
    return UNKNOWN_SERVICE


def decode_stored(message_type: type[_Stored], data: bytes, part: str) -> tuple[_Stored, str]:
    """A stored protobuf part (``detail``, resource, scope), or an empty one
    and a warning saying so: one damaged span must not fail a whole answer."""
    try:
        return message_type.FromString(data), ""
    except DecodeError as exc:
        return message_type(), (f"the stored {part} could not be decoded ({exc}); "
                                "this span is shown without it")


def span_to_otlp(record: SpanRecord) -> Span:
    """The full OTLP span: ``detail`` with the column fields put back (a
    ``detail`` that cannot be decoded leaves only the columns)."""
    span, _ = decode_stored(Span, record.detail, "span detail")
    span.trace_id = record.trace_id
    span.span_id = record.span_id
    span.parent_span_id = record.parent_span_id
    span.name = record.name
    span.kind = record.kind  # type: ignore[assignment]
    span.start_time_unix_nano = record.start_ns
    span.end_time_unix_nano = record.start_ns + record.duration_ns
    span.status.code = record.status_code  # type: ignore[assignment]
    span.status.message = record.status_message
    if not record.status_code and not record.status_message:
        span.ClearField("status")
    return span


def batch_to_otlp(batch: SpanBatch) -> TracesData:
    """Group spans back into ResourceSpans/ScopeSpans, preserving span order."""
    data = TracesData()
    by_resource: dict[bytes, tuple[ResourceSpans, dict[bytes, object]]] = {}
    for record in batch.rows():
        entry = by_resource.get(record.resource)
        if entry is None:
            resource_spans = data.resource_spans.add()
            resource_spans.resource.CopyFrom(decode_stored(Resource, record.resource, "resource")[0])
            entry = by_resource[record.resource] = (resource_spans, {})
        resource_spans, by_scope = entry
        scope_spans = by_scope.get(record.scope)
        if scope_spans is None:
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.CopyFrom(
                decode_stored(InstrumentationScope, record.scope, "scope")[0])
            by_scope[record.scope] = scope_spans
        scope_spans.spans.append(span_to_otlp(record))  # type: ignore[attr-defined]
    return data


def otlp_to_json(message: TracesData | ExportTraceServiceRequest) -> dict[str, Any]:
    """OTLP/JSON: camelCase names, hex ids, enums as integers."""
    document = json_format.MessageToDict(message, use_integers_for_enums=True)
    _base64_ids_to_hex(document)
    return document


_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def _dicts(value: object) -> Iterable[dict[str, Any]]:
    """The dict items of a JSON list; anything else is left for ParseDict to refuse."""
    return (item for item in value if isinstance(item, dict)) if isinstance(value, list) else ()


def _spans_of(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for resource_spans in _dicts(document.get("resourceSpans")):
        for scope_spans in _dicts(resource_spans.get("scopeSpans")):
            for span in _dicts(scope_spans.get("spans")):
                yield span
                yield from _dicts(span.get("links"))


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    for span in _spans_of(document):
        for key in _ID_KEYS:
            value = span.get(key)
            if isinstance(value, str):
                try:
                    raw = bytes.fromhex(value)
                except ValueError:
                    raw = b"\xff"  # a wrong-length id: rejected later, its siblings kept
                span[key] = base64.b64encode(raw).decode()


def _base64_ids_to_hex(document: dict[str, Any]) -> None:
    for span in _spans_of(document):
        for key in _ID_KEYS:
            value = span.get(key)
            if isinstance(value, str):
                try:
                    span[key] = base64.b64decode(value).hex()
                except binascii.Error:
                    pass
