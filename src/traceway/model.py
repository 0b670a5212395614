"""The span model shared by every part of Traceway.

A :class:`SpanBatch` is columnar: one Python list per field, all the same
length. Receivers produce batches, the pipeline moves them, stores write and
return them, and the query side renders them. Keeping spans as columns (not an
object per span) is what lets ingest reach 100k spans/s in Python.

The searchable, indexed fields are columns. Everything else about a span
(attributes, events, links, trace state, flags, dropped counts) stays in
``detail``: the span's OTLP protobuf encoding with the column fields cleared.
Attributes are decoded only when a span is read, never on the ingest path.
Resources and scopes are OTLP protobuf bytes too; spans that share one share the
same ``bytes`` object.

Ids are bytes inside Traceway (16-byte trace ids, 8-byte span ids) and hex only
at the edges. Every time carries its unit in its name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from enum import IntEnum
from typing import Any


class SpanKind(IntEnum):
    """OTLP ``Span.SpanKind`` numbers."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


class StatusCode(IntEnum):
    """OTLP ``Status.StatusCode`` numbers."""

    UNSET = 0
    OK = 1
    ERROR = 2


# How Jaeger and the UI name kinds and statuses (UNSPECIFIED/UNSET have no name).
SPAN_KIND_NAMES: dict[int, str] = {SpanKind.INTERNAL: "internal", SpanKind.SERVER: "server",
                   SpanKind.CLIENT: "client", SpanKind.PRODUCER: "producer",
                   SpanKind.CONSUMER: "consumer"}
SPAN_KIND_BY_NAME = {name: int(kind) for kind, name in SPAN_KIND_NAMES.items()}
STATUS_NAMES: dict[int, str] = {StatusCode.OK: "OK", StatusCode.ERROR: "ERROR"}


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """One span, row-wise: for tests, read-side code and small conversions."""

    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes  # b"" for a root span
    service: str
    name: str
    kind: int
    start_ns: int
    duration_ns: int
    status_code: int
    status_message: str
    detail: bytes  # OTLP Span protobuf without the fields above
    resource: bytes  # OTLP Resource protobuf
    scope: bytes  # OTLP InstrumentationScope protobuf

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.duration_ns


@dataclass(slots=True)
class SpanBatch:
    """Spans as parallel columns; see the module docstring for the meaning."""

    trace_id: list[bytes] = field(default_factory=list)
    span_id: list[bytes] = field(default_factory=list)
    parent_span_id: list[bytes] = field(default_factory=list)
    service: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    kind: list[int] = field(default_factory=list)
    start_ns: list[int] = field(default_factory=list)
    duration_ns: list[int] = field(default_factory=list)
    status_code: list[int] = field(default_factory=list)
    status_message: list[str] = field(default_factory=list)
    detail: list[bytes] = field(default_factory=list)
    resource: list[bytes] = field(default_factory=list)
    scope: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.trace_id)

    def columns(self) -> Iterator[tuple[str, list[Any]]]:
        for f in fields(self):
            yield f.name, getattr(self, f.name)

    def extend(self, other: SpanBatch) -> None:
        for name, column in self.columns():
            column.extend(getattr(other, name))

    def append(self, record: SpanRecord) -> None:
        for name, column in self.columns():
            column.append(getattr(record, name))

    def rows(self) -> Iterator[SpanRecord]:
        return (SpanRecord(*values) for values in zip(*(c for _, c in self.columns())))

    def take(self, indices: Iterable[int]) -> SpanBatch:
        """A new batch holding the spans at ``indices``, in that order."""
        picked = list(indices)
        return SpanBatch(*([column[i] for i in picked] for _, column in self.columns()))

    def approx_bytes(self) -> int:
        """A cheap estimate of the memory this batch holds, for queue bounds."""
        # Fixed part: ids, numbers and list slots; variable part: the payloads.
        return len(self) * 160 + sum(map(len, self.detail))

    @classmethod
    def from_rows(cls, records: Iterable[SpanRecord]) -> SpanBatch:
        batch = cls()
        for record in records:
            batch.append(record)
        return batch

    @classmethod
    def concat(cls, batches: Iterable[SpanBatch]) -> SpanBatch:
        out = cls()
        for batch in batches:
            out.extend(batch)
        return out

    def split_by_trace(self) -> list[SpanBatch]:
        """One batch per trace, traces in first-seen order, spans in batch order."""
        groups: dict[bytes, list[int]] = {}
        for i, tid in enumerate(self.trace_id):
            groups.setdefault(tid, []).append(i)
        return [self.take(idx) for idx in groups.values()]
