"""A trace's Jaeger JSON with clock skew reported, or undone on request (never silently).

Without adjustment, every span whose host clock seems off against its parent's gets a
``warnings`` entry saying so and how to undo it; with it, every shifted span says by
how much. The trace's ``warnings`` sum it up and ``clockSkew`` counts the spans.
"""

from __future__ import annotations

from typing import Any

from traceway.analysis.clock_skew import adjust_clock_skew, clock_skew, may_be_skewed
from traceway.convert.jaeger_json import trace_to_jaeger_json
from traceway.model import SpanBatch


def _ms(ns: int) -> str:
    return f"{ns / 1e6:+.3f}ms"


def trace_json_with_skew(batch: SpanBatch, adjust: bool) -> dict[str, Any]:
    if not may_be_skewed(batch):
        return trace_to_jaeger_json(batch)
    if adjust:
        batch, shifts = adjust_clock_skew(batch)
    else:
        shifts = clock_skew(batch)
    document = trace_to_jaeger_json(batch)
    if not shifts:
        return document
    by_id = {s.span_id.hex(): s for s in shifts}
    hosts = sorted({s.host for s in shifts})
    for span in document["spans"]:
        shift = by_id.get(span["spanID"])
        if shift is None:
            continue
        if adjust:
            note = (f"clock skew adjusted: times shifted by {_ms(shift.delta_ns)} "
                    f"(host {shift.host} against its parent's host)")
        elif shift.measured_at.hex() == span["spanID"]:
            note = (f"clock skew: host {shift.host} seems {_ms(shift.delta_ns)} off its parent's "
                    "host; ?adjustClockSkew=true shifts it")
        else:
            continue  # moves with its ancestor on the same host: one note there is enough
        span["warnings"] = [*(span["warnings"] or []), note]
    verb = "adjusted" if adjust else "detected (not adjusted)"
    document["warnings"] = [f"clock skew {verb}: {len(shifts)} span(s) on host(s) "
                            f"{', '.join(hosts)}"]
    document["clockSkew"] = {"spans": len(shifts), "adjusted": adjust}
    return document
