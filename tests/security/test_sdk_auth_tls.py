"""The stock OpenTelemetry exporters, configured with a token and a CA certificate, reach a
`traceway serve` that has tokens and TLS on; without the token nothing is stored."""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc
import httpx
import pytest
import requests
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from secure_setup import BROWSER_ORIGIN, INGEST_TOKEN, QUERY_TOKEN, SECOND_INGEST_TOKEN

import traceway
from traceway.client import ConnectError
from traceway.instrument.remote_sampler import JaegerRemoteSampler

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _spans(service: str) -> tuple[str, list[ReadableSpan]]:
    """A finished two-span trace of ``service`` and its hex trace id."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("security-test")
    with tracer.start_as_current_span("GET /cart") as root:
        with tracer.start_as_current_span("SELECT cart"):
            pass
    return format(root.get_span_context().trace_id, "032x"), list(memory.get_finished_spans())


def _tls(server) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=server.ca_file)


def _services(server) -> list[str]:
    return server.api("/api/services")["data"] or []


def test_otlp_http_exporter_with_token_and_certificate_delivers(secure_server):
    trace_id, spans = _spans("cart-http")
    exporter = HttpExporter(endpoint=secure_server.otlp_http_url + "/v1/traces",
                            headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
                            certificate_file=secure_server.ca_file)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    trace = secure_server.wait_for_trace(trace_id, min_spans=2)
    assert {p["serviceName"] for p in trace["processes"].values()} == {"cart-http"}


def test_otlp_grpc_exporter_configured_by_environment_delivers(secure_server, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"https://{secure_server.otlp_grpc_address}")
    # The spec's header syntax: URL-encoded, and the second token in the file works as well.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{SECOND_INGEST_TOKEN}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", secure_server.ca_file)
    trace_id, spans = _spans("cart-grpc")
    assert GrpcExporter().export(spans) is SpanExportResult.SUCCESS
    secure_server.wait_for_trace(trace_id, min_spans=2)


def test_zipkin_exporter_with_token_and_certificate_delivers(secure_server):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {INGEST_TOKEN}"
    session.verify = secure_server.ca_file
    trace_id, spans = _spans("cart-zipkin")
    exporter = ZipkinExporter(endpoint=secure_server.zipkin_url, session=session)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    secure_server.wait_for_trace(trace_id, min_spans=2)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"},
                                     {"Authorization": f"Bearer {QUERY_TOKEN}"},
                                     {"Authorization": f"Basic {INGEST_TOKEN}"}],
                         ids=["none", "wrong", "query-token", "not-bearer"])
def test_senders_without_the_ingest_token_are_refused_and_nothing_is_stored(secure_server, headers):
    service = f"refused-{len(headers)}-{abs(hash(str(headers))) % 1000}"
    _, spans = _spans(service)
    http = HttpExporter(endpoint=secure_server.otlp_http_url + "/v1/traces", headers=headers,
                        certificate_file=secure_server.ca_file)
    assert http.export(spans) is SpanExportResult.FAILURE
    grpc_exporter = GrpcExporter(endpoint=f"https://{secure_server.otlp_grpc_address}",
                                 headers={k.lower(): v for k, v in headers.items()},
                                 credentials=grpc.ssl_channel_credentials(
                                     Path(secure_server.ca_file).read_bytes()))
    assert grpc_exporter.export(spans) is SpanExportResult.FAILURE
    session = requests.Session()
    session.headers.update(headers)
    session.verify = secure_server.ca_file
    assert ZipkinExporter(endpoint=secure_server.zipkin_url,
                          session=session).export(spans) is SpanExportResult.FAILURE
    assert service not in _services(secure_server)


def test_refusals_say_why_in_json_with_www_authenticate(secure_server):
    otlp = httpx.post(secure_server.otlp_http_url + "/v1/traces", content=b"{}",
                      headers={"content-type": "application/json"}, verify=_tls(secure_server))
    assert otlp.status_code == 401
    assert otlp.headers["www-authenticate"].startswith("Bearer")
    assert otlp.json() == {"code": 16, "message": otlp.json()["message"]}
    assert "bearer token" in otlp.json()["message"]
    query = httpx.get(secure_server.ui_url + "/api/services", verify=_tls(secure_server),
                      headers={"Authorization": "Bearer wrong"})
    assert query.status_code == 401
    assert query.headers["www-authenticate"].startswith("Bearer")
    assert query.json()["errors"][0]["msg"] == "the bearer token is not valid here"


def test_grpc_without_token_is_unauthenticated(secure_server):
    credentials = grpc.ssl_channel_credentials(Path(secure_server.ca_file).read_bytes())
    with grpc.secure_channel(secure_server.otlp_grpc_address, credentials) as channel:
        export = channel.unary_unary(EXPORT)
        with pytest.raises(grpc.RpcError) as refused:
            export(ExportTraceServiceRequest().SerializeToString(), timeout=10)
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        export(ExportTraceServiceRequest().SerializeToString(), timeout=10,
               metadata=[("authorization", f"Bearer {INGEST_TOKEN}")])


def test_the_query_token_reads_and_the_ingest_token_does_not(secure_server):
    tls = _tls(secure_server)
    for path in ("/api/services", "/api/traces?service=cart-http", "/metrics"):
        as_sender = httpx.get(secure_server.ui_url + path, verify=tls,
                              headers={"Authorization": f"Bearer {INGEST_TOKEN}"})
        assert as_sender.status_code == 401, path
        as_reader = httpx.get(secure_server.ui_url + path, verify=tls,
                              headers={"Authorization": f"Bearer {QUERY_TOKEN}"})
        assert as_reader.status_code == 200, path
    # The page itself loads without a token (it then asks for one); it holds no trace data.
    assert httpx.get(secure_server.ui_url + "/search", verify=tls).status_code == 200


def test_remote_sampling_is_ingest_side(secure_server):
    tls = _tls(secure_server)
    sender = {"Authorization": f"Bearer {INGEST_TOKEN}"}
    for url in (secure_server.remote_sampling_url, secure_server.ui_url + "/api/sampling"):
        assert httpx.get(url, params={"service": "cart"}, verify=tls).status_code == 401
        answer = httpx.get(url, params={"service": "cart"}, verify=tls, headers=sender)
        assert answer.status_code == 200, url
        assert answer.json()["strategyType"] == "PROBABILISTIC"


def test_the_kits_remote_sampler_polls_with_the_ingest_token(secure_server, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", secure_server.ca_file)  # a private CA, as urllib finds it
    without = JaegerRemoteSampler("cart", secure_server.remote_sampling_url, start=False)
    assert not without.update()
    sampler = JaegerRemoteSampler("cart", secure_server.remote_sampling_url, start=False,
                                  headers={"Authorization": f"Bearer {INGEST_TOKEN}"})
    assert sampler.update()
    assert sampler.strategy["probabilisticSampling"]["samplingRate"] == 0.5


def test_zipkin_read_api_is_query_side(secure_server):
    tls = _tls(secure_server)
    services = f"{secure_server.scheme}://127.0.0.1:{secure_server.zipkin_port}/api/v2/services"
    for token, status in ((None, 401), (INGEST_TOKEN, 401), (QUERY_TOKEN, 200)):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        assert httpx.get(services, headers=headers, verify=tls).status_code == status, token
    spans = f"{secure_server.zipkin_url}?serviceName=cart-zipkin"  # GET lists span names
    assert httpx.get(spans, verify=tls, headers={
        "Authorization": f"Bearer {INGEST_TOKEN}"}).status_code == 401


@pytest.mark.parametrize("url", ["otlp_http_url", "zipkin_url"])
def test_browser_preflight_needs_no_token_and_the_401_is_readable(secure_server, url):
    target = getattr(secure_server, url) + ("/v1/traces" if url == "otlp_http_url" else "")
    origin = {"Origin": BROWSER_ORIGIN}
    preflight = httpx.options(target, verify=_tls(secure_server), headers={
        **origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert preflight.status_code == 200
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    refused = httpx.post(target, content=b"{}", verify=_tls(secure_server),
                         headers={**origin, "content-type": "application/json"})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == BROWSER_ORIGIN


@pytest.mark.parametrize("port_name", ["otlp_http_port", "zipkin_port", "ui_port",
                                       "remote_sampling_port"])
def test_every_http_listener_refuses_plain_http(secure_server, port_name):
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{getattr(secure_server, port_name)}/", timeout=5)


def test_plaintext_grpc_is_refused(secure_server):
    with grpc.insecure_channel(secure_server.otlp_grpc_address) as channel:
        with pytest.raises(grpc.RpcError) as refused:
            channel.unary_unary(EXPORT)(b"", timeout=5,
                                        metadata=[("authorization", f"Bearer {INGEST_TOKEN}")])
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


def test_tokens_never_reach_the_log(secure_server):
    # Runs after the tests above in this module have presented every token, right and wrong.
    httpx.get(secure_server.ui_url + "/api/services", verify=_tls(secure_server),
              headers={"Authorization": "Bearer wrong-token-to-log"})
    log = secure_server.log_path.read_text()
    assert "traceway ready" in log
    for secret in (INGEST_TOKEN, SECOND_INGEST_TOKEN, QUERY_TOKEN, "wrong-token-to-log"):
        assert secret not in log


def test_refusals_are_counted_per_side(secure_server):
    # Runs after the refusals above (module order): senders on every receiver, readers once.
    metrics = httpx.get(secure_server.ui_url + "/metrics", verify=_tls(secure_server),
                        headers={"Authorization": f"Bearer {QUERY_TOKEN}"}).text
    counts = {side: float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
              for side in ("ingest", "query")
              if line.startswith(f'traceway_unauthenticated_requests_total{{side="{side}"}}')}
    assert counts["ingest"] >= 12  # 4 refused senders x 3 protocols, and more
    assert counts["query"] >= 3


def test_the_notebook_client_reads_with_the_query_token(secure_server, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", secure_server.ca_file)
    with pytest.raises(ConnectError, match="HTTP 401"):
        traceway.connect(secure_server.ui_url).spans(service="cart-http", lookback="1h")
    spans = traceway.connect(secure_server.ui_url, token=QUERY_TOKEN).spans(
        service="cart-http", lookback="1h")
    assert spans.num_rows == 2
