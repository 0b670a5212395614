"""The storage contract: every backend implements Writer and Reader.

The collector depends only on Writer, the query side only on Reader. A backend
is a sibling package (``storage/memory``, ``storage/duckdb``, later
``storage/clickhouse``) that passes the shared conformance suite in
``traceway.storage.conformance``. SQL never leaves a backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from traceway.analysis.red import EdgeRow, RedColumns
from traceway.model import SpanBatch


class StorageError(Exception):
    """The backend could not do what was asked; the message says why."""


class RejectedSpansError(StorageError):
    """The backend cannot represent a value in the batch (a number out of its
    column's range, say): writing the same spans again fails again, while a
    plain StorageError (disk full, I/O) may pass on a later try. Nothing of
    the batch was stored."""


@dataclass(frozen=True, slots=True)
class TagPattern:
    """``key`` has a string value containing ``text`` (``mode="contains"``) or in
    which the regular expression ``text`` finds a match (``mode="regex"``, RE2
    syntax, unanchored). Built by the query side, which checks the regex."""

    key: str
    mode: str  # "contains" or "regex"
    text: str


@dataclass(frozen=True, slots=True)
class TraceQuery:
    """What a trace search asks for. All conditions hold on one span.

    ``tags`` match when one span of the trace has ``key`` equal to the value's
    string form in its attributes, its events' attributes, its links'
    attributes, its resource or its scope attributes, or in one of the derived
    tags the Jaeger view shows (``span.kind``, ``error``, ``otel.status_code``,
    ``otel.status_description``, ``otel.scope.name``, ``otel.scope.version``,
    ``w3c.tracestate``, ``event``). Values compare literally: no wildcards.
    """

    start_min_ns: int
    start_max_ns: int
    service: str | None = None
    operation: str | None = None
    span_kind: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    duration_min_ns: int | None = None
    duration_max_ns: int | None = None
    limit: int = 20
    tag_patterns: tuple[TagPattern, ...] = ()


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    span_kind: int  # OTLP SpanKind number


@dataclass(frozen=True, slots=True)
class DependencyLink:
    parent: str
    child: str
    call_count: int
    error_count: int = 0  # calls whose callee span has status ERROR


@runtime_checkable
class Writer(Protocol):
    def write(self, batch: SpanBatch) -> None:
        """Store every span of ``batch`` durably.

        When this returns, the spans survive a crash of the process (``kill
        -9``) and are visible to readers. Writing the same span twice stores
        it twice; readers de-duplicate identical spans.
        Raises StorageError when nothing was stored (RejectedSpansError when
        the content itself is what the backend refuses).
        """
        ...

    def close(self) -> None:
        """Flush and release resources; the writer is unusable afterwards."""
        ...


@runtime_checkable
class WaitsOutOutages(Protocol):
    """Optional: a Writer whose ``write`` waits out an outage of its database (a
    ClickHouse server that is down or refuses inserts) instead of failing, so the
    write queue fills and the receivers answer 503 until it ends."""

    @property
    def problem(self) -> str | None:
        """Why writes are stalled now (the outage); None while they land."""
        ...

    def stop_waiting(self) -> None:
        """Shutting down: from now on a write that meets an outage raises StorageError
        (after at most one more attempt) instead of waiting; its spans stay in the
        spool, and the next start stores them."""
        ...


@runtime_checkable
class Reader(Protocol):
    def get_trace(self, trace_id: bytes, start_min_ns: int | None = None,
                  start_max_ns: int | None = None) -> SpanBatch:
        """All stored spans of the 16-byte ``trace_id``, ordered by start time.

        The optional window is a hint that may narrow the lookup; spans of the
        trace outside it may still be returned. An unknown trace returns an
        empty batch.
        """
        ...

    def find_traces(self, query: TraceQuery) -> list[SpanBatch]:
        """Up to ``query.limit`` whole traces with at least one matching span.

        Newest first (by the latest matching span's start). Each trace holds
        all its stored spans, not only the matching ones.
        """
        ...

    def services(self) -> list[str]:
        """Names of all services with stored spans, sorted."""
        ...

    def operations(self, service: str, span_kind: int | None = None) -> list[Operation]:
        """Distinct (span name, kind) pairs of ``service``, sorted by name then kind.

        An unknown service returns an empty list.
        """
        ...

    def dependencies(self, start_min_ns: int, start_max_ns: int) -> list[DependencyLink]:
        """Caller -> callee service calls in spans started in the window.

        A call is a span whose parent span belongs to another service; counted
        once per child span (identical copies of a span count once), in
        ``error_count`` too when the child's status is ERROR. When two stored
        spans share the parent's span id (the CLIENT and SERVER halves of a
        Zipkin shared span), the SERVER half is the parent, so one RPC is one
        call. Sorted by parent, then child. A backend that answers from a rollup
        may round the window out to whole UTC minutes (the minutes holding
        ``start_min_ns`` through ``start_max_ns``).
        """
        ...


@dataclass(frozen=True, slots=True)
class ServiceSummary:
    name: str
    span_count: int
    error_span_count: int


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """What a search result list shows of one trace, without its spans.

    Spans are counted as the Reader returns them (identical copies once; the two
    halves of a shared Zipkin span twice). An orphan has a parent id that is not a
    span of the trace (or is its own id). The root is the earliest span without a
    parent id, else the earliest orphan, else the earliest span (longest first on
    equal starts).
    """

    trace_id: bytes
    root_service: str
    root_operation: str
    start_ns: int  # earliest span start
    end_ns: int  # latest span end
    span_count: int
    error_span_count: int  # spans with status ERROR
    orphan_span_count: int
    services: tuple[ServiceSummary, ...]  # one per service, sorted by name


@runtime_checkable
class TraceSummaries(Protocol):
    """Optional: a backend that summarises search results without returning spans."""

    def find_trace_summaries(self, query: TraceQuery) -> list[TraceSummary]:
        """One summary per trace ``find_traces(query)`` would return, in its order.

        Computed where the spans are; a backend without this capability is
        summarised by the query side from ``find_traces``.
        """
        ...


@runtime_checkable
class Retention(Protocol):
    """Optional: a backend that can delete old data."""

    def delete_before(self, start_ns: int) -> int:
        """Delete spans that started before ``start_ns``; return how many."""
        ...


@runtime_checkable
class Rollups(Protocol):
    """Optional: RED and dependency rollups kept up to date as spans are written, so
    that metrics over hours of millions of spans stay cheap.

    Backends roll spans up per UTC minute (minutes since the epoch) and per
    (service, operation, kind, status); a span belongs to the minute its start falls
    in, whenever it arrives. Latency sketches use the buckets of
    ``traceway.analysis.red`` (``ceil(ln(max(duration_ns, 1)) / LOG_GAMMA)`` ->
    count), so sketches from any backend merge. A backend may keep partial rows
    (one per write, merged later, as a ClickHouse AggregatingMergeTree does) but
    answers merged.
    """

    def red(self, start_ns: int, end_ns: int, step_ns: int = 60 * 10**9, *,
            services: Sequence[str] | None = None, span_kinds: Sequence[int] | None = None,
            by_operation: bool = True) -> RedColumns:
        """RED rows of the minutes that start in ``[start_ns, end_ns)``, as columns
        (``RedColumns``; ``.rows()`` gives them as RedRow objects).

        ``start_ns`` is a whole minute and ``step_ns`` a multiple of a minute: a row
        covers the minutes starting in ``[time_ns, time_ns + step_ns)`` where
        ``time_ns = start_ns + k * step_ns``. One row per (time, service, operation)
        that had spans, or per (time, service) with ``operation`` None when not
        ``by_operation``. Counts each span once: a span written again (a retried
        write, a replayed spool: same trace id, span id, service, kind and start) is
        not counted again; ``errors`` counts spans with status ERROR. ``services`` and ``span_kinds`` narrow the spans counted when given
        (an empty sequence selects nothing). ``keys`` are sorted by service, then
        operation; rows and sketch entries come in any order (``.rows()`` sorts
        by time, service, operation). Visible as soon as ``Writer.write`` returns.
        """
        ...

    def edges(self, start_ns: int, end_ns: int) -> list[EdgeRow]:
        """Service-map edges (parent service -> child service) counted over the callee
        spans of the minutes that start in ``[start_ns, end_ns)``, under the rules of
        ``Reader.dependencies`` (a child span counted once, in its start minute;
        ``errors`` are children with status ERROR; the sketch holds the child
        spans' durations). One row per (parent, child), sorted by parent, child.
        A parent that arrives after its children is reflected by the next call.
        """
        ...
