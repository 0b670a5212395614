"""Counters for the export pipeline, readable in-process and as OTel metrics."""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any, Protocol

COUNTERS = ("exported", "dropped_queue_full", "dropped_export_failed", "dropped_after_shutdown", "blocked")


class ExportStats:
    """Thread-safe span counters. ``dropped_*`` are spans that will never be exported."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._last_warning = 0.0

    def add(self, name: str, n: int) -> None:
        with self._lock:
            self._counts[name] += n

    def get(self, name: str) -> int:
        return self._counts[name]

    @property
    def dropped(self) -> int:
        """All spans lost so far, whatever the reason."""
        c = self._counts
        return c["dropped_queue_full"] + c["dropped_export_failed"] + c["dropped_after_shutdown"]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts, dropped=self.dropped)

    def should_warn(self, interval_s: float) -> bool:
        """True at most once per ``interval_s``: the caller logs, the counters keep the total."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_warning < interval_s:
                return False
            self._last_warning = now
            return True


class _Source(Protocol):
    stats: ExportStats

    @property
    def queue_depth(self) -> int: ...


_sources: weakref.WeakSet[Any] = weakref.WeakSet()
_instruments_created = False
_registry_lock = threading.Lock()


def register_metrics(source: _Source) -> None:
    """Report ``source``'s counters through the global MeterProvider, summed over live sources.

    The instruments are created once per process on the API's proxy meter, so
    they go live whenever the application installs a MeterProvider, before or
    after this call (a second instrument with the same name would be ignored
    by the SDK); without a MeterProvider they cost nothing.
    """
    global _instruments_created
    with _registry_lock:
        _sources.add(source)
        if _instruments_created:
            return
        _instruments_created = True
    from opentelemetry import metrics
    from opentelemetry.metrics import CallbackOptions, Observation

    def totals() -> dict[str, int]:
        out = dict.fromkeys(COUNTERS, 0)
        for src in list(_sources):
            for key, value in src.stats.snapshot().items():
                if key in out:
                    out[key] += value
        return out

    def exported(_options: CallbackOptions) -> list[Observation]:
        return [Observation(totals()["exported"])]

    def dropped(_options: CallbackOptions) -> list[Observation]:
        t = totals()
        return [
            Observation(t["dropped_queue_full"], {"outcome": "dropped", "reason": "queue_full"}),
            Observation(t["dropped_export_failed"], {"outcome": "dropped", "reason": "export_failed"}),
            Observation(t["dropped_after_shutdown"], {"outcome": "dropped", "reason": "after_shutdown"}),
        ]

    def depth(_options: CallbackOptions) -> list[Observation]:
        return [Observation(sum(src.queue_depth for src in list(_sources)))]

    meter = metrics.get_meter("traceway.instrument")
    meter.create_observable_counter(
        "traceway.instrument.spans.exported", callbacks=[exported], unit="{span}",
        description="Spans the Traceway span processor exported",
    )
    meter.create_observable_counter(
        "traceway.instrument.spans.dropped", callbacks=[dropped], unit="{span}",
        description="Spans that will never be exported, by reason",
    )
    meter.create_observable_gauge(
        "traceway.instrument.queue.depth", callbacks=[depth], unit="{span}",
        description="Spans waiting in the export queue",
    )
