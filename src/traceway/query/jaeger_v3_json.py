"""Jaeger API v3 JSON bodies, as Jaeger's ``api_v3`` HTTP gateway writes them. Pure.

Traces are OTLP/JSON wrapped in grpc-gateway's ``{"result": TracesData}``: hex ids,
enums as integers, 64-bit integers as decimal strings, default values omitted.
Several traces are one ``TracesData`` with their ``resourceSpans`` one after the
other, as Jaeger combines them. Summaries follow ``api_v3.TraceSummary``; unlike
Jaeger's gateway (which omits zero counts) every field is written, which every
client reads the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from traceway.convert.otlp import batch_to_otlp, otlp_to_json
from traceway.model import SPAN_KIND_NAMES, SpanBatch
from traceway.storage.api import Operation, TraceSummary

JSON = dict[str, Any]


def traces_to_v3_json(traces: Iterable[SpanBatch]) -> JSON:
    resource_spans: list[JSON] = []
    for trace in traces:
        resource_spans.extend(otlp_to_json(batch_to_otlp(trace)).get("resourceSpans", []))
    return {"result": {"resourceSpans": resource_spans}}


def summaries_to_v3_json(summaries: Iterable[TraceSummary]) -> JSON:
    return {"summaries": [{
        "traceId": s.trace_id.hex(),
        "rootServiceName": s.root_service,
        "rootOperationName": s.root_operation,
        "minStartTimeUnixNano": str(s.start_ns),
        "maxEndTimeUnixNano": str(s.end_ns),
        "spanCount": s.span_count,
        "errorSpanCount": s.error_span_count,
        "orphanSpanCount": s.orphan_span_count,
        "services": [{"name": svc.name, "spanCount": svc.span_count,
                      "errorSpanCount": svc.error_span_count} for svc in s.services],
    } for s in summaries]}


def operations_to_v3_json(operations: Iterable[Operation]) -> JSON:
    """Kinds by their lower-case name; an unspecified kind reads ``internal``, as in Jaeger."""
    return {"operations": [{"name": op.name, "spanKind": SPAN_KIND_NAMES.get(op.span_kind,
                                                                             "internal")}
                           for op in operations]}


def v3_error(status: int, message: str) -> JSON:
    """grpc-gateway's error body (``api_v3.GRPCGatewayError``)."""
    return {"error": {"httpCode": status, "message": message}}
