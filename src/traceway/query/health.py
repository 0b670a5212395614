"""The diagnosis reports over a Reader: fetch a bounded sample of traces, run the pure
analysis on it. Used by the HTTP handlers and by ``traceway.connect``.

Each report reads the newest ``TRACE_SAMPLE_LIMIT`` traces with a span in the window
(``Reader.find_traces``, whole traces), so its cost is bounded however busy the window
was; answers say how many traces they looked at (``traces``) and the cap (``traceLimit``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from traceway.analysis.attributes import attribute_differences
from traceway.analysis.coverage import service_coverage
from traceway.analysis.propagation import DEFAULT_GRACE_NS, propagation_health
from traceway.model import SpanBatch
from traceway.storage.api import Reader, TraceQuery

TRACE_SAMPLE_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Window:
    start_ns: int
    end_ns: int


def sample_traces(reader: Reader, window: Window, service: str | None = None,
                  operation: str | None = None) -> list[SpanBatch]:
    return reader.find_traces(TraceQuery(start_min_ns=window.start_ns, start_max_ns=window.end_ns,
                                         service=service, operation=operation,
                                         limit=TRACE_SAMPLE_LIMIT))


def _sampled(answer: dict[str, Any], traces: list[SpanBatch]) -> dict[str, Any]:
    return {**answer, "traces": len(traces), "traceLimit": TRACE_SAMPLE_LIMIT}


def propagation_report(reader: Reader, window: Window,
                       grace_ns: int = DEFAULT_GRACE_NS) -> dict[str, Any]:
    traces = sample_traces(reader, window)
    return _sampled(propagation_health(traces, now_ns=window.end_ns, grace_ns=grace_ns,
                                       services=reader.services()), traces)


def coverage_report(reader: Reader, window: Window) -> dict[str, Any]:
    traces = sample_traces(reader, window)
    return _sampled({"data": service_coverage(traces, services=reader.services())}, traces)


def attributes_report(reader: Reader, window: Window, *, by: str = "latency",
                      service: str | None = None, operation: str | None = None,
                      threshold_ns: int | None = None) -> dict[str, Any]:
    traces = sample_traces(reader, window, service, operation)
    return _sampled(attribute_differences(traces, by=by, service=service, operation=operation,
                                          threshold_ns=threshold_ns), traces)
