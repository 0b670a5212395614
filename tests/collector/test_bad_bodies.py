"""Hostile bodies get 400 with a reason, never 500 (issue 8, bugs 3 and 6).

Each case here was a 500 (or a silent loss) before; the fuzz suite in
tests/collector/test_fuzz_decoders.py searches for more.
"""

from __future__ import annotations

import gzip
import json
import os

import httpx
import pytest

from traceway.testing import ServerProcess

T0_US = 1_700_000_000_000_000
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process = ServerProcess(tmp_path_factory.mktemp("bad-bodies") / "data").start()
    yield process
    assert process.process.poll() is None
    process.stop()


def _otlp(trace_id: str, span_id: str = "0000000000000001", **fields) -> dict:
    span = {"traceId": trace_id, "spanId": span_id, "name": "op",
            "startTimeUnixNano": str(T0_US * 1000), "endTimeUnixNano": str(T0_US * 1000 + 5)}
    span.update(fields)
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "bodies"}}]},
        "scopeSpans": [{"spans": [span]}]}]}


def _zipkin(trace_id: str, **fields) -> list[dict]:
    return [{"traceId": trace_id, "id": "00000000000000aa", "name": "get",
             "timestamp": T0_US, "duration": 5, "localEndpoint": {"serviceName": "zk"}, **fields}]


def _post_otlp(server: ServerProcess, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(server.otlp_http_url + "/v1/traces", content=body,
                      headers={**JSON, **headers}, timeout=30)


def _post_zipkin(server: ServerProcess, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(server.zipkin_url, content=body, headers={**JSON, **headers}, timeout=30)


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("body", [
    b'{"resourceSpans":' + DEEP + b"}",
    json.dumps(_otlp("ab" * 16, kind={"x": 1})).encode().replace(b'{"x": 1}', DEEP),
], ids=["top", "inside-span"])
def test_otlp_json_nested_too_deep_is_400(server, body):
    answer = _post_otlp(server, body)
    assert answer.status_code == 400
    assert "nested" in answer.json()["message"]


def test_zipkin_json_nested_too_deep_is_400(server):
    answer = _post_zipkin(server, DEEP)
    assert answer.status_code == 400
    assert "nested" in answer.json()["message"]


@pytest.mark.parametrize("where", ["key", "value"])
def test_lone_surrogates_are_400(server, where):
    trace_id = os.urandom(16).hex()
    attribute = ({"key": "\ud800", "value": {"stringValue": "x"}} if where == "key"
                 else {"key": "k", "value": {"stringValue": "a\udc00b"}})
    otlp = _post_otlp(server, json.dumps(_otlp(trace_id, attributes=[attribute])).encode())
    zipkin_tags = {"\ud800": "x"} if where == "key" else {"k": "a\udc00b"}
    zipkin = _post_zipkin(server, json.dumps(_zipkin(trace_id, tags=zipkin_tags)).encode())
    for answer in (otlp, zipkin):
        assert answer.status_code == 400
        assert "surrogate" in answer.json()["message"]


def test_zipkin_service_name_with_a_lone_surrogate_is_400(server):
    spans = _zipkin(os.urandom(16).hex(), localEndpoint={"serviceName": "\udfff"})
    answer = _post_zipkin(server, json.dumps(spans).encode())
    assert answer.status_code == 400


@pytest.mark.parametrize("literal", [b"1e400", b"-1e400", b"NaN", b"Infinity"])
def test_non_finite_kind_is_400(server, literal):
    body = json.dumps(_otlp("cd" * 16, kind=12345)).encode().replace(b"12345", literal)
    answer = _post_otlp(server, body)
    assert answer.status_code == 400
    assert answer.json()["message"]


def test_zipkin_dropped_count_must_be_a_decimal_integer(server):
    trace_id = os.urandom(16).hex()
    tags = {"otel.dropped_events_count": "²", "otel.dropped_links_count": "٣",
            "otel.dropped_attributes_count": "7"}
    assert _post_zipkin(server, json.dumps(_zipkin(trace_id, tags=tags)).encode()).status_code == 202
    span = server.wait_for_trace(trace_id)["spans"][0]
    tags = {tag["key"]: tag["value"] for tag in span["tags"]}
    assert tags["otel.dropped_events_count"] == "²"  # kept as the tag it is
    assert tags["otel.dropped_links_count"] == "٣"
    assert tags["otel.dropped_attributes_count"] == 7  # a real count


# --- multi-member gzip (bug 6) ------------------------------------------------

def test_every_gzip_member_is_stored(server):
    first, second = os.urandom(16).hex(), os.urandom(16).hex()
    # One JSON document split across two gzip members, as concatenating
    # compressed chunks produces; all of it must be decoded.
    text = json.dumps(_otlp(first)).encode()
    body = gzip.compress(text[:40]) + gzip.compress(text[40:])
    assert _post_otlp(server, body, **{"Content-Encoding": "gzip"}).status_code == 200
    server.wait_for_trace(first)
    spans = _zipkin(second) + [dict(_zipkin(second)[0], id="00000000000000bb")]
    text = json.dumps(spans).encode()
    body = gzip.compress(text[:30]) + gzip.compress(text[30:])
    assert _post_zipkin(server, body, **{"Content-Encoding": "gzip"}).status_code == 202
    server.wait_for_trace(second, min_spans=2)


def test_trailing_garbage_after_gzip_is_400_and_nothing_is_stored(server):
    trace_id = os.urandom(16).hex()
    body = gzip.compress(json.dumps(_otlp(trace_id)).encode()) + b"trailing junk"
    answer = _post_otlp(server, body, **{"Content-Encoding": "gzip"})
    assert answer.status_code == 400
    assert "after the compressed" in answer.json()["message"]
    assert server.api(f"/api/traces?traceID={trace_id}")["data"] == []
