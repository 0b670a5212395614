"""Zipkin v2 JSON and proto3 -> SpanBatch: golden files plus the rules spelled out."""

from __future__ import annotations

import copy
import ipaddress
import json
import random
from pathlib import Path
from typing import Any

import pytest
from goldens import EXPECTED, GOLDEN, batch_to_json, check_golden, decoded_to_json, zipkin_inputs

from traceway.convert.otlp import InvalidPayloadError
from traceway.convert.zipkin import spans_from_zipkin_json, spans_from_zipkin_proto
from traceway.convert.zipkin_proto import ListOfSpansProto

# invalid.json holds things the proto format cannot even express (strings as spans, odd lengths).
PROTO_EXPRESSIBLE = [p for p in zipkin_inputs() if p.name != "invalid.json"]
_PROTO_KIND = {"CLIENT": 1, "SERVER": 2, "PRODUCER": 3, "CONSUMER": 4}


def zipkin_json_to_proto(spans: list[dict[str, Any]]) -> bytes:
    """The same spans as a ``ListOfSpans``, built field by field from the JSON."""
    message = ListOfSpansProto()
    for item in spans:
        span = message.spans.add()
        span.trace_id = bytes.fromhex(item["traceId"])
        span.id = bytes.fromhex(item["id"])
        if item.get("parentId"):
            span.parent_id = bytes.fromhex(item["parentId"])
        span.kind = _PROTO_KIND.get(item.get("kind", "").upper(), 0)
        span.name = item.get("name", "")
        span.timestamp = item.get("timestamp", 0)
        span.duration = item.get("duration", 0)
        for field in ("localEndpoint", "remoteEndpoint"):
            if field in item:
                _endpoint(getattr(span, "local_endpoint" if field == "localEndpoint"
                                  else "remote_endpoint"), item[field])
        for annotation in item.get("annotations", ()):
            span.annotations.add(timestamp=annotation["timestamp"], value=annotation["value"])
        span.tags.update(item.get("tags", {}))
        span.debug = bool(item.get("debug"))
        span.shared = bool(item.get("shared"))
    return message.SerializeToString()


def _endpoint(endpoint: Any, value: dict[str, Any]) -> None:
    endpoint.service_name = value.get("serviceName", "")
    if "ipv4" in value:
        endpoint.ipv4 = ipaddress.IPv4Address(value["ipv4"]).packed
    if "ipv6" in value:
        endpoint.ipv6 = ipaddress.IPv6Address(value["ipv6"]).packed
    endpoint.port = value.get("port", 0)
    endpoint.SetInParent()


@pytest.mark.parametrize("path", zipkin_inputs(), ids=lambda p: p.stem)
def test_spans_from_zipkin_json_golden(path: Path) -> None:
    decoded = spans_from_zipkin_json(path.read_bytes())
    check_golden(EXPECTED / "zipkin-spans" / f"{path.stem}.json", decoded_to_json(decoded))


@pytest.mark.parametrize("path", PROTO_EXPRESSIBLE, ids=lambda p: p.stem)
def test_spans_from_zipkin_proto_matches_json(path: Path) -> None:
    """The proto path gives exactly what the JSON path (checked by the golden file) gives."""
    from_proto = spans_from_zipkin_proto(zipkin_json_to_proto(json.loads(path.read_bytes())))
    from_json = spans_from_zipkin_json(path.read_bytes())
    assert decoded_to_json(from_proto) == decoded_to_json(from_json)


def test_proto_field_numbers_match_zipkin_proto() -> None:
    """Hand-encoded wire bytes, independent of our descriptor, decode as zipkin.proto says."""
    endpoint = b"\x0a\x03svc" + b"\x12\x04\x0a\x00\x00\x01" + b"\x20\x50"  # name, ipv4, port 80
    annotation = b"\x09" + (7).to_bytes(8, "little") + b"\x12\x02hi"
    tag = b"\x0a\x01k" + b"\x12\x01v"
    span = (b"\x0a\x08" + bytes(7) + b"\x01"  # trace_id, 8 bytes
            + b"\x12\x08" + b"\x02" * 8  # parent_id
            + b"\x1a\x08" + b"\x03" * 8  # id
            + b"\x20\x01"  # kind CLIENT
            + b"\x2a\x04name"
            + b"\x31" + (5).to_bytes(8, "little")  # timestamp fixed64
            + b"\x38\x06"  # duration varint
            + b"\x42" + bytes([len(endpoint)]) + endpoint
            + b"\x52" + bytes([len(annotation)]) + annotation
            + b"\x5a" + bytes([len(tag)]) + tag
            + b"\x60\x01\x68\x01")  # debug, shared
    body = b"\x0a" + bytes([len(span)]) + span
    [record] = spans_from_zipkin_proto(body).batch.rows()
    assert record.trace_id == bytes(15) + b"\x01"
    assert (record.parent_span_id, record.span_id) == (b"\x02" * 8, b"\x03" * 8)
    assert (record.kind, record.name, record.service) == (3, "name", "svc")
    assert (record.start_ns, record.duration_ns) == (5000, 6000)
    span_json = batch_to_json(spans_from_zipkin_proto(body).batch)[0]["detail"]
    assert span_json["events"] == [{"timeUnixNano": "7000", "name": "hi"}]
    attributes = {a["key"]: a["value"] for a in span_json["attributes"]}
    assert attributes == {"k": {"stringValue": "v"}, "net.host.ip": {"stringValue": "10.0.0.1"},
                          "net.host.port": {"intValue": "80"}}


