"""Trace statistics, like Jaeger UI's table: time per service and per operation. Pure.

For each group: how many spans, their total, min/avg/max duration, their *self time*
(the part of each span not covered by any of its direct children, overlapping children
counted once) and the shares of the trace's duration. The trace's duration runs from
its earliest start to its latest end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from traceway.analysis.tree import TraceTree
from traceway.model import SpanBatch, StatusCode


@dataclass(slots=True)
class GroupStats:
    """One row: a service (``operation`` is None) or one operation of a service."""

    service: str
    operation: str | None
    count: int = 0
    errors: int = 0
    total_ns: int = 0
    min_ns: int = 0
    max_ns: int = 0
    self_total_ns: int = 0
    self_min_ns: int = 0
    self_max_ns: int = 0

    def add(self, duration_ns: int, self_ns: int, error: bool) -> None:
        first = self.count == 0
        self.count += 1
        self.errors += error
        self.total_ns += duration_ns
        self.self_total_ns += self_ns
        self.min_ns = duration_ns if first else min(self.min_ns, duration_ns)
        self.max_ns = max(self.max_ns, duration_ns)
        self.self_min_ns = self_ns if first else min(self.self_min_ns, self_ns)
        self.self_max_ns = max(self.self_max_ns, self_ns)


@dataclass(slots=True)
class TraceStatistics:
    duration_ns: int
    services: list[GroupStats]  # by self time, largest first
    operations: list[GroupStats]  # by self time, largest first


def self_time_ns(start_ns: int, end_ns: int, children: list[tuple[int, int]]) -> int:
    """``end - start`` minus the union of the children's intervals clipped to it."""
    covered, reach = 0, start_ns
    for child_start, child_end in sorted(children):
        lo, hi = max(child_start, reach), min(child_end, end_ns)
        if hi > lo:
            covered += hi - lo
            reach = hi
    return max(0, end_ns - start_ns - covered)


def trace_statistics(batch: SpanBatch) -> TraceStatistics:
    tree = TraceTree.of(batch)
    records = list(tree.spans.values())
    if not records:
        return TraceStatistics(0, [], [])
    duration = max(r.end_ns for r in records) - min(r.start_ns for r in records)
    services: dict[str, GroupStats] = {}
    operations: dict[tuple[str, str], GroupStats] = {}
    for record in records:
        children = [(c.start_ns, c.end_ns) for c in tree.children_of(record.span_id)]
        own = self_time_ns(record.start_ns, record.end_ns, children)
        error = record.status_code == StatusCode.ERROR
        services.setdefault(record.service, GroupStats(record.service, None)).add(
            record.duration_ns, own, error)
        key = (record.service, record.name)
        operations.setdefault(key, GroupStats(*key)).add(record.duration_ns, own, error)

    def ranked(groups: dict[Any, GroupStats]) -> list[GroupStats]:
        return sorted(groups.values(), key=lambda g: (-g.self_total_ns, g.service, g.operation or ""))

    return TraceStatistics(duration, ranked(services), ranked(operations))
