"""Spans -> Zipkin v2 JSON, as Zipkin's read API (``/api/v2/trace/{id}``) returns them. Pure.

Spans that arrived over OTLP are translated the way the OpenTelemetry
Collector's Zipkin exporter does it (``pkg/translator/zipkin/zipkinv2``):

- kind SERVER/CLIENT/PRODUCER/CONSUMER by name; INTERNAL gets the tag ``span.kind=internal``;
- ``localEndpoint``: the service, with ``net.host.ip``/``net.host.port``;
  ``remoteEndpoint``: ``peer.service`` (else, on CLIENT and PRODUCER spans,
  ``server.address`` or ``net.peer.name``), with ``net.peer.ip``/``net.peer.port``
  (else ``network.peer.address``/``net.sock.peer.addr`` and ``network.peer.port``/
  ``server.port``); the keys folded into an endpoint (the ``net.host.*``, ``net.peer.ip``,
  ``net.peer.port`` and ``peer.service`` ones) leave the tags;
- tags: resource attributes (but ``service.name``), ``otel.scope.name``/``.version``,
  span attributes as strings, ``w3c.tracestate``, non-zero ``otel.dropped_*_count``,
  and from the status ``otel.status_code``, ``otel.status_description`` and
  ``error=true`` on ERROR (Zipkin UIs mark errors by that tag);
- events -> annotations: the name, or ``name|{attributes as JSON}|dropped count``
  when the event has attributes; links -> tags ``otlp.link.N`` =
  ``traceId|spanId|traceState|{attributes}|dropped count``.

Spans that arrived as Zipkin (``convert.zipkin``: default scope ``zipkin``) come
back as they were sent: no scope or resource tags, ``localEndpoint.serviceName``
only when one was sent, no ``timestamp`` when none was sent, the ``error`` tag's
text back from the status message (``true`` when it had none), and ``shared``
on the SERVER half of a CLIENT/SERVER pair that shares one span id. ``debug`` is
not kept at ingest. A trace id whose upper 64 bits are zero is written as 16 hex
characters, as Zipkin normalises it: that is how a 64-bit id sent to Traceway
comes back.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.convert.attributes import plain_value, string_form
from traceway.convert.otlp import decode_stored
from traceway.convert.zipkin import DEFAULT_SCOPE, START_TIME_ABSENT
from traceway.model import SpanBatch, SpanKind, SpanRecord, StatusCode

JSON = dict[str, Any]

_KIND_NAMES = {SpanKind.CLIENT: "CLIENT", SpanKind.SERVER: "SERVER",
               SpanKind.PRODUCER: "PRODUCER", SpanKind.CONSUMER: "CONSUMER"}
_DROPPED = ("dropped_attributes_count", "dropped_events_count", "dropped_links_count")
_REMOTE_NAME_KEYS = ("server.address", "net.peer.name")
_REMOTE_IP_KEYS = ("network.peer.address", "net.sock.peer.addr")
_REMOTE_PORT_KEYS = ("network.peer.port", "server.port", "net.sock.peer.port")


def zipkin_trace_id(trace_id: bytes) -> str:
    """32 hex characters, or 16 when the upper half is zero (a 64-bit id)."""
    text = trace_id.hex()
    return text[16:] if text.startswith("0" * 16) else text


def trace_to_zipkin_json(batch: SpanBatch) -> list[JSON]:
    """All spans of one trace as Zipkin v2 spans, in the batch's order."""
    records = list(batch.rows())
    client_ids = {r.span_id for r in records if r.kind == SpanKind.CLIENT}
    return [span_to_zipkin_json(r, shared=r.kind == SpanKind.SERVER and r.span_id in client_ids)
            for r in records]


