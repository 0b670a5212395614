"""Fixtures for the instrumentation kit: a clean global OTel state, an in-memory exporter, a loopback sink."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from traceway.instrument.propagation import build_propagator
from traceway.instrument.testing import InMemorySpanExporter, OTLPSink, reset

OTEL_VARS = (
    "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_PROPAGATORS", "OTEL_SDK_DISABLED", "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TIMEOUT",
)


@pytest.fixture(autouse=True)
def clean_otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts without a configured provider or OTEL_* variables, and leaves none behind."""
    for name in OTEL_VARS:
        monkeypatch.delenv(name, raising=False)
    reset()
    yield
    reset()
    propagate.set_global_textmap(build_propagator(["tracecontext", "baggage"]))


@pytest.fixture
def memory() -> Iterator[InMemorySpanExporter]:
    """A global TracerProvider that records finished spans synchronously."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    propagate.set_global_textmap(build_propagator(["tracecontext", "baggage"]))
    yield exporter
    provider.shutdown()


@pytest.fixture
def sink() -> Iterator[OTLPSink]:
    with OTLPSink() as s:
        yield s
