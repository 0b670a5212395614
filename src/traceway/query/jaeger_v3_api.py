"""Jaeger API v3 over HTTP (``/api/v3/...``), as Jaeger's query service serves it.

What today's Jaeger UI loads its search page from. Handlers parse, call the
Reader, and render; errors use grpc-gateway's envelope with the HTTP status.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from traceway.model import SPAN_KIND_BY_NAME
from traceway.query.jaeger_api import FastJSONResponse
from traceway.query.jaeger_v3_json import (
    operations_to_v3_json,
    summaries_to_v3_json,
    traces_to_v3_json,
    v3_error,
)
from traceway.query.jaeger_v3_params import parse_optional_time, parse_v3_trace_query
from traceway.query.params import BadParameterError, parse_trace_id
from traceway.storage.api import Reader, StorageError, TraceQuery, TraceSummaries, TraceSummary
from traceway.storage.summary import summarize_trace


def error(status: int, message: str) -> JSONResponse:
    return FastJSONResponse(v3_error(status, message), status)


def _answers(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
    """Bad parameters -> 400 and store failures -> 500, both in the v3 envelope."""
    def endpoint(request: Request) -> Response:
        try:
            return handler(request)
        except BadParameterError as exc:
            return error(400, str(exc))
        except StorageError as exc:
            return error(500, str(exc))
    return endpoint


def find_summaries(reader: Reader, query: TraceQuery) -> list[TraceSummary]:
    """From the store when it can summarise, else from the traces it finds."""
    if isinstance(reader, TraceSummaries):
        return reader.find_trace_summaries(query)
    return [summarize_trace(trace) for trace in reader.find_traces(query)]


def jaeger_v3_routes(reader: Reader) -> list[Route]:
    def services(request: Request) -> Response:
        return FastJSONResponse({"services": reader.services()})

    def operations(request: Request) -> Response:
        params = request.query_params
        service = params.get("service")
        if not service:
            raise BadParameterError("malformed parameter service: required")
        raw_kind = params.get("span_kind") or params.get("spanKind") or ""
        kind = SPAN_KIND_BY_NAME.get(raw_kind.lower()) if raw_kind else None
        if raw_kind and kind is None:
            raise BadParameterError(f"malformed parameter span_kind: {raw_kind!r} is not one of "
                                    f"{', '.join(sorted(SPAN_KIND_BY_NAME))}")
        return FastJSONResponse(operations_to_v3_json(reader.operations(service, kind)))

    def trace_summaries(request: Request) -> Response:
        query = parse_v3_trace_query(request.query_params)
        return FastJSONResponse(summaries_to_v3_json(find_summaries(reader, query)))

    def get_trace(request: Request) -> Response:
        trace_id = parse_trace_id(request.path_params["trace_id"])
        start = parse_optional_time(request.query_params, "start_time", "startTime")
        end = parse_optional_time(request.query_params, "end_time", "endTime")
        trace = reader.get_trace(trace_id, start, end)
        if not len(trace):
            return error(404, "trace not found")
        return FastJSONResponse(traces_to_v3_json([trace]))

    def find_traces(request: Request) -> Response:
        traces = reader.find_traces(parse_v3_trace_query(request.query_params))
        if not traces:  # Jaeger answers an empty search so
            return error(404, "No traces found")
        return FastJSONResponse(traces_to_v3_json(traces))

    def unknown(request: Request) -> Response:
        return error(404, f"no such endpoint: {request.url.path}")

    return [
        Route("/api/v3/services", _answers(services)),
        Route("/api/v3/operations", _answers(operations)),
        Route("/api/v3/trace-summaries", _answers(trace_summaries)),
        Route("/api/v3/traces", _answers(find_traces)),
        Route("/api/v3/traces/{trace_id}", _answers(get_trace)),
        Route("/api/v3/{rest:path}", unknown),
    ]
