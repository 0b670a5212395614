"""Clock skew between hosts: detect it, and shift spans to undo it on request. Pure.

Jaeger's ``ClockSkew`` adjuster, over OTLP resources: a span whose parent ran on
another host (``host.id``, ``host.name``, ``host.ip`` or ``ip`` of the resource; the
service when none is set) is compared with its (already adjusted) parent. A child
the parent waits for that does not fit inside it is centred in it, assuming the
network took as long each way; one that lasted longer than its parent is only moved
so that it does not start before it. A child the parent does not wait for (a
CONSUMER under a PRODUCER, a FOLLOWS_FROM child) may well end later and is only moved
when it starts before its parent. Spans on the same host as their parent move with it.

Nothing is adjusted silently: :func:`adjust_clock_skew` returns every shift it made.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.analysis.critical_path import blocks_parent
from traceway.analysis.tree import TraceTree
from traceway.convert.attributes import string_form
from traceway.convert.otlp import decode_stored
from traceway.model import SpanBatch, SpanRecord

HOST_ATTRIBUTES = ("host.id", "host.name", "host.ip", "ip")


@dataclass(frozen=True, slots=True)
class SkewAdjustment:
    """``delta_ns`` is added to the span's start and event times."""

    span_id: bytes
    delta_ns: int
    host: str
    # The span whose times against a parent on another host gave the shift: the span
    # itself, or the ancestor on the same host it moves with.
    measured_at: bytes


def host_of(record: SpanRecord, memo: dict[bytes, str] | None = None) -> str:
    """The host a span ran on, from its resource; ``service:<name>`` when not recorded."""
    if memo is not None and record.resource in memo:
        return memo[record.resource]
    attributes = {kv.key: kv.value for kv in decode_stored(Resource, record.resource, "resource")[0].attributes}
    host = next((string_form(attributes[k]) for k in HOST_ATTRIBUTES if k in attributes),
                f"service:{record.service}")
    if memo is not None:
        memo[record.resource] = host
    return host


def may_be_skewed(batch: SpanBatch) -> bool:
    """A cheap test on the columns: does some span lie outside a parent with another
    resource? Only then can :func:`clock_skew` find anything."""
    index = {span_id: i for i, span_id in enumerate(batch.span_id)}
    start, duration, resource = batch.start_ns, batch.duration_ns, batch.resource
    for i, parent_id in enumerate(batch.parent_span_id):
        p = index.get(parent_id) if parent_id else None
        if p is None or resource[i] == resource[p]:
            continue
        if start[i] < start[p] or start[i] + duration[i] > start[p] + duration[p]:
            return True
    return False


def clock_skew(batch: SpanBatch) -> list[SkewAdjustment]:
    """The shifts that would undo the clock skew in the trace, in depth-first order;
    spans that need none are not listed."""
    tree = TraceTree.of(batch)
    hosts: dict[bytes, str] = {}
    adjusted: dict[bytes, tuple[int, int, str, bytes]] = {}  # id -> start, delta, host, measured at
    found: list[SkewAdjustment] = []
    for _, span in tree.walk():
        host = host_of(span, hosts)
        parent = tree.spans.get(span.parent_span_id) if span.parent_span_id else None
        if parent is None or parent.span_id not in adjusted:
            delta, measured_at = 0, span.span_id
        else:
            parent_start, parent_delta, parent_host, parent_measured = adjusted[parent.span_id]
            if parent_host == host:
                delta, measured_at = parent_delta, parent_measured
            else:
                delta = _skew(span, parent_start, parent.duration_ns, blocks_parent(parent, span))
                measured_at = span.span_id
        adjusted[span.span_id] = (span.start_ns + delta, delta, host, measured_at)
        if delta:
            found.append(SkewAdjustment(span.span_id, delta, host, measured_at))
    return found


def _skew(child: SpanRecord, parent_start: int, parent_duration: int, blocking: bool) -> int:
    if not blocking or child.duration_ns > parent_duration:
        return max(0, parent_start - child.start_ns)
    if child.start_ns >= parent_start and child.end_ns <= parent_start + parent_duration:
        return 0
    latency = (parent_duration - child.duration_ns) // 2
    return parent_start + latency - child.start_ns


def adjust_clock_skew(batch: SpanBatch) -> tuple[SpanBatch, list[SkewAdjustment]]:
    """The trace with the shifts of :func:`clock_skew` applied (start and event times),
    and those shifts. Spans keep their order in ``batch``."""
    adjustments = clock_skew(batch)
    if not adjustments:
        return batch, []
    deltas = {a.span_id: a.delta_ns for a in adjustments}
    out = SpanBatch()
    for record in batch.rows():
        delta = deltas.get(record.span_id)
        if delta:
            record = replace(record, start_ns=record.start_ns + delta,
                             detail=_shift_events(record.detail, delta))
        out.append(record)
    return out, adjustments


def _shift_events(detail: bytes, delta_ns: int) -> bytes:
    span = decode_stored(Span, detail, "span detail")[0]
    if not span.events:
        return detail
    for event in span.events:
        event.time_unix_nano = max(0, event.time_unix_nano + delta_ns)
    return span.SerializeToString()
