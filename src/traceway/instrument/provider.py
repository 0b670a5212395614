"""``configure()``: one call to set up tracing for a service, idempotent and fork-safe."""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import Sampler

from traceway.instrument.auto import install_log_correlation, instrument_installed
from traceway.instrument.exporter import OTLPSpanExporter
from traceway.instrument.processor import BatchSettings, TracewaySpanProcessor
from traceway.instrument.propagation import build_propagator
from traceway.instrument.settings import Settings, resolve_sampler, resolve_settings
from traceway.instrument.settings import resource_attributes as build_resource_attributes

_logger = logging.getLogger(__name__)


class Handle:
    """What ``configure`` installed. ``flush()`` exports what is queued; ``shutdown()`` also stops the worker."""

    def __init__(
        self,
        settings: Settings,
        provider: TracerProvider | None,
        processor: SpanProcessor | None,
        exporter: SpanExporter | None,
        instrumented: list[str],
    ) -> None:
        self.settings = settings
        self.provider = provider
        self.processor = processor
        self.exporter = exporter
        self.instrumented = instrumented
        self._closed = False

    @property
    def enabled(self) -> bool:
        """False when OTEL_SDK_DISABLED turned the SDK off (the API then makes no-op spans)."""
        return self.provider is not None

    def stats(self) -> dict[str, int]:
        """Counters: exported, dropped (queue_full + export_failed), blocked, queue depth, export retries."""
        processor = self.processor
        if not isinstance(processor, TracewaySpanProcessor):
            return {}
        snapshot = processor.stats.snapshot()
        snapshot["queue_depth"] = processor.queue_depth
        snapshot["export_retries"] = getattr(self.exporter, "retries", 0)
        return snapshot

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Export every span ended so far; False if that did not finish within ``timeout_s``."""
        if self.provider is None or self._closed:
            return True
        return self.provider.force_flush(int(timeout_s * 1000))

    def shutdown(self) -> None:
        """Flush and stop; later spans are not exported. Safe to call twice (it also runs at exit)."""
        if self._closed:
            return
        self._closed = True
        if self.provider is not None:
            self.provider.shutdown()


_lock = threading.Lock()
_handle: Handle | None = None


def configure(
    service_name: str | None = None,
    *,
    endpoint: str | None = None,
    protocol: str | None = None,
    sampler: Sampler | float | str | None = None,
    propagators: Iterable[str | TextMapPropagator] | str | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    auto_instrument: bool = True,
    exporter: SpanExporter | None = None,
    batch: BatchSettings | None = None,
) -> Handle:
    """Install a global TracerProvider exporting OTLP to Traceway (or any collector).

    ``protocol`` is "http/protobuf" (default, ``http://127.0.0.1:4318``) or
    "grpc" (``127.0.0.1:4317``). ``sampler`` is a Sampler, a ratio for
    ``ParentBased(TraceIdRatioBased(ratio))``, or ``"jaeger_remote"`` for
    ``ParentBased(JaegerRemoteSampler)`` polling Traceway's ``/sampling`` endpoint. ``propagators`` are names
    ("tracecontext", "baggage", "b3", "b3multi", "jaeger") or objects.
    Arguments left as None fall back to the ``OTEL_*`` environment variables,
    then to those defaults. ``exporter`` replaces the OTLP exporter (for tests:
    an ``InMemorySpanExporter``). A second call returns the first handle.
    """
    global _handle
    with _lock:
        if _handle is not None:
            _logger.debug("traceway: configure() called again; keeping the first configuration")
            return _handle
        settings = resolve_settings(service_name, endpoint, protocol)
        propagate.set_global_textmap(build_propagator(propagators))
        if settings.sdk_disabled:
            _handle = Handle(settings, None, None, None, [])
            return _handle
        resource = Resource.create(build_resource_attributes(settings.service_name, resource_attributes))
        provider = TracerProvider(resource=resource, sampler=resolve_sampler(
            sampler, service_name=settings.service_name), shutdown_on_exit=False)
        if exporter is None:
            exporter = OTLPSpanExporter.for_protocol(
                settings.protocol, settings.endpoint, headers=settings.headers,
                compression=settings.compression, timeout_s=settings.timeout_s,
            )
        processor = TracewaySpanProcessor(exporter, batch or BatchSettings.from_env())
        provider.add_span_processor(processor)
        if trace._TRACER_PROVIDER is not None:  # the API would ignore ours with a vague warning
            _logger.warning("traceway: a global TracerProvider was already set; configure() could not install its own")
        trace.set_tracer_provider(provider)
        if isinstance(exporter, OTLPSpanExporter):
            _keep_pid_fresh(exporter)
        instrumented: list[str] = []
        if auto_instrument:
            install_log_correlation()
            instrumented = instrument_installed(provider)
        _handle = Handle(settings, provider, processor, exporter, instrumented)
        atexit.register(_handle.shutdown)
        return _handle


def _keep_pid_fresh(exporter: OTLPSpanExporter) -> None:
    # The Resource is fixed when the provider is built, so a forked worker
    # would report its parent's pid; patch it at encode time instead.
    def after_fork() -> None:
        exporter.encoder.resource_overrides["process.pid"] = os.getpid()
        exporter.encoder.clear_caches()

    os.register_at_fork(after_in_child=after_fork)


def current_handle() -> Handle | None:
    """The handle from the first ``configure`` call in this process, if any."""
    return _handle


def _forget_handle() -> None:
    """For ``testing.reset``: the next ``configure`` starts from scratch."""
    global _handle
    _handle = None
