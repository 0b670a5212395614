"""Hypothesis strategies for hostile ingest bodies, shared by the fuzz tests.

Each strategy mixes structure (bodies shaped like OTLP or Zipkin, so the
decoders get past their first checks) with junk (wrong types, huge and
negative numbers, non-finite floats, lone surrogates, deep nesting).
"""

from __future__ import annotations

import gzip
import json
import zlib

from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from traceway.convert.zipkin_proto import ListOfSpansProto
from traceway.sample import sample_request

# Lone surrogates reach Python strings through JSON \\u escapes.
_SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
_PLAIN = st.text(max_size=12)
TEXT = st.one_of(_PLAIN, _PLAIN, _PLAIN, _PLAIN, _PLAIN, st.text(_SURROGATE, min_size=1, max_size=2),
                 st.sampled_from(["²", "١٢", "-1", "1e400", "0x10", "18446744073709551616",
                                  "SPAN_KIND_SERVER", "STATUS_CODE_ERROR", "true", ""]))
NUMBER = st.one_of(st.integers(-(2**64), 2**65), st.sampled_from([2**63 - 1, 2**63, -1, 300, 128]),
                   st.floats(allow_nan=True, allow_infinity=True))
SCALAR = st.one_of(st.none(), st.booleans(), NUMBER, TEXT)
JUNK = st.recursive(SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=8)


def _hex_id(size: int) -> st.SearchStrategy:
    valid = st.integers(1, 2 ** (8 * size) - 1).map(lambda n: n.to_bytes(size, "big").hex())
    return st.one_of(valid, valid, valid, st.sampled_from(["0" * 2 * size, "zz" * size, ""]), TEXT)


