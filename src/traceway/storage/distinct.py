"""De-duplication on read, once, above every backend.

The Writer contract lets a backend store a span twice (a spool replayed after
a crash, a retried insert); readers return identical spans once. Backends
return what they stored and ``DistinctReader`` removes the repeats, so the rule
lives in one place and a new backend cannot forget it.
"""

from __future__ import annotations

from typing import Any

from traceway.model import SpanBatch
from traceway.storage.api import TraceQuery


def distinct_spans(batch: SpanBatch) -> SpanBatch:
    """``batch`` without repeats of an identical span; first occurrences keep their order."""
    if len(set(zip(batch.trace_id, batch.span_id))) == len(batch):
        return batch
    rows = list(batch.rows())
    unique = list(dict.fromkeys(rows))
    return batch if len(unique) == len(rows) else SpanBatch.from_rows(unique)


class DistinctReader:
    """A store whose trace reads are de-duplicated; everything else (writes,
    optional capabilities such as Retention) goes to the store unchanged."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def get_trace(self, trace_id: bytes, start_min_ns: int | None = None,
                  start_max_ns: int | None = None) -> SpanBatch:
        return distinct_spans(self.store.get_trace(trace_id, start_min_ns, start_max_ns))

    def find_traces(self, query: TraceQuery) -> list[SpanBatch]:
        return [distinct_spans(trace) for trace in self.store.find_traces(query)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)
