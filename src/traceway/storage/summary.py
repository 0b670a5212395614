"""One trace's spans -> its TraceSummary, by the rules ``storage.api.TraceSummary`` states. Pure.

The in-memory store uses it, and the query side uses it for backends that do not
implement ``TraceSummaries``; SQL backends restate the same rules in their queries.
"""

from __future__ import annotations

from collections import Counter

from traceway.model import SpanBatch, SpanRecord, StatusCode
from traceway.storage.api import ServiceSummary, TraceSummary


def summarize_trace(batch: SpanBatch) -> TraceSummary:
    """The summary of one non-empty trace (distinct spans, as a Reader returns them)."""
    records = list(batch.rows())
    ids = {r.span_id for r in records}

    def is_orphan(r: SpanRecord) -> bool:
        return bool(r.parent_span_id) and (r.parent_span_id not in ids
                                           or r.parent_span_id == r.span_id)

    def root_rank(r: SpanRecord) -> tuple[int, int, int]:
        tier = 0 if not r.parent_span_id else 1 if is_orphan(r) else 2
        return (tier, r.start_ns, -r.duration_ns)

    root = min(records, key=root_rank)
    spans: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for r in records:
        spans[r.service] += 1
        errors[r.service] += r.status_code == StatusCode.ERROR
    return TraceSummary(
        trace_id=records[0].trace_id,
        root_service=root.service,
        root_operation=root.name,
        start_ns=min(r.start_ns for r in records),
        end_ns=max(r.end_ns for r in records),
        span_count=len(records),
        error_span_count=sum(errors.values()),
        orphan_span_count=sum(map(is_orphan, records)),
        services=tuple(ServiceSummary(name, spans[name], errors[name]) for name in sorted(spans)),
    )