def _maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly well-formed (so the rest of the body gets looked at), sometimes junk."""
    return st.one_of(strategy, strategy, strategy, strategy, JUNK)


def _rarely(strategy: st.SearchStrategy, odd: st.SearchStrategy) -> st.SearchStrategy:
    """``strategy`` nine times in ten, ``odd`` otherwise."""
    return st.one_of(*[strategy] * 9, odd)


_ANY_VALUE = _rarely(st.one_of(
    st.fixed_dictionaries({"stringValue": TEXT}), st.fixed_dictionaries({"intValue": NUMBER}),
    st.fixed_dictionaries({"doubleValue": NUMBER}), st.fixed_dictionaries({"boolValue": SCALAR}),
    st.fixed_dictionaries({"arrayValue": st.fixed_dictionaries({"values": st.lists(JUNK, max_size=2)})}),
    st.fixed_dictionaries({"kvlistValue": JUNK}), st.fixed_dictionaries({"bytesValue": TEXT})), JUNK)
_ATTRIBUTES = _rarely(st.lists(st.fixed_dictionaries({"key": st.text(max_size=8),
                                                      "value": _ANY_VALUE}), max_size=3), JUNK)
_U64 = st.integers(0, 2**64 - 1)
_TIME = _rarely(st.one_of(_U64, _U64.map(str)), st.one_of(NUMBER, TEXT))
_ENUM = _rarely(st.integers(0, 5), st.one_of(st.sampled_from([300, -1, 128, 255, 2**31 - 1, -(2**31)]),
                                            NUMBER, TEXT))
_OTLP_SPAN = st.fixed_dictionaries({"traceId": _hex_id(16), "spanId": _hex_id(8)}, optional={
    "parentSpanId": _hex_id(8), "name": _rarely(st.text(max_size=12), TEXT), "kind": _ENUM,
    "startTimeUnixNano": _TIME, "endTimeUnixNano": _TIME, "attributes": _ATTRIBUTES,
    "status": _rarely(st.fixed_dictionaries({}, optional={"code": _ENUM,
                                                          "message": st.text(max_size=8)}), JUNK),
    "events": _rarely(st.lists(st.fixed_dictionaries({}, optional={
        "name": st.text(max_size=8), "timeUnixNano": _TIME, "attributes": _ATTRIBUTES}),
        max_size=2), JUNK),
    "links": _rarely(st.lists(st.fixed_dictionaries({}, optional={
        "traceId": _hex_id(16), "spanId": _hex_id(8), "attributes": _ATTRIBUTES}), max_size=2),
        JUNK),
    "droppedAttributesCount": _rarely(st.integers(0, 2**32 - 1), NUMBER),
    "flags": _rarely(st.integers(0, 2**32 - 1), NUMBER),
    "traceState": _rarely(st.text(max_size=8), TEXT),
})
OTLP_JSON = st.fixed_dictionaries({"resourceSpans": _rarely(st.lists(st.fixed_dictionaries({}, optional={
    "resource": _rarely(st.fixed_dictionaries({"attributes": _ATTRIBUTES}), JUNK),
    "scopeSpans": _rarely(st.lists(st.fixed_dictionaries({"spans": _rarely(
        st.lists(_OTLP_SPAN, min_size=1, max_size=4), JUNK)}, optional={
        "scope": _rarely(st.fixed_dictionaries({}, optional={"name": TEXT, "version": TEXT}),
                         JUNK)}), min_size=1, max_size=2), JUNK)}), min_size=1, max_size=2),
    JUNK)})

_ZIPKIN_SPAN = st.fixed_dictionaries({
    "traceId": _maybe(st.one_of(_hex_id(8), _hex_id(16))), "id": _maybe(_hex_id(8))}, optional={
    "parentId": _maybe(_hex_id(8)), "name": _maybe(TEXT), "kind": _maybe(TEXT),
    "timestamp": _maybe(NUMBER), "duration": _maybe(NUMBER),
    "localEndpoint": _maybe(st.fixed_dictionaries({}, optional={
        "serviceName": _maybe(TEXT), "ipv4": _maybe(TEXT), "ipv6": _maybe(TEXT),
        "port": _maybe(NUMBER)})),
    "remoteEndpoint": _maybe(st.fixed_dictionaries({}, optional={"serviceName": TEXT})),
    "annotations": _maybe(st.lists(st.fixed_dictionaries({}, optional={
        "timestamp": _maybe(NUMBER), "value": _maybe(TEXT)}), max_size=2)),
    "tags": _maybe(st.dictionaries(st.one_of(TEXT, st.sampled_from([
        "otel.dropped_events_count", "otel.dropped_attributes_count", "otel.status_code",
        "error", "w3c.tracestate", "otel.scope.name", "span.kind"])), _maybe(TEXT), max_size=4)),
})
ZIPKIN_JSON = st.one_of(st.lists(_ZIPKIN_SPAN, max_size=4), JUNK)


def json_bytes(document) -> bytes:
    """JSON text as senders write it (lone surrogates as \\u escapes; NaN as NaN)."""
    return json.dumps(document, ensure_ascii=True).encode()


def _mutate(seed_body: bytes) -> st.SearchStrategy:
    """A valid body with bytes overwritten, inserted or cut."""
    def apply(edits: list[tuple[int, int, int]]) -> bytes:
        body = bytearray(seed_body)
        for op, position, value in edits:
            position %= max(1, len(body))
            if op == 0:
                body[position:position + 1] = bytes([value])
            elif op == 1:
                body.insert(position, value)
            else:
                del body[position:position + value % 16]
        return bytes(body)
    edit = st.tuples(st.integers(0, 2), st.integers(0, 1 << 20), st.integers(0, 255))
    return st.lists(edit, min_size=1, max_size=6).map(apply)


_OTLP_SEED = sample_request(1, seed=5).SerializeToString()
_ZIPKIN_SEED = ListOfSpansProto(spans=[{
    "trace_id": b"\x01" * 16, "id": b"\x02" * 8, "kind": 2, "name": "get", "timestamp": 10,
    "duration": 5, "tags": {"otel.dropped_events_count": "3", "error": "boom"},
    "local_endpoint": {"service_name": "svc", "ipv4": b"\x7f\0\0\1", "port": 80}}]
).SerializeToString()


def _proto_request() -> st.SearchStrategy:
    """Requests with every field at arbitrary values, encoded properly."""
    def build(spans: list[dict]) -> bytes:
        request = ExportTraceServiceRequest()
        out = request.resource_spans.add().scope_spans.add().spans
        for fields in spans:
            out.add(**fields)
        return request.SerializeToString()
    def mostly(size: int) -> st.SearchStrategy:
        exact = st.integers(1, 2 ** (8 * size) - 1).map(lambda n: n.to_bytes(size, "big"))
        return st.one_of(exact, exact, exact, st.binary(max_size=size + 1))

    span = st.fixed_dictionaries({
        "trace_id": mostly(16), "span_id": mostly(8),
        "parent_span_id": st.one_of(st.just(b""), mostly(8)), "name": st.text(max_size=8),
        "kind": st.integers(-(2**31), 2**31 - 1),
        "start_time_unix_nano": st.integers(0, 2**64 - 1),
        "end_time_unix_nano": st.integers(0, 2**64 - 1),
        "status": st.fixed_dictionaries({"code": st.integers(-(2**31), 2**31 - 1)}),
        "dropped_attributes_count": st.integers(0, 2**32 - 1)})
    return st.lists(span, max_size=4).map(build)


OTLP_PROTO = st.one_of(st.binary(max_size=200), _mutate(_OTLP_SEED), _proto_request())
ZIPKIN_PROTO = st.one_of(st.binary(max_size=200), _mutate(_ZIPKIN_SEED))


def _gzip_members(parts: list[bytes]) -> bytes:
    return b"".join(gzip.compress(part) for part in parts)


COMPRESSED = st.one_of(
    st.binary(max_size=100),
    st.lists(st.binary(max_size=50), min_size=1, max_size=3).map(_gzip_members),
    st.tuples(st.lists(st.binary(max_size=50), min_size=1, max_size=2).map(_gzip_members),
              st.binary(min_size=1, max_size=10)).map(b"".join),
    st.binary(max_size=80).map(lambda raw: gzip.compress(raw)[:-3]),
    st.binary(max_size=80).map(zlib.compress).flatmap(_mutate),
)
