"""Turn on the OpenTelemetry instrumentations that happen to be installed, and log correlation."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from opentelemetry import trace

_logger = logging.getLogger(__name__)

# (name, instrumentor module, class): each is imported only when asked for, and
# skipped when the instrumentation package (or the library it needs) is absent.
INSTRUMENTORS = (
    ("requests", "opentelemetry.instrumentation.requests", "RequestsInstrumentor"),
    ("httpx", "opentelemetry.instrumentation.httpx", "HTTPXClientInstrumentor"),
    ("aiohttp-client", "opentelemetry.instrumentation.aiohttp_client", "AioHttpClientInstrumentor"),
    ("urllib3", "opentelemetry.instrumentation.urllib3", "URLLib3Instrumentor"),
    ("urllib", "opentelemetry.instrumentation.urllib", "URLLibInstrumentor"),
    ("fastapi", "opentelemetry.instrumentation.fastapi", "FastAPIInstrumentor"),
    ("starlette", "opentelemetry.instrumentation.starlette", "StarletteInstrumentor"),
    ("flask", "opentelemetry.instrumentation.flask", "FlaskInstrumentor"),
    ("django", "opentelemetry.instrumentation.django", "DjangoInstrumentor"),
    ("grpc-client", "opentelemetry.instrumentation.grpc", "GrpcInstrumentorClient"),
    ("grpc-server", "opentelemetry.instrumentation.grpc", "GrpcInstrumentorServer"),
    ("grpc-aio-client", "opentelemetry.instrumentation.grpc", "GrpcAioInstrumentorClient"),
    ("grpc-aio-server", "opentelemetry.instrumentation.grpc", "GrpcAioInstrumentorServer"),
    ("sqlalchemy", "opentelemetry.instrumentation.sqlalchemy", "SQLAlchemyInstrumentor"),
    ("psycopg", "opentelemetry.instrumentation.psycopg", "PsycopgInstrumentor"),
    ("psycopg2", "opentelemetry.instrumentation.psycopg2", "Psycopg2Instrumentor"),
    ("redis", "opentelemetry.instrumentation.redis", "RedisInstrumentor"),
)


def instrument_installed(tracer_provider: Any = None) -> list[str]:
    """Instrument every library in ``INSTRUMENTORS`` whose instrumentation is installed; returns their names."""
    enabled = []
    for name, module_name, class_name in INSTRUMENTORS:
        try:
            module = importlib.import_module(module_name)
            instrumentor = getattr(module, class_name)()
        except Exception:
            continue
        try:
            if not getattr(instrumentor, "is_instrumented_by_opentelemetry", False):
                instrumentor.instrument(tracer_provider=tracer_provider)
            enabled.append(name)
        except Exception as exc:
            _logger.debug("traceway: could not enable %s instrumentation: %r", name, exc)
    return enabled


class TraceContextFilter(logging.Filter):
    """Adds ``trace_id``/``span_id`` (hex, empty outside a span) to records passing a handler or logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        _add_ids(record)
        return True


def _add_ids(record: logging.LogRecord) -> None:
    ctx = trace.get_current_span().get_span_context()
    trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else ""
    span_id = format(ctx.span_id, "016x") if ctx.is_valid else ""
    record.__dict__.update(
        trace_id=trace_id,
        span_id=span_id,
        trace_sampled=ctx.is_valid and ctx.trace_flags.sampled,
        # the names the OTel logging instrumentation uses, for existing formats
        otelTraceID=trace_id or "0",
        otelSpanID=span_id or "0",
    )


_factory_installed = False


def install_log_correlation() -> None:
    """Give every LogRecord trace_id/span_id, whichever logger or handler it goes through.

    A record factory rather than a filter: filters on the root logger do not see
    records propagated from child loggers. Installed once per process.
    """
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _add_ids(record)
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True
