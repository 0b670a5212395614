"""The bounded write queue with group commit.

Batches are submitted with a future; one writer thread takes everything queued
(up to ``max_batch_spans``), writes it in one transaction and resolves every
future, so concurrent requests share one commit. (The server answers senders
once a batch is in the spool, see ``pipeline/spooled.py``; the future then
releases the batch's spool segment.) The queue is bounded in
bytes: when full, ``submit`` fails at once with QueueFullError so receivers can
answer 429/UNAVAILABLE instead of growing memory. Spans the store refuses are
quarantined (``pipeline/quarantine.py``) so they never fail the rest of their
group.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future

from traceway.model import SpanBatch
from traceway.pipeline.quarantine import Quarantine, write_isolating
from traceway.storage.api import Writer
from traceway.telemetry import Telemetry

log = logging.getLogger(__name__)

# A write that ended this recently means the server is busy: worth lingering.
_BUSY_S = 0.050
# The largest group: one DuckDB row group. DuckDB writes a transaction that appends
# a whole row group straight to its file, compressed, with no WAL copy to checkpoint
# later: 2.9-3.5 µs of CPU per span against 5.8-6.5 in groups of 20,000
# (bench/store_write.py). Groups this large form only from a backlog.
MAX_BATCH_SPANS = 122_880


class QueueFullError(Exception):
    """The write queue holds its maximum; retry later."""


class StoreUnavailableError(QueueFullError):
    """The queue is full because the store is failing (a ClickHouse outage),
    not because it is busy: 503/UNAVAILABLE rather than 429; retry later."""


class QueueClosedError(Exception):
    """The server is shutting down and accepts no more spans."""


class StageUnavailableError(Exception):
    """A part of the write path is failing (the spool cannot open a file, say)
    and refuses spans until it recovers; retry later."""


def settle(futures: list[Future[None]], error: BaseException | None) -> None:
    """Tell every waiter of a group write how it went (cancelled waiters left alone)."""
    for future in futures:
        if future.cancelled():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


class WriteQueue:
    def __init__(self, writer: Writer, telemetry: Telemetry, *, max_bytes: int = 512 << 20,
                 max_batch_spans: int = MAX_BATCH_SPANS, linger_s: float = 0.002,
                 max_linger_s: float = 0.010, quarantine: Quarantine | None = None) -> None:
        self._writer = writer
        self._telemetry = telemetry
        self._quarantine = quarantine or Quarantine(None, telemetry)
        self.max_bytes = max_bytes
        self._max_batch_spans = max_batch_spans
        self._pending: deque[tuple[SpanBatch, int, Future[None]]] = deque()
        self._bytes = 0
        self._spans = 0
        self._cond = threading.Condition()
        self._closed = False
        self._linger_s = linger_s
        self._max_linger_s = max_linger_s
        self._last_write_end = 0.0
        # Why the last store write failed; None once one succeeds.
        self.problem: str | None = None
        self._thread = threading.Thread(target=self._run, name="traceway-writer", daemon=True)
        self._thread.start()

    def submit(self, batch: SpanBatch, request: bytes | None = None) -> Future[None]:
        """Queue ``batch``; the future resolves once it is durably written.

        ``request`` (the OTLP body ``batch`` came from, for a spool) is not needed here."""
        size = batch.approx_bytes()
        future: Future[None] = Future()
        with self._cond:
            if self._closed:
                raise QueueClosedError("server is shutting down")
            # An oversized single batch is still admitted into an empty queue.
            if self._bytes and self._bytes + size > self.max_bytes:
                full = f"write queue full ({self._bytes >> 20} MiB of {self.max_bytes >> 20} MiB)"
                failing = self.failing
                if failing:
                    raise StoreUnavailableError(f"{failing}; {full}")
                raise QueueFullError(full)
            self._pending.append((batch, size, future))
            self._bytes += size
            self._spans += len(batch)
            self._cond.notify()
        self._update_gauges()
        return future

    @property
    def failing(self) -> str | None:
        """Why store writes fail or stall now (the last write's error, or the
        store's own ``problem`` while it waits out an outage); None when well."""
        store_problem: str | None = getattr(self._writer, "problem", None)
        return self.problem or store_problem

    def close(self, timeout_s: float | None = None) -> bool:
        """Stop accepting and write everything already queued; False if the
        writer was still writing after ``timeout_s`` (the spool keeps what it
        had not stored for the next start)."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _take(self) -> list[tuple[SpanBatch, int, Future[None]]] | None:
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            if not self._pending:
                return None
            if time.monotonic() - self._last_write_end < _BUSY_S:
                self._linger()
            taken: list[tuple[SpanBatch, int, Future[None]]] = []
            spans = 0
            while self._pending and (not taken or spans + len(self._pending[0][0])
                                     <= self._max_batch_spans):
                item = self._pending.popleft()
                taken.append(item)
                spans += len(item[0])
            return taken

    def _linger(self) -> None:
        """Under sustained load, wait briefly while more requests keep arriving:
        every commit has a fixed cost (statements, fsync), so larger groups
        mean more spans per second. An idle server commits at once."""
        deadline = time.monotonic() + self._max_linger_s
        while self._spans < self._max_batch_spans and not self._closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            before = len(self._pending)
            self._cond.wait(min(self._linger_s, remaining))
            if len(self._pending) == before:
                return

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            batch = SpanBatch.concat(item[0] for item in taken)
            started = time.perf_counter()
            try:
                write_isolating(self._writer, batch, self._quarantine)
            except Exception as exc:  # every waiter must hear about it
                log.error("store write of %d spans failed: %s", len(batch), exc)
                error: BaseException | None = exc
                self.problem = f"store write failed: {exc}"
            else:
                error = None
                self.problem = None
                self._telemetry.write_seconds.observe(time.perf_counter() - started)
                self._telemetry.write_batch_spans.observe(len(batch))
            with self._cond:
                self._last_write_end = time.monotonic()
                self._bytes -= sum(item[1] for item in taken)
                self._spans -= len(batch)
            self._update_gauges()
            settle([future for _, _, future in taken], error)

    def _update_gauges(self) -> None:
        self._telemetry.queue_spans.set(self._spans)
        self._telemetry.queue_bytes.set(self._bytes)
