"""The one ingest path every receiver feeds: count, queue, wait for disk."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol

from traceway.collector.inflight import InFlightBytes
from traceway.convert.otlp import DecodedSpans
from traceway.model import SpanBatch
from traceway.pipeline.batcher import (
    QueueClosedError,
    QueueFullError,
    StageUnavailableError,
    StoreUnavailableError,
)
from traceway.telemetry import Telemetry

RETRY_AFTER_SECONDS = 2
DEFAULT_MAX_IN_FLIGHT_BYTES = 256 << 20


class OverloadedError(Exception):
    """Spans were not accepted because the server is saturated or stopping;
    the sender should retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int = RETRY_AFTER_SECONDS,
                 shutting_down: bool = False, unavailable: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.shutting_down = shutting_down
        # 503 (stopping, or a failing part of the write path) rather than 429 (busy).
        self.http_status = 503 if shutting_down or unavailable else 429


class WriteFailedError(Exception):
    """The store failed to write accepted-for-processing spans."""


class Stage(Protocol):
    """Where accepted spans go: the WriteQueue, or the tail sampler in front of it."""

    def submit(self, batch: SpanBatch, request: bytes | None = None) -> Future[None]:
        """The future resolves once every span of ``batch`` is durable.

        ``request`` is the OTLP protobuf body decoding to exactly ``batch``, when
        there is one (``DecodedSpans.request``): a spool stores it as it arrived.
        Raises QueueFullError (retry later) or QueueClosedError (stopping)."""
        ...


class Ingest:
    def __init__(self, stage: Stage, telemetry: Telemetry,
                 observers: list[Callable[[SpanBatch], None]] | None = None,
                 max_in_flight_bytes: int = DEFAULT_MAX_IN_FLIGHT_BYTES) -> None:
        self._stage = stage
        # Request bytes every receiver holds at once (collector/inflight.py).
        self.in_flight = InFlightBytes(max_in_flight_bytes)
        self._telemetry = telemetry
        # Called with each batch once it is durable (adaptive sampling counts roots).
        self._observers = observers or []

    def submit(self, decoded: DecodedSpans, protocol: str) -> Future[None] | None:
        """Queue the valid spans; None when there are none to write."""
        t = self._telemetry
        count = len(decoded.batch)
        t.spans_received.labels(protocol).inc(count + decoded.rejected)
        if decoded.rejected:
            t.spans_rejected.labels(protocol).inc(decoded.rejected)
        if not count:
            return None
        try:
            return self._stage.submit(decoded.batch, decoded.request)
        except StoreUnavailableError as exc:  # full because the store fails: 503, not 429
            t.spans_dropped.labels(protocol, "unavailable").inc(count)
            raise OverloadedError(str(exc), unavailable=True) from None
        except QueueFullError as exc:
            t.spans_dropped.labels(protocol, "queue_full").inc(count)
            raise OverloadedError(str(exc)) from None
        except QueueClosedError as exc:
            t.spans_dropped.labels(protocol, "shutting_down").inc(count)
            raise OverloadedError(str(exc), shutting_down=True) from None
        except StageUnavailableError as exc:
            t.spans_dropped.labels(protocol, "unavailable").inc(count)
            raise OverloadedError(str(exc), unavailable=True) from None

    def settle(self, future: Future[None] | None, count: int, protocol: str) -> None:
        """Account for a finished write; raise WriteFailedError if it failed."""
        if future is None:
            return
        error = future.exception()
        if error is None:
            self._telemetry.spans_accepted.labels(protocol).inc(count)
            return
        self._telemetry.spans_dropped.labels(protocol, "write_failed").inc(count)
        raise WriteFailedError(f"spans were not stored: {error}")

    async def accept(self, decoded: DecodedSpans, protocol: str) -> None:
        """Return once every valid span in ``decoded`` is durably stored."""
        future = self.submit(decoded, protocol)
        if future is not None:
            waiting = asyncio.wrap_future(future)
            # settle() reports the outcome; mark it retrieved even if this request
            # is cancelled meanwhile, so asyncio never logs "never retrieved".
            waiting.add_done_callback(_retrieve)
            await asyncio.wait([waiting])
        self.settle(future, len(decoded.batch), protocol)
        self._observe(decoded.batch)

    def _observe(self, batch: SpanBatch) -> None:
        for observe in self._observers:
            observe(batch)


def _retrieve(done: asyncio.Future[None]) -> None:
    if not done.cancelled():
        done.exception()
