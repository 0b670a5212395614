"""Fuzzed requests through a real server's receivers (issue 8's campaign, bounded):
every answer is an acceptance or a 4xx with a reason (gRPC: OK or
INVALID_ARGUMENT), never a 500, and the server stays up with nothing
unexpected in its log. ``-m slow`` sends 2,000 per receiver."""

from __future__ import annotations

import gzip

import grpc
import httpx
import pytest
from fuzz_inputs import COMPRESSED, OTLP_JSON, OTLP_PROTO, ZIPKIN_JSON, ZIPKIN_PROTO, json_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traceway.testing import ServerProcess

QUICK = settings(max_examples=60, deadline=None, derandomize=False,
                 suppress_health_check=list(HealthCheck))
LONG = settings(QUICK, max_examples=2000)
HTTP_OK = {200, 202, 400, 413, 415}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process = ServerProcess(tmp_path_factory.mktemp("fuzz-receivers") / "data").start()
    yield process
    assert process.process.poll() is None
    assert process.stop() == 0
    log = process.log_path.read_text()
    for sign in ("Traceback", "Exception in ASGI", "never retrieved", "Exception in thread"):
        assert sign not in log, log


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=30) as client:
        yield client


def _bodies(documents: st.SearchStrategy) -> st.SearchStrategy:
    """Bodies as sent: plain, gzip (sometimes with junk after it) or arbitrary bytes."""
    return st.one_of(documents, documents.map(gzip.compress).map(lambda b: (b, "gzip")),
                     COMPRESSED.map(lambda b: (b, "gzip")))


def _post(client: httpx.Client, url: str, media: str, body) -> int:
    content, encoding = body if isinstance(body, tuple) else (body, "")
    headers = {"Content-Type": media}
    if encoding:
        headers["Content-Encoding"] = encoding
    return client.post(url, content=content, headers=headers).status_code


RECEIVERS = {
    "otlp-json": ("/v1/traces", "application/json",
                  _bodies(st.one_of(OTLP_JSON.map(json_bytes), st.binary(max_size=64)))),
    "otlp-proto": ("/v1/traces", "application/x-protobuf", _bodies(OTLP_PROTO)),
    "zipkin-json": ("zipkin", "application/json", _bodies(ZIPKIN_JSON.map(json_bytes))),
    "zipkin-proto": ("zipkin", "application/x-protobuf", _bodies(ZIPKIN_PROTO)),
}


def _http_case(name: str, config: settings):
    path, media, bodies = RECEIVERS[name]

    @config
    @given(body=bodies)
    def run(server, client, body):
        url = server.zipkin_url if path == "zipkin" else server.otlp_http_url + path
        assert _post(client, url, media, body) in HTTP_OK
    return run


def _grpc_case(config: settings):
    @config
    @given(body=OTLP_PROTO)
    def run(server, body):
        with grpc.insecure_channel(server.otlp_grpc_address) as channel:
            export = channel.unary_unary(
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                request_serializer=lambda raw: raw, response_deserializer=lambda raw: raw)
            try:
                export(body, timeout=30)
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
    return run


test_otlp_json = _http_case("otlp-json", QUICK)
test_otlp_proto = _http_case("otlp-proto", QUICK)
test_zipkin_json = _http_case("zipkin-json", QUICK)
test_zipkin_proto = _http_case("zipkin-proto", QUICK)
test_grpc = _grpc_case(QUICK)

def slow(test):  # the long campaigns outlast the suite's 300 s per-test timeout
    return pytest.mark.slow(pytest.mark.timeout(3600)(test))


test_otlp_json_long = slow(_http_case("otlp-json", LONG))
test_otlp_proto_long = slow(_http_case("otlp-proto", LONG))
test_zipkin_json_long = slow(_http_case("zipkin-json", LONG))
test_zipkin_proto_long = slow(_http_case("zipkin-proto", LONG))
test_grpc_long = slow(_grpc_case(LONG))