def span_to_zipkin_json(record: SpanRecord, shared: bool = False) -> JSON:
    # A part that cannot be decoded is left out rather than failing the answer.
    span, _ = decode_stored(Span, record.detail, "span detail")
    scope, _ = decode_stored(InstrumentationScope, record.scope, "scope")
    resource, _ = decode_stored(Resource, record.resource, "resource")
    from_zipkin = scope.name == DEFAULT_SCOPE and not scope.version
    tags: dict[str, str] = {}
    local_service = record.service
    for kv in resource.attributes:
        if kv.key != "service.name" and not from_zipkin:
            tags[kv.key] = string_form(kv.value)
    if from_zipkin:
        local_service = next((kv.value.string_value for kv in resource.attributes
                              if kv.key == "service.name"), "")
    else:
        if scope.name:
            tags["otel.scope.name"] = scope.name
        if scope.version:
            tags["otel.scope.version"] = scope.version
    tags.update((kv.key, string_form(kv.value)) for kv in span.attributes)
    start_absent = tags.pop(START_TIME_ABSENT, "") == "true"

    out: JSON = {"traceId": zipkin_trace_id(record.trace_id)}
    if record.parent_span_id:
        out["parentId"] = record.parent_span_id.hex()
    out["id"] = record.span_id.hex()
    if record.kind in _KIND_NAMES:
        out["kind"] = _KIND_NAMES[SpanKind(record.kind)]
    elif record.kind == SpanKind.INTERNAL:
        tags["span.kind"] = "internal"
    if record.name:
        out["name"] = record.name
    if record.start_ns and not start_absent:
        out["timestamp"] = record.start_ns // 1000
    if record.duration_ns > 0:
        out["duration"] = max(1, record.duration_ns // 1000)
    if shared:
        out["shared"] = True
    local = _endpoint(local_service, tags.pop("net.host.ip", ""), tags.pop("net.host.port", ""))
    if local:
        out["localEndpoint"] = local
    remote = _remote_endpoint(record, tags, from_zipkin)
    if remote:
        out["remoteEndpoint"] = remote
    if span.trace_state:
        tags["w3c.tracestate"] = span.trace_state
    for field in _DROPPED:
        if getattr(span, field):
            tags[f"otel.{field}"] = str(getattr(span, field))
    _status_tags(record, tags, from_zipkin)
    for n, link in enumerate(span.links):
        tags[f"otlp.link.{n}"] = "|".join((link.trace_id.hex(), link.span_id.hex(), link.trace_state,
                                           _attributes_json(link.attributes),
                                           str(link.dropped_attributes_count)))
    annotations = [_annotation(event) for event in span.events]
    if annotations:
        out["annotations"] = sorted(annotations, key=lambda a: a["timestamp"])
    if tags:
        out["tags"] = dict(sorted(tags.items()))
    return out


def _remote_endpoint(record: SpanRecord, tags: dict[str, str], from_zipkin: bool) -> JSON:
    name = tags.pop("peer.service", "")
    ip = tags.pop("net.peer.ip", "")
    port = tags.pop("net.peer.port", "")
    if not from_zipkin:
        if not name and record.kind in (SpanKind.CLIENT, SpanKind.PRODUCER):
            name = next((tags[k] for k in _REMOTE_NAME_KEYS if tags.get(k)), "")
        ip = ip or next((tags[k] for k in _REMOTE_IP_KEYS if _is_ip(tags.get(k, ""))), "")
        port = port or next((tags[k] for k in _REMOTE_PORT_KEYS if tags.get(k)), "")
    return _endpoint(name, ip, port)


def _endpoint(service: str, ip: str, port: str) -> JSON:
    out: JSON = {}
    if service:
        out["serviceName"] = service
    if _is_ip(ip):
        out["ipv6" if ":" in ip else "ipv4"] = ip
    if port.isdigit() and 0 < int(port) < 65536:
        out["port"] = int(port)
    return out


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _status_tags(record: SpanRecord, tags: dict[str, str], from_zipkin: bool) -> None:
    if record.status_code != StatusCode.ERROR:
        tags.pop("error", None)  # only an ERROR status may mark the span failed
    if from_zipkin:
        if record.status_code == StatusCode.ERROR:
            tags["error"] = record.status_message or "true"
        elif record.status_code == StatusCode.OK:
            tags["otel.status_code"] = "OK"
            if record.status_message:
                tags["otel.status_description"] = record.status_message
        return
    if record.status_code == StatusCode.ERROR:
        tags["error"] = "true"
    if record.status_code in (StatusCode.OK, StatusCode.ERROR):
        tags["otel.status_code"] = "OK" if record.status_code == StatusCode.OK else "ERROR"
        if record.status_message:
            tags["otel.status_description"] = record.status_message


def _attributes_json(attributes: Any) -> str:
    return json.dumps({kv.key: plain_value(kv.value) for kv in attributes},
                      separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _annotation(event: Span.Event) -> JSON:
    value = event.name
    if len(event.attributes) or event.dropped_attributes_count:
        value = f"{event.name}|{_attributes_json(event.attributes)}|{event.dropped_attributes_count}"
    return {"timestamp": event.time_unix_nano // 1000, "value": value}
