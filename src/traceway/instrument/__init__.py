"""Traceway's instrumentation kit: OpenTelemetry set up for a service in one call.

    from traceway import instrument
    handle = instrument.configure("checkout")

This package imports nothing else from ``traceway``: it ships on its own as the
``traceway-instrument`` distribution.
"""

from traceway.instrument.auto import TraceContextFilter, install_log_correlation, instrument_installed
from traceway.instrument.encode import SpanEncoder, encode_spans
from traceway.instrument.errors import mark_error, traced
from traceway.instrument.exporter import OTLPSpanExporter
from traceway.instrument.messaging import consume, consume_batch, produce
from traceway.instrument.processor import BatchSettings, TracewaySpanProcessor
from traceway.instrument.propagation import build_propagator, extract, inject
from traceway.instrument.provider import Handle, configure, current_handle
from traceway.instrument.remote_sampler import JaegerRemoteSampler

__all__ = [
    "BatchSettings",
    "Handle",
    "JaegerRemoteSampler",
    "OTLPSpanExporter",
    "SpanEncoder",
    "TraceContextFilter",
    "TracewaySpanProcessor",
    "build_propagator",
    "configure",
    "consume",
    "consume_batch",
    "current_handle",
    "encode_spans",
    "extract",
    "inject",
    "install_log_correlation",
    "instrument_installed",
    "mark_error",
    "produce",
    "traced",
]
