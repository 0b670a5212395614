"""Where the errors of a trace started, and which spans only inherited them. Pure.

A span is *in error* when its status is ERROR, or when it carries an ``exception``
event and its status is not OK (an exception recorded and then handled leaves OK).
An error *originates* in a span in error none of whose children is in error; its
ancestors in error only inherit it. So when an exception travels up through several
spans (each recording it, as instrumentation does), the innermost one is the origin,
and a 5xx answer that a caller turns into its own failure points at the callee.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.analysis.tree import TraceTree
from traceway.convert.attributes import plain_value
from traceway.convert.otlp import decode_stored
from traceway.model import SpanBatch, SpanRecord, StatusCode

EXCEPTION_EVENT = "exception"


@dataclass(frozen=True, slots=True)
class ExceptionInfo:
    """One ``exception`` event, with OpenTelemetry's ``exception.*`` attributes."""

    type: str
    message: str
    stacktrace: str  # as recorded: line breaks kept
    time_ns: int


@dataclass(slots=True)
class ErrorOrigin:
    span: SpanRecord
    exceptions: list[ExceptionInfo]
    # Ancestors in error above it, nearest first, up to the first one not in error.
    inherited_by: list[bytes] = field(default_factory=list)


@dataclass(slots=True)
class ErrorAnalysis:
    origins: list[ErrorOrigin]  # in depth-first order of the trace
    # Each span in error that is not an origin -> the origins below it (depth-first order).
    inherited: dict[bytes, list[bytes]]


def exceptions_of(record: SpanRecord) -> list[ExceptionInfo]:
    """The span's ``exception`` events, in recorded order."""
    if not record.detail:
        return []
    found = []
    for event in decode_stored(Span, record.detail, "span detail")[0].events:
        if event.name != EXCEPTION_EVENT:
            continue
        attributes = {kv.key: plain_value(kv.value) for kv in event.attributes}
        found.append(ExceptionInfo(
            type=str(attributes.get("exception.type") or ""),
            message=str(attributes.get("exception.message") or ""),
            stacktrace=str(attributes.get("exception.stacktrace") or ""),
            time_ns=event.time_unix_nano))
    return found


def is_in_error(record: SpanRecord, exceptions: list[ExceptionInfo]) -> bool:
    if record.status_code == StatusCode.ERROR:
        return True
    return bool(exceptions) and record.status_code != StatusCode.OK


def error_origins(batch: SpanBatch) -> ErrorAnalysis:
    """Classify every span in error of the trace in ``batch`` as origin or inherited."""
    tree = TraceTree.of(batch)
    order = list(tree.walk())
    exceptions = {span.span_id: exceptions_of(span) for _, span in order}
    in_error = {span.span_id for _, span in order if is_in_error(span, exceptions[span.span_id])}
    origins: list[ErrorOrigin] = []
    inherited: dict[bytes, list[bytes]] = {}
    for _, span in order:
        if span.span_id not in in_error:
            continue
        if any(child.span_id in in_error for child in tree.children_of(span.span_id)):
            continue
        origin = ErrorOrigin(span, exceptions[span.span_id])
        parent = tree.spans.get(span.parent_span_id)
        seen = {span.span_id}
        while parent is not None and parent.span_id in in_error and parent.span_id not in seen:
            seen.add(parent.span_id)  # a cycle of parent ids ends the climb
            origin.inherited_by.append(parent.span_id)
            inherited.setdefault(parent.span_id, []).append(span.span_id)
            parent = tree.spans.get(parent.parent_span_id)
        origins.append(origin)
    return ErrorAnalysis(origins, inherited)
