from __future__ import annotations

import pytest
from opentelemetry import baggage, propagate, trace

from traceway.instrument import build_propagator, extract, inject


def _round_trip(memory, names):
    propagate.set_global_textmap(build_propagator(names))
    tracer = trace.get_tracer("t")
    with tracer.start_as_current_span("client") as client:
        headers: dict[str, str] = {}
        inject(headers)
    with tracer.start_as_current_span("server", context=extract(headers)) as server:
        pass
    sc = client.get_span_context()
    assert server.get_span_context().trace_id == sc.trace_id
    assert server.parent.span_id == sc.span_id
    assert server.parent.is_remote
    return headers


def test_w3c_traceparent_and_baggage(memory):
    propagate.set_global_textmap(build_propagator(None))  # default: tracecontext + baggage
    tracer = trace.get_tracer("t")
    with tracer.start_as_current_span("client") as client:
        headers = inject({}, baggage.set_baggage("tenant", "acme"))
    ctx = extract(headers)
    assert baggage.get_baggage("tenant", ctx) == "acme"
    headers2 = _round_trip(memory, ["tracecontext", "baggage"])
    assert headers2["traceparent"].startswith("00-")
    assert client.get_span_context().trace_id == int(headers["traceparent"].split("-")[1], 16)


def test_b3_single_header(memory):
    headers = _round_trip(memory, ["b3"])
    assert set(headers) == {"b3"}


def test_b3_multi_header(memory):
    headers = _round_trip(memory, ["b3multi"])
    assert {"x-b3-traceid", "x-b3-spanid", "x-b3-sampled"} <= set(headers)


def test_jaeger(memory):
    headers = _round_trip(memory, ["jaeger"])
    assert "uber-trace-id" in headers


def test_env_var_chooses_propagators(memory, monkeypatch):
    monkeypatch.setenv("OTEL_PROPAGATORS", "b3multi,tracecontext")
    propagate.set_global_textmap(build_propagator())
    with trace.get_tracer("t").start_as_current_span("x"):
        headers = inject({})
    assert "traceparent" in headers and "x-b3-traceid" in headers


def test_extract_ignores_header_case(memory):
    propagate.set_global_textmap(build_propagator(["b3multi"]))
    with trace.get_tracer("t").start_as_current_span("x") as span:
        headers = inject({})
    shouted = {k.upper(): v.encode() for k, v in headers.items()}  # bytes values, as some brokers give
    sc = trace.get_current_span(extract(shouted)).get_span_context()
    assert sc.trace_id == span.get_span_context().trace_id


def test_unknown_propagator_is_an_error():
    with pytest.raises(ValueError, match="unknown propagator"):
        build_propagator(["carrier-pigeon"])
