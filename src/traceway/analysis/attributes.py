"""What the slow (or failing) requests have in common: attribute values over-represented
in them, BubbleUp-style. Pure.

Each trace is one request, judged by its *subject* span: the first span (in start order)
of the chosen service and operation, or the trace's first top span when none is chosen.
``by="latency"`` selects traces whose subject lasted longer than ``threshold_ns`` (default:
the 90th percentile, nearest rank, of the subjects' durations, so about the slowest 10%); ``by="error"`` selects
traces whose subject has status ERROR. The other traces are the baseline.

A trace *has* ``key=value`` when any of its spans carries it as a span attribute, an
event attribute or a resource attribute (string forms as in tag search). For each pair:

    selectedShare = selected traces that have it / selected traces
    baselineShare = baseline traces that have it / baseline traces
    score         = selectedShare - baselineShare

Pairs with a positive score are ranked by score (then by how many selected traces have
them). A value only one selected trace carries (an order id, say) says nothing about
what the selected requests have in common and is left out, unless only one is selected.
A value every slow request carries and no fast one does scores 1; one as common
among fast requests as among slow ones scores 0 and is left out.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.analysis.tree import TraceTree
from traceway.convert.attributes import string_pairs
from traceway.convert.otlp import decode_stored
from traceway.model import SpanBatch, SpanRecord, StatusCode

BY = ("latency", "error")
DEFAULT_PERCENTILE = 90
MAX_ROWS = 50


def attribute_differences(traces: Iterable[SpanBatch], *, by: str = "latency",
                          service: str | None = None, operation: str | None = None,
                          threshold_ns: int | None = None) -> dict[str, Any]:
    """``{"data": [{key, value, selected, baseline, selectedShare, baselineShare, score}],
    "selectedTraces", "baselineTraces", "thresholdNs"}`` (``thresholdNs`` None for errors)."""
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}")
    judged = []
    for trace in traces:
        subject = _subject(TraceTree.of(trace), service, operation)
        if subject is not None:
            judged.append((subject, trace))
    if by == "latency" and threshold_ns is None and judged:
        threshold_ns = nearest_rank([s.duration_ns for s, _ in judged], DEFAULT_PERCENTILE)
    selected: Counter[tuple[str, str]] = Counter()
    baseline: Counter[tuple[str, str]] = Counter()
    n_selected = n_baseline = 0
    for subject, trace in judged:
        chosen = (subject.status_code == StatusCode.ERROR if by == "error"
                  else subject.duration_ns > (threshold_ns or 0))
        pairs = trace_pairs(trace)
        if chosen:
            n_selected += 1
            selected.update(pairs)
        else:
            n_baseline += 1
            baseline.update(pairs)
    rows = _ranked(selected, baseline, n_selected, n_baseline) if n_selected and n_baseline else []
    return {"data": rows, "selectedTraces": n_selected, "baselineTraces": n_baseline,
            "thresholdNs": threshold_ns if by == "latency" else None}


def nearest_rank(values: list[int], percentile: float) -> int:
    ordered = sorted(values)
    rank = max(1, math.ceil(percentile / 100 * len(ordered)))
    return ordered[rank - 1]


def trace_pairs(trace: SpanBatch) -> set[tuple[str, str]]:
    """Every (key, string value) of the trace's span, event and resource attributes."""
    pairs: set[tuple[str, str]] = set()
    resources: set[bytes] = set()
    for detail, resource in zip(trace.detail, trace.resource):
        span = decode_stored(Span, detail, "span detail")[0]
        pairs.update(string_pairs(span.attributes))
        for event in span.events:
            pairs.update(string_pairs(event.attributes))
        resources.add(resource)
    for resource in resources:
        pairs.update(string_pairs(decode_stored(Resource, resource, "resource")[0].attributes))
    return pairs


def _subject(tree: TraceTree, service: str | None, operation: str | None) -> SpanRecord | None:
    if service is None and operation is None:
        tops = tree.tops()
        return tops[0] if tops else None
    for span in tree.spans.values():  # in start order
        if (service is None or span.service == service) and (operation is None or span.name == operation):
            return span
    return None


def _ranked(selected: Counter[tuple[str, str]], baseline: Counter[tuple[str, str]],
            n_selected: int, n_baseline: int) -> list[dict[str, Any]]:
    least = 1 if n_selected == 1 else 2
    scored = []
    for (key, value), count in selected.items():
        score = round(count / n_selected - baseline[key, value] / n_baseline, 4)
        if count >= least and score > 0:
            scored.append((-score, -count, key, value))
    scored.sort()
    return [{"key": key, "value": value, "selected": -negative_count,
             "baseline": baseline[key, value],
             "selectedShare": round(-negative_count / n_selected, 4),
             "baselineShare": round(baseline[key, value] / n_baseline, 4), "score": -negative_score}
            for negative_score, negative_count, key, value in scored[:MAX_ROWS]]
