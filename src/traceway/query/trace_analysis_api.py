"""Diagnosis of one trace over HTTP: critical path, error origins, statistics, compare.

``GET /api/traces/{traceID}/critical-path``  ``{"data":[{"spanID","start","end"}]}`` (µs)
``GET /api/traces/{traceID}/error-origins``  origins with exceptions, and who inherits
``GET /api/traces/{traceID}/statistics``     per service and per operation
``GET /api/traces/{traceID}/typical?lookback=&limit=``  against traces of the same root
``GET /api/compare?a=&b=``                   two traces as trees of (service, operation)

Handlers parse, call one analysis function, and render; the renderers below are pure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from traceway.analysis.compare import DiffRow, NodeStats, compare_shapes, trace_shape, typical_shape
from traceway.analysis.critical_path import PathSegment, critical_path
from traceway.analysis.error_origin import ErrorAnalysis, error_origins
from traceway.analysis.statistics import GroupStats, TraceStatistics, trace_statistics
from traceway.analysis.tree import TraceTree
from traceway.model import SPAN_KIND_NAMES, SpanBatch
from traceway.query.jaeger_api import envelope, error
from traceway.query.params import BadParameterError, parse_duration_ns, parse_trace_id
from traceway.storage.api import Reader, TraceQuery

DEFAULT_TYPICAL_LOOKBACK_NS = 3_600 * 10**9
DEFAULT_TYPICAL_LIMIT = 100
MAX_TYPICAL_LIMIT = 1_000

JSON = dict[str, Any]


def _us(ns: float) -> int:
    return int(ns // 1000)


def critical_path_json(segments: list[PathSegment]) -> list[JSON]:
    """Segments in µs (floored like the Jaeger view's times); ones shorter than 1µs go."""
    out = []
    for seg in segments:
        start, end = _us(seg.start_ns), _us(seg.end_ns)
        if end > start:
            out.append({"spanID": seg.span_id.hex(), "start": start, "end": end})
    return out


def error_origins_json(analysis: ErrorAnalysis) -> JSON:
    return {
        "origins": [{
            "spanID": o.span.span_id.hex(), "service": o.span.service,
            "operation": o.span.name, "spanKind": SPAN_KIND_NAMES.get(o.span.kind, ""),
            "statusMessage": o.span.status_message,
            "exceptions": [{"type": e.type, "message": e.message, "stacktrace": e.stacktrace,
                            "timestamp": _us(e.time_ns)} for e in o.exceptions],
            "inheritedBy": [span_id.hex() for span_id in o.inherited_by],
        } for o in analysis.origins],
        "inherited": {span_id.hex(): [o.hex() for o in origins]
                      for span_id, origins in analysis.inherited.items()},
    }


def _group_json(g: GroupStats, duration_ns: int) -> JSON:
    def share(ns: int) -> float:
        return ns / duration_ns if duration_ns else 0.0

    return {"service": g.service, "operation": g.operation, "count": g.count,
            "errors": g.errors, "total": _us(g.total_ns), "min": _us(g.min_ns),
            "avg": _us(g.total_ns / g.count), "max": _us(g.max_ns),
            "selfTotal": _us(g.self_total_ns), "selfMin": _us(g.self_min_ns),
            "selfAvg": _us(g.self_total_ns / g.count), "selfMax": _us(g.self_max_ns),
            "share": share(g.total_ns), "selfShare": share(g.self_total_ns)}


def statistics_json(stats: TraceStatistics) -> JSON:
    return {"duration": _us(stats.duration_ns),
            "services": [_group_json(g, stats.duration_ns) for g in stats.services],
            "operations": [_group_json(g, stats.duration_ns) for g in stats.operations]}


def _node_json(stats: NodeStats | None) -> JSON | None:
    if stats is None:
        return None
    return {"count": stats.count, "duration": _us(stats.duration_ns), "errors": stats.errors}


def compare_json(rows: list[DiffRow]) -> list[JSON]:
    """Rows in tree order with their depth; deltas are b - a where both have the path."""
    out = []
    for row in rows:
        service, operation = row.path[-1]
        item: JSON = {"depth": len(row.path) - 1, "service": service, "operation": operation,
                      "status": row.status, "a": _node_json(row.a), "b": _node_json(row.b)}
        if row.a and row.b:
            item["countDelta"] = row.b.count - row.a.count
            item["durationDelta"] = _us(row.b.duration_ns) - _us(row.a.duration_ns)
        out.append(item)
    return out


def trace_summary_json(batch: SpanBatch) -> JSON:
    tree = TraceTree.of(batch)
    root = tree.root()
    records = list(tree.spans.values())
    start = min((r.start_ns for r in records), default=0)
    end = max((r.end_ns for r in records), default=0)
    return {"traceID": batch.trace_id[0].hex() if len(batch) else "",
            "service": root.service if root else "", "operation": root.name if root else "",
            "start": _us(start), "duration": _us(end - start), "spans": len(records)}


def parse_typical_window(params: Any) -> tuple[int, int]:
    """``lookback`` (a duration either side of the trace, default 1h) and ``limit``."""
    raw = params.get("lookback")
    lookback = parse_duration_ns(raw, "lookback") if raw else DEFAULT_TYPICAL_LOOKBACK_NS
    raw_limit = params.get("limit") or str(DEFAULT_TYPICAL_LIMIT)
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_TYPICAL_LIMIT:
        raise BadParameterError(f"limit: {raw_limit!r} is not a number from 1 to {MAX_TYPICAL_LIMIT}")
    return lookback, int(raw_limit)


def typical_traces(reader: Reader, trace: SpanBatch, lookback_ns: int, limit: int) -> list[SpanBatch]:
    """Other traces whose root has this trace's root service and operation, started
    within ``lookback_ns`` before or after it; up to ``limit``, newest first."""
    root = TraceTree.of(trace).root()
    if root is None:
        return []
    query = TraceQuery(start_min_ns=root.start_ns - lookback_ns,
                       start_max_ns=root.start_ns + lookback_ns, service=root.service,
                       operation=root.name, limit=limit + 1)
    found = []
    for other in reader.find_traces(query):
        other_root = TraceTree.of(other).root()
        if (other_root and other_root.trace_id != root.trace_id
                and (other_root.service, other_root.name) == (root.service, root.name)):
            found.append(other)
    return found[:limit]


def trace_analysis_routes(reader: Reader) -> list[Route]:
    def load(raw: str, name: str = "trace id") -> SpanBatch | JSONResponse:
        try:
            trace = reader.get_trace(parse_trace_id(raw))
        except BadParameterError as exc:
            return error(400, str(exc))
        return trace if len(trace) else error(404, f"trace {raw} not found")

    def one_trace(analyse: Callable[[SpanBatch], Any]) -> Callable[[Request], JSONResponse]:
        def handler(request: Request) -> JSONResponse:
            trace = load(request.path_params["trace_id"])
            return trace if isinstance(trace, JSONResponse) else envelope(analyse(trace))
        return handler

    def compare(request: Request) -> JSONResponse:
        for name in ("a", "b"):
            if not request.query_params.get(name):
                return error(400, f"parameter '{name}' is required: the trace id to compare")
        a = load(request.query_params["a"], "a")
        if isinstance(a, JSONResponse):
            return a
        b = load(request.query_params["b"], "b")
        if isinstance(b, JSONResponse):
            return b
        rows = compare_shapes(trace_shape(a), trace_shape(b))
        return envelope({"a": trace_summary_json(a), "b": trace_summary_json(b),
                         "rows": compare_json(rows)})

    def typical(request: Request) -> JSONResponse:
        trace = load(request.path_params["trace_id"])
        if isinstance(trace, JSONResponse):
            return trace
        try:
            lookback, limit = parse_typical_window(request.query_params)
        except BadParameterError as exc:
            return error(400, str(exc))
        others = typical_traces(reader, trace, lookback, limit)
        summary = trace_summary_json(trace)
        if not others:
            return error(404, f"no other traces of {summary['service']}: {summary['operation']} "
                              "in the window to compare with")
        rows = compare_shapes(trace_shape(trace), typical_shape([trace_shape(t) for t in others]))
        return envelope({"a": summary, "b": {"typicalOf": len(others), "lookback": _us(lookback)},
                         "rows": compare_json(rows)})

    return [
        Route("/api/traces/{trace_id}/critical-path",
              one_trace(lambda t: critical_path_json(critical_path(t)))),
        Route("/api/traces/{trace_id}/error-origins",
              one_trace(lambda t: error_origins_json(error_origins(t)))),
        Route("/api/traces/{trace_id}/statistics",
              one_trace(lambda t: statistics_json(trace_statistics(t)))),
        Route("/api/traces/{trace_id}/typical", typical),
        Route("/api/compare", compare),
    ]
