"""Encode finished SDK spans straight into OTLP protobuf bytes.

The stock encoder builds one protobuf object per span, attribute and value and
hashes every span's Resource (a JSON dump of its attributes) to group spans;
that is most of its ~27 µs per span. Here the bytes are assembled by hand:
field tags are constants, resources and scopes are encoded once and cached by
identity, and span names and common ``(key, value)`` attribute pairs are cached
as finished bytes. The output decodes to a message equal to the stock
``encode_spans(spans)`` (see tests/instrument/test_wire_equality.py).

Field numbers follow opentelemetry/proto/trace/v1/trace.proto and
common/v1/common.proto.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

_CACHE_LIMIT = 8192
_GROUP_CACHE_LIMIT = 256

# (resource message, resource schema_url field, scope message, scope schema_url field), all encoded
GroupKey = tuple[bytes, bytes, bytes, bytes]

_pack_times = struct.Struct("<BQBQ").pack  # start_time_unix_nano (7), end_time_unix_nano (8)
_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_pack_fixed32 = struct.Struct("<I").pack

_SMALL_VARINTS = [bytes([i]) for i in range(128)]

# Span.flags (field 16, fixed32): bit 8 "has is_remote", bit 9 "is_remote".
_FLAGS_LOCAL = b"\x85\x01" + _pack_fixed32(0x100)
_FLAGS_REMOTE = b"\x85\x01" + _pack_fixed32(0x300)
_LINK_FLAGS_LOCAL = b"\x35" + _pack_fixed32(0x100)
_LINK_FLAGS_REMOTE = b"\x35" + _pack_fixed32(0x300)
# Span.kind (field 6): the SDK's SpanKind values are the proto values minus one.
_KIND = [b"\x30" + bytes([k + 1]) for k in range(5)]
_EMPTY_STATUS = b"\x7a\x00"


def _varint(value: int) -> bytes:
    if value < 128:
        if value >= 0:
            return _SMALL_VARINTS[value]
        value += 1 << 64  # int64 negatives are ten-byte two's complement
    out = bytearray()
    while value > 127:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    n = len(payload)
    return tag + (_SMALL_VARINTS[n] if n < 128 else _varint(n)) + payload


def _any_value(value: Any) -> bytes:
    """AnyValue body, mirroring the stock encoder's type order."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, int):
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _pack_double(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join([_field(b"\x0a", _any_value(v)) for v in value]))
    if isinstance(value, Mapping):
        return _field(b"\x32", b"".join([_field(b"\x0a", _key_value(str(k), v)) for k, v in value.items()]))
    raise TypeError(f"cannot encode attribute value of type {type(value).__name__}")


def _key_value(key: str, value: Any) -> bytes:
    return _field(b"\x0a", key.encode()) + _field(b"\x12", _any_value(value))