def _spans(name: str) -> dict[str, dict[str, Any]]:
    decoded = spans_from_zipkin_json((GOLDEN / "zipkin" / name).read_bytes())
    return {span["name"]: span for span in batch_to_json(decoded.batch)}


def _attributes(span: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: a["value"] for a in span["detail"].get("attributes", ())}


def test_64_bit_trace_ids_are_left_padded_and_128_bit_kept() -> None:
    assert {s["traceId"] for s in _spans("frontend-backend.json").values()} == {
        "00000000000000005af7183fb1d4cf5f"}
    consumer = _spans("edge-cases.json")["process order"]
    assert consumer["traceId"] == "463ac35c9f6413ad48485a3953bb6124"  # upper case accepted
    assert consumer["spanId"] == "a2fb4a1d1a96d312"


def test_shared_span_halves_stay_two_spans_with_one_id() -> None:
    decoded = spans_from_zipkin_json((GOLDEN / "zipkin" / "frontend-backend.json").read_bytes())
    halves = [s for s in batch_to_json(decoded.batch) if s["spanId"] == "352bff9a74ca9ad2"]
    assert [(s["service"], s["kind"]) for s in halves] == [("frontend", 3), ("backend", 2)]
    assert {s["parentSpanId"] for s in halves} == {"6b221d5bc9e6496c"}


def test_endpoints_and_annotations() -> None:
    decoded = spans_from_zipkin_json((GOLDEN / "zipkin" / "frontend-backend.json").read_bytes())
    [client] = [s for s in batch_to_json(decoded.batch) if s["name"] == "get /api" and s["kind"] == 3]
    assert _attributes(client) == {
        "http.method": {"stringValue": "GET"}, "http.path": {"stringValue": "/api"},
        "net.host.ip": {"stringValue": "192.168.99.1"}, "net.host.port": {"intValue": "8081"},
        "peer.service": {"stringValue": "backend"},
        "net.peer.ip": {"stringValue": "172.19.0.3"}, "net.peer.port": {"intValue": "9000"}}
    assert client["detail"]["events"] == [
        {"timeUnixNano": "1556604172356000000", "name": "wire send"}]
    assert (client["startNs"], client["durationNs"]) == (1556604172355737000, 1431000)
    assert client["scope"] == {"name": "zipkin"}
    assert client["resource"] == {
        "attributes": [{"key": "service.name", "value": {"stringValue": "frontend"}}]}


def test_error_and_status_tags() -> None:
    spans = _spans("edge-cases.json")
    consumer = spans["process order"]
    assert (consumer["kind"], consumer["statusCode"]) == (5, 2)
    assert consumer["statusMessage"] == "timeout after 3s"
    assert "error" not in _attributes(consumer)
    assert (spans["error=true only"]["statusCode"], spans["error=true only"]["statusMessage"]) == (
        2, "")
    otel = spans["otel exporter status"]
    assert (otel["statusCode"], otel["statusMessage"]) == (2, "bad gateway")
    assert otel["scope"] == {"name": "io.opentelemetry.http", "version": "2.1.0"}
    assert otel["detail"]["traceState"] == "rojo=00f067aa0ba902b7"
    assert _attributes(otel) == {}
    ok = spans["collector status ok, internal"]
    assert (ok["statusCode"], ok["kind"], ok["scope"]) == (1, 1, {"name": "legacy-lib"})


def test_missing_fields() -> None:
    span = _spans("edge-cases.json")["no kind, no endpoint, no timestamp, parent is itself"]
    assert (span["service"], span["kind"], span["parentSpanId"]) == ("unknown_service", 0, "")
    assert (span["startNs"], span["durationNs"]) == (0, 5000)
    assert _attributes(span) == {"otel.zipkin.absentField.startTime": {"boolValue": True}}
    assert span["resource"] == {}
    root = _spans("edge-cases.json")["zero parent id means root"]
    assert root["parentSpanId"] == ""
    assert _attributes(root)["net.host.ip"] == {"stringValue": "fe80::1"}  # IPv6 wins
    assert "net.peer.port" not in _attributes(root)  # port 0 means unknown


