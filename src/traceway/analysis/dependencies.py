"""Which service called which: the caller of each span. Pure.

A call is a span whose parent span belongs to another service. When two spans of
a trace share the parent's id (the CLIENT and SERVER halves of a Zipkin shared
span), the SERVER half is the parent: the callee's own spans hang under its
server span, so counting the client half too would count one RPC twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from traceway.model import SpanKind, SpanRecord


def service_calls(trace: Iterable[SpanRecord]) -> Iterator[tuple[str, SpanRecord]]:
    """(caller service, callee span) for each cross-service call in one trace's spans.
    Identical copies of a span count once; a span whose parent is missing is no call."""
    spans = list(dict.fromkeys(trace))
    service_of: dict[bytes, str] = {}
    for span in sorted(spans, key=lambda s: s.kind == SpanKind.SERVER):
        service_of[span.span_id] = span.service  # a SERVER half is written last and wins
    for span in spans:
        caller = service_of.get(span.parent_span_id) if span.parent_span_id else None
        if caller is not None and caller != span.service:
            yield caller, span
