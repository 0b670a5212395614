"""Zipkin v2 (JSON and proto3 ``ListOfSpans``) -> SpanBatch. Pure functions.

Each Zipkin span becomes an OTLP span in an ``ExportTraceServiceRequest`` that
goes through ``spans_from_otlp``: Zipkin has no ingest path of its own. The
mapping follows the OpenTelemetry Collector's Zipkin receiver
(``pkg/translator/zipkin/zipkinv2``) except where noted:

- ``localEndpoint.serviceName`` -> resource ``service.name``; spans without one
  get an empty resource, which Traceway reads as ``unknown_service``.
- ``kind`` CLIENT/SERVER/PRODUCER/CONSUMER -> the OTLP kind; no kind ->
  UNSPECIFIED, or INTERNAL when the tag ``span.kind`` is ``internal``.
- ``timestamp``/``duration`` (µs) -> start/end (ns). A span without a timestamp
  starts at 0 and gets ``otel.zipkin.absentField.startTime = true``.
- tags -> string attributes sorted by key, except the ones that map to OTLP fields:
  ``otel.status_code``/``otel.status_description`` and ``error`` -> status,
  ``w3c.tracestate`` -> trace state, ``otel.scope.name``/``otel.library.name``
  (and ``.version``) -> the instrumentation scope (default scope: ``zipkin``),
  and ``otel.dropped_{attributes,events,links}_count`` -> the dropped counts
  (as OpenTelemetry's Zipkin exporters write them; the Collector keeps them as
  tags). Unlike the Collector, tags named like resource attributes
  (``host.name``, ``telemetry.sdk.*``) stay span attributes; and where it sets
  ERROR only for ``error=true`` (keeping any other ``error`` tag), here any
  ``error`` tag means ERROR (Zipkin's convention) and its value, unless
  ``true`` or empty, becomes the status message.
- endpoints -> ``net.host.ip``/``net.host.port`` (local) and ``peer.service``,
  ``net.peer.ip``, ``net.peer.port`` (remote); IPv6 wins over IPv4.
- annotations -> events named by their value (kept whole, also when it is the
  JSON or ``name|attributes|count`` text some exporters write).
- 64-bit trace ids are left-padded with zeros to 128 bits. A parent id equal to
  the span's own id is dropped.
- The two halves of a shared (RPC) span, CLIENT and SERVER with one span id,
  stay two spans with that same id, as in the Collector; ``shared`` and
  ``debug`` have no OTLP equivalent and are dropped.

A span with a malformed id is rejected (counted in ``DecodedSpans.rejected``)
while its siblings are kept; a body that is not a Zipkin list at all raises
``InvalidPayloadError``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from traceway.convert.json_body import JSONBodyError, parse_json_body
from traceway.convert.otlp import DecodedSpans, InvalidPayloadError, spans_from_otlp
from traceway.convert.zipkin_proto import ListOfSpansProto

DEFAULT_SCOPE = "zipkin"
START_TIME_ABSENT = "otel.zipkin.absentField.startTime"

_KINDS = {"CLIENT": Span.SPAN_KIND_CLIENT, "SERVER": Span.SPAN_KIND_SERVER,
          "PRODUCER": Span.SPAN_KIND_PRODUCER, "CONSUMER": Span.SPAN_KIND_CONSUMER}
_PROTO_KINDS = {1: "CLIENT", 2: "SERVER", 3: "PRODUCER", 4: "CONSUMER"}
_STATUS_CODES = {"OK": Status.STATUS_CODE_OK, "ERROR": Status.STATUS_CODE_ERROR,
                 "UNSET": Status.STATUS_CODE_UNSET}
_SCOPE_NAME_TAGS = ("otel.scope.name", "otel.library.name")
_SCOPE_VERSION_TAGS = ("otel.scope.version", "otel.library.version")
_MAX_REASONS = 3
_MAX_MICROS = 2**63 // 1000
# ASCII digits only: str.isdigit() is also true of "²" and "٣", which int() refuses.
_DECIMAL_COUNT = re.compile(r"[0-9]{1,10}")


class _SpanError(ValueError):
    """One Zipkin span is invalid; its siblings are still ingested."""


@dataclass(frozen=True, slots=True)
class _Endpoint:
    service_name: str = ""
    ipv4: str = ""
    ipv6: str = ""
    port: int = 0


@dataclass(slots=True)
class _ZipkinSpan:
    """The fields both wire formats share, already validated."""

    trace_id: bytes
    span_id: bytes
    parent_id: bytes
    kind: str
    name: str
    timestamp_us: int
    duration_us: int
    local: _Endpoint | None
    remote: _Endpoint | None
    annotations: list[tuple[int, str]]
    tags: dict[str, str]


def spans_from_zipkin_json(body: bytes) -> DecodedSpans:
    """A Zipkin v2 JSON array of spans (``POST /api/v2/spans``)."""
    try:
        document = parse_json_body(body)
    except JSONBodyError as exc:
        raise InvalidPayloadError(str(exc)) from None
    if not isinstance(document, list):
        raise InvalidPayloadError("body must be a JSON array of Zipkin v2 spans")
    return _convert(document, _span_from_json)


def spans_from_zipkin_proto(body: bytes) -> DecodedSpans:
    """A Zipkin v2 ``zipkin.proto3.ListOfSpans`` protobuf message."""
    try:
        message = ListOfSpansProto.FromString(body)
    except DecodeError as exc:
        raise InvalidPayloadError(f"body is not a Zipkin ListOfSpans: {exc}") from None
    return _convert(message.spans, _span_from_proto)  # type: ignore[attr-defined]


def _convert(items: Iterable[Any], parse: Callable[[Any], _ZipkinSpan]) -> DecodedSpans:
    request = ExportTraceServiceRequest()
    resources: dict[str, ResourceSpans] = {}
    scopes: dict[tuple[str, str, str], ScopeSpans] = {}
    rejected = 0
    reasons: list[str] = []
    for item in items:
        try:
            zspan = parse(item)
            _check_span(zspan)
        except _SpanError as exc:
            rejected += 1
            if len(reasons) < _MAX_REASONS:
                reasons.append(str(exc))
            continue
        service = zspan.local.service_name if zspan.local else ""
        scope_name, scope_version = _pop_scope(zspan.tags)
        scope_spans = scopes.get((service, scope_name, scope_version))
        if scope_spans is None:
            resource_spans = resources.get(service)
            if resource_spans is None:
                resource_spans = resources[service] = request.resource_spans.add()
                if service:
                    kv = resource_spans.resource.attributes.add(key="service.name")
                    kv.value.string_value = service
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = scope_name
            scope_spans.scope.version = scope_version
            scopes[(service, scope_name, scope_version)] = scope_spans
        scope_spans.spans.append(_to_otlp(zspan))
    decoded = spans_from_otlp(request)
    if rejected:
        decoded.rejected += rejected
        ours = f"{rejected} span(s) rejected: " + "; ".join(reasons)
        decoded.error_message = "; ".join(filter(None, (ours, decoded.error_message)))
    return decoded


def _check_span(zspan: _ZipkinSpan) -> None:
    # spans_from_otlp would reject zero ids too, but with OTLP's words for the fields.
    if not any(zspan.trace_id):
        raise _SpanError("trace id must not be all zeros")
    if not any(zspan.span_id):
        raise _SpanError("span id must not be all zeros")
    # Times are int64 nanoseconds downstream.
    latest = max([zspan.timestamp_us + zspan.duration_us, *(t for t, _ in zspan.annotations)])
    if latest >= _MAX_MICROS:
        raise _SpanError(f"times must be before the year 2262, got {latest} µs")


def _pop_scope(tags: dict[str, str]) -> tuple[str, str]:
    name = version = ""
    for key in _SCOPE_NAME_TAGS:
        name = tags.pop(key, "") or name
    for key in _SCOPE_VERSION_TAGS:
        version = tags.pop(key, "") or version
    return (name, version) if name else (DEFAULT_SCOPE, "")


def _to_otlp(zspan: _ZipkinSpan) -> Span:
    tags = zspan.tags
    span = Span(trace_id=zspan.trace_id, span_id=zspan.span_id, name=zspan.name)
    if zspan.parent_id != zspan.span_id:
        span.parent_span_id = zspan.parent_id
    span.trace_state = tags.pop("w3c.tracestate", "")
    span.kind = _kind(zspan.kind, tags)  # type: ignore[assignment]
    _set_status(span.status, tags)
    _set_dropped_counts(span, tags)
    start_ns = zspan.timestamp_us * 1000
    span.start_time_unix_nano = start_ns
    span.end_time_unix_nano = start_ns + zspan.duration_us * 1000
    # Sorted like Zipkin's own model (a TreeMap); proto map order is arbitrary.
    attributes: dict[str, str | int | bool] = dict(sorted(tags.items()))
    attributes.update(_endpoint_attributes(zspan.local, "net.host"))
    remote = zspan.remote
    if remote and remote.service_name:
        attributes["peer.service"] = remote.service_name
    attributes.update(_endpoint_attributes(remote, "net.peer"))
    if not zspan.timestamp_us:
        attributes[START_TIME_ABSENT] = True
    for key, value in attributes.items():
        kv = span.attributes.add(key=key)
        if isinstance(value, bool):
            kv.value.bool_value = value
        elif isinstance(value, int):
            kv.value.int_value = value
        else:
            kv.value.string_value = value
    for timestamp_us, value in zspan.annotations:
        span.events.add(time_unix_nano=timestamp_us * 1000, name=value)
    return span


def _kind(kind: str, tags: dict[str, str]) -> int:
    mapped = _KINDS.get(kind.upper())
    if mapped is not None:
        return mapped
    if tags.pop("span.kind", "") == "internal":
        return Span.SPAN_KIND_INTERNAL
    return Span.SPAN_KIND_UNSPECIFIED


def _set_status(status: Status, tags: dict[str, str]) -> None:
    code = tags.pop("otel.status_code", None)
    description = tags.pop("otel.status_description", "")
    if code is not None:
        name = code.upper().removeprefix("STATUS_CODE_")
        status.code = _STATUS_CODES.get(name, Status.STATUS_CODE_UNSET)
        status.message = description
    error = tags.pop("error", None)
    if error is not None:
        status.code = Status.STATUS_CODE_ERROR
        if error not in ("", "true") and not status.message:
            status.message = error


def _set_dropped_counts(span: Span, tags: dict[str, str]) -> None:
    for field in ("dropped_attributes_count", "dropped_events_count", "dropped_links_count"):
        value = tags.get(f"otel.{field}", "")
        if _DECIMAL_COUNT.fullmatch(value) and int(value) < 2**32:
            setattr(span, field, int(value))
            del tags[f"otel.{field}"]


def _endpoint_attributes(endpoint: _Endpoint | None, prefix: str) -> dict[str, str | int]:
    out: dict[str, str | int] = {}
    if endpoint is None:
        return out
    ip = endpoint.ipv6 or endpoint.ipv4
    if ip:
        out[f"{prefix}.ip"] = ip
    if endpoint.port > 0:
        out[f"{prefix}.port"] = endpoint.port
    return out


# --- Zipkin v2 JSON ---------------------------------------------------------


def _span_from_json(item: Any) -> _ZipkinSpan:
    if not isinstance(item, dict):
        raise _SpanError(f"span must be a JSON object, got {type(item).__name__}")
    trace_id = _hex_id(item.get("traceId"), "traceId", (16, 32))
    span_id = _hex_id(item.get("id"), "id", (16,))
    parent = item.get("parentId")
    parent_id = _hex_id(parent, "parentId", (16,)) if parent else b""
    kind = item.get("kind")
    name = item.get("name")
    return _ZipkinSpan(
        trace_id=trace_id.rjust(16, b"\0"),
        span_id=span_id,
        parent_id=parent_id,
        kind=kind if isinstance(kind, str) else "",
        name=name if isinstance(name, str) else "",
        timestamp_us=_micros(item.get("timestamp"), "timestamp"),
        duration_us=_micros(item.get("duration"), "duration"),
        local=_json_endpoint(item.get("localEndpoint")),
        remote=_json_endpoint(item.get("remoteEndpoint")),
        annotations=_json_annotations(item.get("annotations")),
        tags=_json_tags(item.get("tags")),
    )


def _hex_id(value: Any, field: str, lengths: tuple[int, ...]) -> bytes:
    if isinstance(value, str) and len(value) in lengths:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    want = " or ".join(map(str, lengths))
    raise _SpanError(f"{field} must be {want} hex characters, got {value!r}")


def _micros(value: Any, field: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _SpanError(f"{field} must be a number of microseconds, got {value!r}")
    try:
        number = int(value)
    except (ValueError, OverflowError):
        raise _SpanError(f"{field} must be a number of microseconds, got {value!r}") from None
    if number < 0:
        raise _SpanError(f"{field} must not be negative, got {value!r}")
    return number


def _json_endpoint(value: Any) -> _Endpoint | None:
    if not isinstance(value, dict):
        return None
    service = value.get("serviceName")
    port = value.get("port")
    return _Endpoint(
        service_name=service if isinstance(service, str) else "",
        ipv4=_ip_text(value.get("ipv4"), 4),
        ipv6=_ip_text(value.get("ipv6"), 6),
        port=port if type(port) is int and 0 < port < 65536 else 0,
    )


def _ip_text(value: Any, version: int) -> str:
    """The canonical text of an address; an unparseable one is dropped, as Zipkin does."""
    if isinstance(value, bytes):
        if len(value) not in (4, 16):
            return ""
        return str(ipaddress.ip_address(value))
    if not isinstance(value, str) or not value:
        return ""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return ""
    return str(address) if address.version == version or version == 6 else ""


def _json_annotations(value: Any) -> list[tuple[int, str]]:
    out = []
    for annotation in value if isinstance(value, list) else ():
        if isinstance(annotation, dict) and isinstance(annotation.get("value"), str):
            out.append((_micros(annotation.get("timestamp"), "annotation timestamp"),
                        annotation["value"]))
    return out


def _json_tags(value: Any) -> dict[str, str]:
    """Tags are strings in Zipkin; lenient clients send numbers and booleans too."""
    tags: dict[str, str] = {}
    for key, tag in (value.items() if isinstance(value, dict) else ()):
        if isinstance(tag, str):
            tags[key] = tag
        elif isinstance(tag, (bool, int, float)):
            tags[key] = json.dumps(tag)
    return tags


# --- Zipkin v2 proto3 (the message classes are in convert/zipkin_proto.py) ----


def _span_from_proto(message: Any) -> _ZipkinSpan:
    trace_id = _proto_id(message.trace_id, "trace_id", (8, 16))
    span_id = _proto_id(message.id, "id", (8,))
    parent_id = _proto_id(message.parent_id, "parent_id", (8,)) if message.parent_id else b""
    return _ZipkinSpan(
        trace_id=trace_id.rjust(16, b"\0"),
        span_id=span_id,
        parent_id=parent_id,
        kind=_PROTO_KINDS.get(message.kind, ""),
        name=message.name,
        timestamp_us=message.timestamp,
        duration_us=message.duration,
        local=_proto_endpoint(message, "local_endpoint"),
        remote=_proto_endpoint(message, "remote_endpoint"),
        annotations=[(a.timestamp, a.value) for a in message.annotations],
        tags=dict(message.tags),
    )


def _proto_id(value: bytes, field: str, lengths: tuple[int, ...]) -> bytes:
    if len(value) in lengths:
        return value
    want = " or ".join(map(str, lengths))
    raise _SpanError(f"{field} must be {want} bytes, got {value.hex() or 'empty'}")


def _proto_endpoint(message: Any, field: str) -> _Endpoint | None:
    if not message.HasField(field):
        return None
    endpoint = getattr(message, field)
    return _Endpoint(
        service_name=endpoint.service_name,
        ipv4=_ip_text(endpoint.ipv4, 4) if len(endpoint.ipv4) == 4 else "",
        ipv6=_ip_text(endpoint.ipv6, 6) if len(endpoint.ipv6) == 16 else "",
        port=endpoint.port,
    )
