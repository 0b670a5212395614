"""An in-memory store: the test double every part of Traceway can rely on.

It implements Writer, Reader and Retention with the same observable behaviour
as the durable backends (it passes the shared conformance suite), but keeps
nothing across restarts. One lock guards everything: it is meant for tests and
small demos, not for throughput.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence

from traceway.analysis.dependencies import service_calls
from traceway.analysis.red import (
    MINUTE_NS,
    EdgeRow,
    RedColumns,
    bucket_of,
    minute_of,
    red_rows_of,
    sketch_of,
)
from traceway.model import SpanBatch, SpanRecord, StatusCode
from traceway.storage.api import (
    DependencyLink,
    Operation,
    StorageError,
    TraceQuery,
    TraceSummary,
)
from traceway.storage.distinct import distinct_spans
from traceway.storage.summary import summarize_trace
from traceway.storage.tagmatch import span_matches


class MemoryStore:
    """Writer + Reader + TraceSummaries + Retention + Rollups over Python lists, safe to share
    between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Spans are kept as written, duplicates included: ``DistinctReader``
        # de-duplicates on read above every backend.
        self._traces: dict[bytes, list[SpanRecord]] = {}
        self._closed = False

    # -- Writer -------------------------------------------------------------

    def write(self, batch: SpanBatch) -> None:
        rows = list(batch.rows())
        with self._lock:
            if self._closed:
                raise StorageError("the memory store is closed")
            for record in rows:
                self._traces.setdefault(record.trace_id, []).append(record)

    def close(self) -> None:
        with self._lock:
            self._closed = True

    # -- Reader -------------------------------------------------------------

    def get_trace(self, trace_id: bytes, start_min_ns: int | None = None,
                  start_max_ns: int | None = None) -> SpanBatch:
        with self._lock:
            return _sorted_trace(self._traces.get(trace_id, ()))

    def find_traces(self, query: TraceQuery) -> list[SpanBatch]:
        if query.limit <= 0:
            return []
        with self._lock:
            latest: dict[bytes, int] = {}
            for trace_id, records in self._traces.items():
                for record in records:
                    if record.start_ns > latest.get(trace_id, -1) and _matches(record, query):
                        latest[trace_id] = record.start_ns
            newest = sorted(latest, key=lambda tid: (-latest[tid], tid))[:query.limit]
            return [_sorted_trace(self._traces[tid]) for tid in newest]

    def find_trace_summaries(self, query: TraceQuery) -> list[TraceSummary]:
        return [summarize_trace(distinct_spans(trace)) for trace in self.find_traces(query)]

    def services(self) -> list[str]:
        with self._lock:
            return sorted({r.service for records in self._traces.values() for r in records})

    def operations(self, service: str, span_kind: int | None = None) -> list[Operation]:
        with self._lock:
            pairs = {(r.name, r.kind) for records in self._traces.values() for r in records
                     if r.service == service and (span_kind is None or r.kind == span_kind)}
        return [Operation(name, kind) for name, kind in sorted(pairs)]

    def dependencies(self, start_min_ns: int, start_max_ns: int) -> list[DependencyLink]:
        calls: Counter[tuple[str, str]] = Counter()
        errors: Counter[tuple[str, str]] = Counter()
        for caller, callee in self._calls():
            if start_min_ns <= callee.start_ns <= start_max_ns:
                calls[caller, callee.service] += 1
                errors[caller, callee.service] += callee.status_code == StatusCode.ERROR
        return [DependencyLink(parent, child, count, errors[parent, child])
                for (parent, child), count in sorted(calls.items())]

    def _calls(self) -> list[tuple[str, SpanRecord]]:
        with self._lock:
            return [call for records in self._traces.values() for call in service_calls(records)]

    # -- Rollups (computed on demand: this store is for tests) ----------------

    def red(self, start_ns: int, end_ns: int, step_ns: int = MINUTE_NS, *,
            services: Sequence[str] | None = None, span_kinds: Sequence[int] | None = None,
            by_operation: bool = True) -> RedColumns:
        with self._lock:
            copies = {(r.trace_id, r.span_id, r.service, r.kind, r.start_ns): r
                      for records in self._traces.values() for r in reversed(records)}
        spans = [r for r in copies.values() if start_ns <= minute_of(r.start_ns) < end_ns
                 and (services is None or r.service in services)
                 and (span_kinds is None or r.kind in span_kinds)]
        return RedColumns.of_rows(red_rows_of(
            [bucket_of(r.start_ns, start_ns, step_ns) for r in spans],
                           [r.service for r in spans],
                           [r.name if by_operation else None for r in spans],
                           [r.status_code == StatusCode.ERROR for r in spans],
                           [r.duration_ns for r in spans]))

    def edges(self, start_ns: int, end_ns: int) -> list[EdgeRow]:
        groups: dict[tuple[str, str], list[SpanRecord]] = {}
        for caller, callee in self._calls():
            if start_ns <= minute_of(callee.start_ns) < end_ns:
                groups.setdefault((caller, callee.service), []).append(callee)
        return [EdgeRow(*key, calls=len(callees),
                        errors=sum(c.status_code == StatusCode.ERROR for c in callees),
                        sketch=sketch_of([c.duration_ns for c in callees]))
                for key, callees in sorted(groups.items())]

    # -- Retention ----------------------------------------------------------

    def delete_before(self, start_ns: int) -> int:
        deleted = 0
        with self._lock:
            for trace_id in list(self._traces):
                records = self._traces[trace_id]
                kept = [r for r in records if r.start_ns >= start_ns]
                deleted += len(records) - len(kept)
                if kept:
                    self._traces[trace_id] = kept
                else:
                    del self._traces[trace_id]
        return deleted


class GatedMemoryStore(MemoryStore):
    """A MemoryStore whose writes wait until ``gate`` is set: a slow or stuck
    disk, for tests of queues and back-pressure. Records each write's size."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.write_sizes: list[int] = []

    def write(self, batch: SpanBatch) -> None:
        self.gate.wait(10)
        self.write_sizes.append(len(batch))
        super().write(batch)


def _sorted_trace(records: Iterable[SpanRecord]) -> SpanBatch:
    # sorted() is stable, so spans that start together keep their write order.
    return SpanBatch.from_rows(sorted(records, key=lambda r: r.start_ns))


def _matches(record: SpanRecord, query: TraceQuery) -> bool:
    """Every condition of ``query`` on this one span; the costly tag check last."""
    if not query.start_min_ns <= record.start_ns <= query.start_max_ns:
        return False
    if query.service is not None and record.service != query.service:
        return False
    if query.operation is not None and record.name != query.operation:
        return False
    if query.span_kind is not None and record.kind != query.span_kind:
        return False
    if query.duration_min_ns is not None and record.duration_ns < query.duration_min_ns:
        return False
    if query.duration_max_ns is not None and record.duration_ns > query.duration_max_ns:
        return False
    return span_matches(record, query.tags, query.tag_patterns)
