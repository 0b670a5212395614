"""The OTLP span exporter: ``SpanEncoder`` bytes over a ``Transport`` with retries.

It implements the SDK's ``SpanExporter`` seam, so it also works under the
stock ``BatchSpanProcessor``; ``TracewaySpanProcessor`` is its usual home.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from traceway.instrument.encode import GroupKey, SpanEncoder
from traceway.instrument.transport import GRPCTransport, HTTPTransport, Transport

_logger = logging.getLogger(__name__)

PROTOCOLS = ("http/protobuf", "grpc")
DEFAULT_HTTP_ENDPOINT = "http://127.0.0.1:4318"
DEFAULT_GRPC_ENDPOINT = "http://127.0.0.1:4317"


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a base endpoint: ``/v1/traces`` is appended unless a path is given."""
    stripped = endpoint.rstrip("/")
    scheme_end = stripped.find("://")
    if "/" in stripped[scheme_end + 3 if scheme_end >= 0 else 0 :]:
        return endpoint
    return stripped + "/v1/traces"


class OTLPSpanExporter(SpanExporter):
    """Encode spans with ``SpanEncoder`` and send them, retrying transient failures.

    Retries back off exponentially (with jitter) from ``initial_backoff_s`` and
    honour a server's ``Retry-After``; the whole export gives up after
    ``timeout_s``. ``shutdown()`` interrupts a pending backoff.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        timeout_s: float = 10.0,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
    ) -> None:
        self.transport = transport
        self.encoder = SpanEncoder()
        self.timeout_s = timeout_s
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self.retries = 0
        self._stop = threading.Event()

    @classmethod
    def for_protocol(
        cls,
        protocol: str,
        endpoint: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        compression: str | None = None,
        timeout_s: float = 10.0,
    ) -> OTLPSpanExporter:
        """Exporter for ``protocol`` ("http/protobuf" or "grpc"); ``endpoint`` as in the OTLP env vars."""
        transport: Transport
        if protocol == "grpc":
            transport = GRPCTransport(endpoint or DEFAULT_GRPC_ENDPOINT, headers, compression)
        elif protocol in ("http/protobuf", "http"):
            transport = HTTPTransport(traces_url(endpoint or DEFAULT_HTTP_ENDPOINT), headers, compression)
        else:
            raise ValueError(f"unsupported OTLP protocol {protocol!r}; use one of {PROTOCOLS}")
        return cls(transport, timeout_s=timeout_s)

    def encode_one(self, span: ReadableSpan) -> tuple[GroupKey, bytes]:
        """Encode one span now (on the thread that ended it) for a later ``export_encoded``."""
        return self.encoder.encode_one(span)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        encode_one = self.encoder.encode_one
        return self.export_encoded([encode_one(span) for span in spans])

    def export_encoded(self, entries: Sequence[tuple[GroupKey, bytes]]) -> SpanExportResult:
        """Send spans already passed through ``encode_one``; retries as described on the class."""
        if not entries:
            return SpanExportResult.SUCCESS
        body = self.encoder.assemble(entries)
        deadline = time.monotonic() + self.timeout_s
        backoff = self.initial_backoff_s
        while True:
            remaining = deadline - time.monotonic()
            result = self.transport.send(body, max(0.5, remaining))
            if result.ok:
                return SpanExportResult.SUCCESS
            delay = result.retry_after_s if result.retry_after_s is not None else backoff * random.uniform(0.8, 1.2)
            if not result.retryable or self._stop.is_set() or time.monotonic() + delay > deadline:
                _logger.warning("traceway: failed to export %d spans: %s", len(entries), result.detail)
                return SpanExportResult.FAILURE
            self.retries += 1
            if self._stop.wait(delay):
                return SpanExportResult.FAILURE
            backoff = min(backoff * 2, self.max_backoff_s)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self) -> None:
        self._stop.set()
        self.transport.close()

    def at_fork_reinit(self) -> None:
        self._stop = threading.Event()
        self.transport.at_fork_reinit()
