"""A batching span processor that accounts for every span it does not export.

With an exporter that can pre-encode (``OTLPSpanExporter``), ``on_end`` turns
the span into protobuf bytes at once and queues only the bytes: the span's
objects die young instead of surviving into the garbage collector's older
generations, which cost more than the encoding itself when thousands of spans
wait in a queue. Assembling requests and sending happen on one background
thread; other exporters get the spans themselves. When the queue is full the processor either blocks the caller briefly
(``on_full="block"``, the default) or drops at once (``on_full="drop"``); either
way a drop increments a counter, logs a rate-limited warning and shows up in
the ``traceway.instrument.spans.dropped`` metric. After ``os.fork`` the child
gets a fresh queue, locks and worker thread.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from traceway.instrument.stats import ExportStats, register_metrics

_logger = logging.getLogger(__name__)

ON_FULL_MODES = ("block", "drop")


@dataclass(frozen=True)
class BatchSettings:
    """Queue and batching limits; the defaults suit a busy web service."""

    max_queue_size: int = 8192
    max_export_batch_size: int = 512
    schedule_delay_s: float = 0.5
    on_full: str = "block"
    block_timeout_s: float = 0.1
    warn_interval_s: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BatchSettings:
        """Defaults overridden by the SDK's ``OTEL_BSP_*`` variables (delays in milliseconds)."""
        env = os.environ if env is None else env
        defaults = cls()

        def number(name: str, default: float, scale: float = 1.0) -> float:
            try:
                return float(env[name]) * scale if env.get(name) else default
            except ValueError:
                _logger.warning("traceway: ignoring %s=%r (not a number)", name, env[name])
                return default

        return cls(
            max_queue_size=int(number("OTEL_BSP_MAX_QUEUE_SIZE", defaults.max_queue_size)),
            max_export_batch_size=int(number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", defaults.max_export_batch_size)),
            schedule_delay_s=number("OTEL_BSP_SCHEDULE_DELAY", defaults.schedule_delay_s, 0.001),
        )


class TracewaySpanProcessor(SpanProcessor):
    """Batches finished sampled spans and hands them to ``exporter`` on a worker thread."""

    def __init__(self, exporter: SpanExporter, settings: BatchSettings | None = None) -> None:
        self.exporter = exporter
        self.settings = settings or BatchSettings()
        if self.settings.on_full not in ON_FULL_MODES:
            raise ValueError(f"on_full must be one of {ON_FULL_MODES}, not {self.settings.on_full!r}")
        self.stats = ExportStats()
        self._shutdown = False
        self._encode = getattr(exporter, "encode_one", None)
        self._export = exporter.export_encoded if self._encode is not None else exporter.export  # type: ignore[attr-defined]
        self._init_worker()
        register_metrics(self)
        if hasattr(os, "register_at_fork"):
            ref = weakref.WeakMethod(self._at_fork_reinit)
            os.register_at_fork(after_in_child=lambda: (m := ref()) and m())

    def _init_worker(self) -> None:
        self._queue: collections.deque[Any] = collections.deque()
        self._wake = threading.Event()
        self._space = threading.Condition(threading.Lock())
        self._flush_lock = threading.Lock()
        self._flush_done = threading.Condition(self._flush_lock)
        self._flush_requested = 0
        self._flush_completed = 0
        self._degraded = False  # a block timed out: drop at once until the worker catches up
        self._worker = threading.Thread(target=self._run, name="traceway-span-export", daemon=True)
        self._worker_pid = os.getpid()
        self._worker.start()

    def _at_fork_reinit(self) -> None:
        # Spans queued in the parent belong to the parent's worker; the child
        # starts empty with fresh locks (the parent's may have been held).
        if self._shutdown:
            return
        self.stats = ExportStats()
        reinit = getattr(self.exporter, "at_fork_reinit", None)
        if reinit is not None:
            reinit()
        self._init_worker()

    # -- SpanProcessor ------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if not span.context.trace_flags.sampled:
            return
        if self._shutdown:
            self.stats.add("dropped_after_shutdown", 1)
            return
        queue = self._queue
        n = len(queue)
        if n >= self.settings.max_queue_size and not self._wait_for_space():
            return
        if self._encode is not None:
            try:
                queue.append(self._encode(span))
            except Exception:
                _logger.exception("traceway: could not encode span %r", span.name)
                self.stats.add("dropped_export_failed", 1)
                return
        else:
            queue.append(span)
        if n + 1 == self.settings.max_export_batch_size:
            self._wake.set()

    def _wait_for_space(self) -> bool:
        """Called with a full queue; True when there is room now, False after counting a drop."""
        settings = self.settings
        if settings.on_full == "block" and not self._degraded:
            self._wake.set()
            deadline = time.monotonic() + settings.block_timeout_s
            with self._space:
                while len(self._queue) >= settings.max_queue_size:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self._space.wait(remaining):
                        break
            if len(self._queue) < settings.max_queue_size:
                self.stats.add("blocked", 1)
                return True
            self._degraded = True
        self.stats.add("dropped_queue_full", 1)
        self._warn_dropped("queue full")
        return False

    def _warn_dropped(self, reason: str) -> None:
        if self.stats.should_warn(self.settings.warn_interval_s):
            _logger.warning(
                "traceway: dropped spans (%s); totals so far: %d because the queue was full, "
                "%d because export failed (max_queue_size=%d, on_full=%s)",
                reason,
                self.stats.get("dropped_queue_full"),
                self.stats.get("dropped_export_failed"),
                self.settings.max_queue_size,
                self.settings.on_full,
            )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        if self._shutdown or os.getpid() != self._worker_pid:
            return True
        deadline = time.monotonic() + timeout_millis / 1000
        with self._flush_lock:
            self._flush_requested += 1
            ticket = self._flush_requested
            self._wake.set()
            while self._flush_completed < ticket:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._worker.is_alive():
                    return False
                self._flush_done.wait(remaining)
        return True

    def shutdown(self) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        self._wake.set()
        if os.getpid() == self._worker_pid:
            self._worker.join(timeout=30)
        self.exporter.shutdown()

    # -- worker -------------------------------------------------------------
    def _run(self) -> None:
        settings = self.settings
        queue = self._queue
        wake = self._wake
        while True:
            wake.wait(settings.schedule_delay_s)
            wake.clear()
            with self._flush_lock:
                flush_ticket = self._flush_requested
            stopping = self._shutdown
            # Drain everything on a flush or at shutdown, else only full batches
            # plus whatever is left once per schedule delay.
            while queue:
                self._export_batch(queue, settings.max_export_batch_size)
                if not (stopping or flush_ticket > self._flush_completed) and len(queue) < settings.max_export_batch_size:
                    break
            with self._flush_lock:
                if flush_ticket > self._flush_completed:
                    self._flush_completed = flush_ticket
                    self._flush_done.notify_all()
            if stopping:
                return

    def _export_batch(self, queue: collections.deque[Any], size: int) -> None:
        popleft = queue.popleft
        batch = [popleft() for _ in range(min(size, len(queue)))]
        with self._space:
            self._space.notify_all()
        try:
            result = self._export(batch)
        except Exception:  # an exporter bug must not kill the worker
            _logger.exception("traceway: span exporter raised")
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.stats.add("exported", len(batch))
            self._degraded = False
        else:
            self.stats.add("dropped_export_failed", len(batch))
            self._warn_dropped("export failed")

    @property
    def queue_depth(self) -> int:
        """Spans waiting to be exported right now."""
        return len(self._queue)
