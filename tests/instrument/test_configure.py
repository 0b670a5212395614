from __future__ import annotations

import logging
import os

import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace.sampling import ParentBased

from traceway.instrument import configure, inject
from traceway.instrument.exporter import OTLPSpanExporter
from traceway.instrument.processor import TracewaySpanProcessor
from traceway.instrument.testing import InMemorySpanExporter


def _resource(span_or_handle):
    return dict(span_or_handle.provider.resource.attributes)


def _received_resources(sink):
    return [{kv.key: kv.value for kv in rs.resource.attributes} for r in sink.requests for rs in r.resource_spans]


def test_configure_installs_provider_and_is_idempotent(sink):
    handle = configure("checkout", endpoint=sink.endpoint, auto_instrument=False)
    assert configure("something-else") is handle
    assert trace.get_tracer_provider() is handle.provider
    assert isinstance(handle.processor, TracewaySpanProcessor)
    assert len(handle.provider._active_span_processor._span_processors) == 1
    with trace.get_tracer("t").start_as_current_span("hello"):
        pass
    assert handle.flush()
    assert [s.name for s in sink.spans()] == ["hello"]
    attributes = _resource(handle)
    assert attributes["service.name"] == "checkout"
    for key in ("service.version", "deployment.environment", "host.name", "process.pid", "process.runtime.name"):
        assert key in attributes
    assert handle.stats()["exported"] == 1
    handle.shutdown()
    handle.shutdown()


def test_default_sampler_is_parent_based_ratio():
    handle = configure("svc", exporter=InMemorySpanExporter(), auto_instrument=False, sampler=0.25)
    assert isinstance(handle.provider.sampler, ParentBased)
    assert "TraceIdRatioBased{0.25}" in handle.provider.sampler.get_description()


def test_env_vars_are_honoured(sink, monkeypatch):
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging,team=payments%20core")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.endpoint)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
    monkeypatch.setenv("OTEL_PROPAGATORS", "b3multi")
    handle = configure(auto_instrument=False)
    attributes = _resource(handle)
    assert attributes["service.name"] == "from-env"
    assert attributes["deployment.environment"] == "staging"
    assert attributes["team"] == "payments core"
    assert "TraceIdRatioBased{0.5}" in handle.provider.sampler.get_description()
    with trace.get_tracer("t").start_as_current_span("x", context=_sampled_parent()):
        headers = inject({})
    assert "x-b3-traceid" in headers and "traceparent" not in headers
    handle.flush()
    assert _received_resources(sink)[0]["service.name"].string_value == "from-env"


def _sampled_parent():
    parent = trace.SpanContext(1, 2, is_remote=True, trace_flags=trace.TraceFlags(1))
    return trace.set_span_in_context(trace.NonRecordingSpan(parent))


def test_explicit_arguments_beat_env(monkeypatch):
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    handle = configure("explicit", protocol="http/protobuf", endpoint="http://127.0.0.1:9", auto_instrument=False)
    assert handle.settings.service_name == "explicit"
    assert handle.settings.protocol == "http/protobuf"


def test_protocol_from_env_selects_grpc(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    handle = configure("svc", auto_instrument=False)
    assert isinstance(handle.exporter, OTLPSpanExporter)
    assert type(handle.exporter.transport).__name__ == "GRPCTransport"


def test_sdk_disabled(monkeypatch):
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    handle = configure("svc")
    assert not handle.enabled
    assert not trace.get_tracer("t").start_span("x").is_recording()
    assert handle.flush() and handle.stats() == {}


def test_log_records_carry_trace_ids(caplog):
    configure("svc", exporter=InMemorySpanExporter())
    with caplog.at_level(logging.INFO):
        with trace.get_tracer("t").start_as_current_span("x") as span:
            logging.getLogger("some.module").info("inside")
        logging.getLogger("some.module").info("outside")
    inside, outside = caplog.records[-2:]
    assert inside.trace_id == format(span.get_span_context().trace_id, "032x")
    assert inside.span_id == format(span.get_span_context().span_id, "016x")
    assert outside.trace_id == ""


def test_auto_instrument_enables_what_is_installed_and_skips_the_rest():
    handle = configure("svc", exporter=InMemorySpanExporter())
    assert isinstance(handle.instrumented, list)  # nothing required: missing instrumentations are skipped


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_exports_its_own_spans(sink):
    handle = configure("forking", endpoint=sink.endpoint, auto_instrument=False)
    with trace.get_tracer("t").start_as_current_span("in-parent"):
        pass
    pid = os.fork()
    if pid == 0:  # child: must get a working export thread of its own
        code = 1
        try:
            with trace.get_tracer("t").start_as_current_span("in-child"):
                pass
            code = 0 if handle.flush(10) and handle.stats()["exported"] == 1 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert handle.flush(10)
    by_name = {}
    for request in sink.requests:
        for rs in request.resource_spans:
            pid_attr = {kv.key: kv.value.int_value for kv in rs.resource.attributes}["process.pid"]
            for ss in rs.scope_spans:
                for span in ss.spans:
                    by_name[span.name] = pid_attr
    assert by_name == {"in-parent": os.getpid(), "in-child": pid}


def test_propagators_argument(monkeypatch):
    configure("svc", exporter=InMemorySpanExporter(), propagators=["b3"], auto_instrument=False)
    assert "b3" in propagate.get_global_textmap().fields


def test_endpoint_resolution(monkeypatch):
    from traceway.instrument.settings import resolve_settings

    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/prefix/"}
    assert resolve_settings(None, None, None, env).endpoint == "http://collector:4318/prefix/v1/traces"
    env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "http://other:4318/exact"
    assert resolve_settings(None, None, None, env).endpoint == "http://other:4318/exact"
    assert resolve_settings(None, "http://arg:1", None, env).endpoint == "http://arg:1"
    grpc_env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    assert resolve_settings(None, None, None, grpc_env).endpoint == "http://collector:4317"


def test_headers_and_compression_from_env(sink, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme,authorization=Bearer%20t")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    handle = configure("svc", endpoint=sink.endpoint, auto_instrument=False)
    assert handle.settings.headers == {"x-tenant": "acme", "authorization": "Bearer t"}
    with trace.get_tracer("t").start_as_current_span("zipped"):
        pass
    assert handle.flush()
    assert [s.name for s in sink.spans()] == ["zipped"]