def test_invalid_spans_rejected_and_siblings_kept() -> None:
    decoded = spans_from_zipkin_json((GOLDEN / "zipkin" / "invalid.json").read_bytes())
    assert (len(decoded.batch), decoded.rejected) == (1, 8)
    assert decoded.error_message.startswith("8 span(s) rejected: traceId must be 16 or 32")
    [span] = batch_to_json(decoded.batch)
    assert _attributes(span) == {"http.status_code": {"stringValue": "200"},
                                 "cache.hit": {"stringValue": "false"},
                                 "ratio": {"stringValue": "0.5"}}


@pytest.mark.parametrize("trace_id,span_id,parent_id", [
    (b"\x01" * 4, b"\x01" * 8, b""),  # trace id 4 bytes
    (b"\x01" * 8, b"\x01" * 4, b""),  # span id 4 bytes
    (b"\x01" * 8, b"\x01" * 8, b"\x01" * 16),  # parent id 16 bytes
    (bytes(16), b"\x01" * 8, b""),  # all-zero trace id
])
def test_proto_invalid_ids_rejected_and_siblings_kept(trace_id, span_id, parent_id) -> None:
    message = ListOfSpansProto()
    message.spans.add(trace_id=trace_id, id=span_id, parent_id=parent_id, name="bad")
    message.spans.add(trace_id=b"\x01" * 16, id=b"\x02" * 8, name="good")
    decoded = spans_from_zipkin_proto(message.SerializeToString())
    assert decoded.rejected == 1 and decoded.batch.name == ["good"]
    assert decoded.error_message.startswith("1 span(s) rejected: ")


@pytest.mark.parametrize("body", [b"", b"{", b'{"traceId": "x"}', b'"spans"', b"\xff\xfe"])
def test_malformed_json_raises(body: bytes) -> None:
    with pytest.raises(InvalidPayloadError):
        spans_from_zipkin_json(body)


def test_malformed_proto_raises() -> None:
    with pytest.raises(InvalidPayloadError):
        spans_from_zipkin_proto(b"\x0a\xff\xff\xff")
    with pytest.raises(InvalidPayloadError):
        spans_from_zipkin_proto(b'[{"traceId": "5af7183fb1d4cf5f"}]')


def test_empty_list() -> None:
    assert len(spans_from_zipkin_json(b"[]").batch) == 0
    assert len(spans_from_zipkin_proto(b"").batch) == 0


def test_times_beyond_int64_nanoseconds_are_rejected() -> None:
    base = {"traceId": "463ac35c9f6413ad", "id": "0000000000000e01", "timestamp": 1}
    body = json.dumps([
        {**base, "duration": 2**63 // 1000},
        {**base, "timestamp": 2**64},
        {**base, "annotations": [{"timestamp": 2**62, "value": "late"}]},
        {**base, "timestamp": "NaN"},
        {**base, "name": "kept"},
    ]).encode()
    decoded = spans_from_zipkin_json(body)
    assert (decoded.rejected, decoded.batch.name) == (4, ["kept"])
    message = ListOfSpansProto()
    message.spans.add(trace_id=b"\x01" * 8, id=b"\x01" * 8, timestamp=2**64 - 1)
    assert spans_from_zipkin_proto(message.SerializeToString()).rejected == 1


_WEIRD = [None, 5, -1, 2**70, 1.5, "x", "", [], {}, [1], {"a": 1}, True, "NaN", "0" * 40]


def _replace_random_value(document: Any, rng: random.Random) -> Any:
    document = copy.deepcopy(document)
    slots: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            slots.append((node, key))
            if isinstance(child, (dict, list)):
                walk(child)

    walk(document)
    container, key = rng.choice(slots)
    container[key] = rng.choice(_WEIRD)
    return document


@pytest.mark.parametrize("path", zipkin_inputs(), ids=lambda p: p.stem)
def test_garbage_values_reject_spans_but_never_crash(path: Path) -> None:
    rng = random.Random(path.stem)
    document = json.loads(path.read_bytes())
    for _ in range(300):
        body = json.dumps(_replace_random_value(document, rng)).encode()
        try:
            decoded = spans_from_zipkin_json(body)
        except InvalidPayloadError:
            continue
        assert len(decoded.batch) + decoded.rejected <= len(document)