class SpanEncoder:
    """Turns batches of ``ReadableSpan`` into ``ExportTraceServiceRequest`` bytes.

    One instance per exporter. ``encode_one`` runs on application threads (the
    processor encodes as spans end, so only bytes wait in its queue): the
    caches are plain dicts whose worst race is computing an entry twice.
    """

    def __init__(self) -> None:
        self._attr_cache: dict[tuple[str, Any, type], bytes] = {}
        self._name_cache: dict[str, bytes] = {}
        self._group_cache: dict[tuple[int, int], tuple[Any, Any, GroupKey]] = {}
        self._keys: dict[GroupKey, GroupKey] = {}
        self.resource_overrides: dict[str, Any] = {}

    def clear_caches(self) -> None:
        self._attr_cache.clear()
        self._name_cache.clear()
        self._group_cache.clear()
        self._keys.clear()

    # -- attributes -----------------------------------------------------
    def _attributes(self, attributes: Mapping[str, Any] | None, tag: bytes) -> list[bytes]:
        if not attributes:
            return []
        cache = self._attr_cache
        out = []
        # BoundedAttributes iterates under a lock through the Mapping ABC; its
        # plain dict is safe to read once the span has ended.
        for key, value in getattr(attributes, "_dict", attributes).items():
            kind = type(value)
            if kind is str or kind is int:
                # the type is part of the key so that True and 1 never share an entry
                ck = (key, value, kind)
                encoded = cache.get(ck)
                if encoded is None:
                    encoded = _field(tag, _key_value(key, value))
                    if len(cache) < _CACHE_LIMIT:
                        cache[ck] = encoded
            else:
                try:
                    encoded = _field(tag, _key_value(key, value))
                except TypeError:
                    continue  # the stock encoder logs and skips such values too
            out.append(encoded)
        return out

    # -- resource and scope ----------------------------------------------
    def group_key(self, resource: Any, scope: Any) -> GroupKey:
        """The encoded resource and scope a span belongs under; equal values give equal keys, like the stock grouping."""
        ids = (id(resource), id(scope))
        hit = self._group_cache.get(ids)
        if hit is not None and hit[0] is resource and hit[1] is scope:
            return hit[2]
        resource_head = self._resource_head(resource)
        resource_tail = _field(b"\x1a", resource.schema_url.encode()) if resource.schema_url else b""
        scope_head, scope_tail = self._scope_parts(scope)
        key = self._keys.setdefault(
            (resource_head, resource_tail, scope_head, scope_tail),
            (resource_head, resource_tail, scope_head, scope_tail),
        )
        if len(self._group_cache) >= _GROUP_CACHE_LIMIT:
            # a tracer obtained per call brings a new scope object each time
            self._group_cache.clear()
        self._group_cache[ids] = (resource, scope, key)
        return key

    def _resource_head(self, resource: Any) -> bytes:
        attributes = dict(resource.attributes)
        attributes.update((k, v) for k, v in self.resource_overrides.items() if k in attributes)
        return _field(b"\x0a", b"".join(self._attributes(attributes, b"\x0a")))

    def _scope_parts(self, scope: Any) -> tuple[bytes, bytes]:
        body = b""
        if scope is None:
            return _field(b"\x0a", body), b""
        if scope.name:
            body += _field(b"\x0a", scope.name.encode())
        if scope.version:
            body += _field(b"\x12", scope.version.encode())
        body += b"".join(self._attributes(scope.attributes, b"\x1a"))
        tail = _field(b"\x1a", scope.schema_url.encode()) if scope.schema_url else b""
        return _field(b"\x0a", body), tail

    # -- spans ------------------------------------------------------------
    def _span(self, span: Any) -> bytes:
        """Span body from the SDK span's own fields; other ReadableSpans take ``_span_public``."""
        try:
            ctx = span._context
            parent = span._parent
            name = span._name
            kind = span._kind._value_
            start, end = span._start_time, span._end_time
            attributes = span._attributes
            events = span._events
            links = span._links
            code = span._status._status_code._value_
            description = span._status._description
        except AttributeError:
            return self._span_public(span)
        # SpanContext is a tuple: (trace_id, span_id, is_remote, trace_flags, trace_state, is_valid)
        name_bytes = self._name_cache.get(name)
        if name_bytes is None:
            name_bytes = _field(b"\x2a", name.encode())
            if len(self._name_cache) < _CACHE_LIMIT:
                self._name_cache[name] = name_bytes
        parts = [
            b"\x0a\x10",
            ctx[0].to_bytes(16, "big"),
            b"\x12\x08",
            ctx[1].to_bytes(8, "big"),
            name_bytes,
            _KIND[kind],
            _pack_times(0x39, start, 0x41, end),
        ]
        if ctx[4]:
            parts.append(_field(b"\x1a", ",".join(f"{k}={v}" for k, v in ctx[4].items()).encode()))
        if parent is not None:
            parts.append(b"\x22\x08")
            parts.append(parent[1].to_bytes(8, "big"))
            parts.append(_FLAGS_REMOTE if parent[2] else _FLAGS_LOCAL)
        else:
            parts.append(_FLAGS_LOCAL)
        if attributes:
            parts += self._attributes(attributes, b"\x4a")
            dropped = getattr(attributes, "dropped", 0)
            if dropped:
                parts.append(b"\x50" + _varint(dropped))
        events = getattr(events, "_dq", events)  # BoundedList's len() is a Python call
        if events:
            for event in events:
                parts.append(_field(b"\x5a", self._event(event)))
            dropped = getattr(span._events, "dropped", 0)
            if dropped:
                parts.append(b"\x60" + _varint(dropped))
        links = getattr(links, "_dq", links)
        if links:
            for link in links:
                parts.append(_field(b"\x6a", self._link(link)))
            dropped = getattr(span._links, "dropped", 0)
            if dropped:
                parts.append(b"\x70" + _varint(dropped))
        parts.append(self._status(code, description))
        return b"".join(parts)

    @staticmethod
    def _status(code: int, description: str | None) -> bytes:
        if not (code or description):
            return _EMPTY_STATUS
        body = b"\x18" + _SMALL_VARINTS[code] if code else b""
        if description:
            body = _field(b"\x12", description.encode()) + body
        return _field(b"\x7a", body)

    def _span_public(self, span: Any) -> bytes:
        ctx = span.context
        parent = span.parent
        parts = [
            b"\x0a\x10" + ctx.trace_id.to_bytes(16, "big"),
            b"\x12\x08" + ctx.span_id.to_bytes(8, "big"),
            _field(b"\x2a", span.name.encode()),
            _KIND[span.kind.value],
            _pack_times(0x39, span.start_time, 0x41, span.end_time),
        ]
        if ctx.trace_state:
            parts.append(_field(b"\x1a", ",".join(f"{k}={v}" for k, v in ctx.trace_state.items()).encode()))
        if parent is not None:
            parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
            parts.append(_FLAGS_REMOTE if parent.is_remote else _FLAGS_LOCAL)
        else:
            parts.append(_FLAGS_LOCAL)
        parts += self._attributes(span.attributes, b"\x4a")
        if span.dropped_attributes:
            parts.append(b"\x50" + _varint(span.dropped_attributes))
        parts += [_field(b"\x5a", self._event(e)) for e in span.events]
        if span.dropped_events:
            parts.append(b"\x60" + _varint(span.dropped_events))
        parts += [_field(b"\x6a", self._link(link)) for link in span.links]
        if span.dropped_links:
            parts.append(b"\x70" + _varint(span.dropped_links))
        parts.append(self._status(span.status.status_code.value, span.status.description))
        return b"".join(parts)

    def _event(self, event: Any) -> bytes:
        body = b"\x09" + _pack_fixed64(event.timestamp) + _field(b"\x12", event.name.encode())
        body += b"".join(self._attributes(event.attributes, b"\x1a"))
        if event.dropped_attributes:
            body += b"\x20" + _varint(event.dropped_attributes)
        return body

    def _link(self, link: Any) -> bytes:
        ctx = link.context
        body: bytes = b"\x0a\x10" + ctx.trace_id.to_bytes(16, "big") + b"\x12\x08" + ctx.span_id.to_bytes(8, "big")
        body += b"".join(self._attributes(link.attributes, b"\x22"))
        if link.dropped_attributes:
            body += b"\x28" + _varint(link.dropped_attributes)
        flags: bytes = _LINK_FLAGS_REMOTE if ctx.is_remote else _LINK_FLAGS_LOCAL
        return body + flags

    def encode_one(self, span: Any) -> tuple[GroupKey, bytes]:
        """One span as (group key, Span message bytes), for ``assemble``; safe to call from many threads."""
        return self.group_key(span.resource, span.instrumentation_scope or None), self._span(span)

    def assemble(self, entries: Sequence[tuple[GroupKey, bytes]]) -> bytes:
        """Serialised ``ExportTraceServiceRequest`` from ``encode_one`` results, grouped by resource then scope."""
        groups: dict[tuple[bytes, bytes], dict[tuple[bytes, bytes], list[bytes]]] = {}
        last_key: Any = None
        last_list: list[bytes] = []
        for key, body in entries:
            if key is not last_key:
                by_scope = groups.setdefault((key[0], key[1]), {})
                last_list = by_scope.setdefault((key[2], key[3]), [])
                last_key = key
            n = len(body)
            last_list.append(b"\x12" + (_SMALL_VARINTS[n] if n < 128 else _varint(n)))
            last_list.append(body)
        out = []
        for (resource_head, resource_tail), scopes in groups.items():
            rs = [resource_head]
            for (scope_head, scope_tail), spans in scopes.items():
                rs.append(_field(b"\x12", scope_head + b"".join(spans) + scope_tail))
            rs.append(resource_tail)
            out.append(_field(b"\x0a", b"".join(rs)))
        return b"".join(out)

    def encode(self, spans: Sequence[Any]) -> bytes:
        """Serialised ``ExportTraceServiceRequest`` for ``spans``."""
        encode_one = self.encode_one
        return self.assemble([encode_one(span) for span in spans])


def encode_spans(spans: Sequence[Any]) -> bytes:
    """One-shot convenience: ``SpanEncoder().encode(spans)`` without caches kept."""
    return SpanEncoder().encode(spans)
