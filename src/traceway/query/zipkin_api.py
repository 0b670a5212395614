"""Zipkin v2 read API (``GET /api/v2/...``), what Zipkin Lens and Grafana's Zipkin data source call.

Served on the Zipkin port next to the collector's ``POST /api/v2/spans``; the
server puts both in one app. Answers are Zipkin v2 JSON; bad parameters get 400
with a plain-text message, as Zipkin answers them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from traceway.convert.zipkin_json import trace_to_zipkin_json
from traceway.query.jaeger_api import FastJSONResponse
from traceway.query.params import MAX_LIMIT, BadParameterError
from traceway.query.zipkin_params import (
    DEFAULT_LOOKBACK_MS,
    SpanFilter,
    parse_trace_ids,
    parse_window_ms,
    parse_zipkin_trace_id,
    parse_zipkin_trace_query,
)
from traceway.storage.api import Reader, StorageError, TraceQuery

JSONSpans = list[dict[str, Any]]
# How many recent traces of a service show its remote services, and how many more
# traces a search reads when part of it is checked here rather than in the store.
REMOTE_SERVICE_SAMPLE = 200
OVERFETCH = 10


def find_zipkin_traces(reader: Reader, query: TraceQuery, span_filter: SpanFilter) -> list[JSONSpans]:
    """Traces as Zipkin spans, newest first; a ``span_filter`` is checked on each trace."""
    if not span_filter:
        return [trace_to_zipkin_json(t) for t in reader.find_traces(query)]
    wider = dataclasses.replace(query, limit=min(MAX_LIMIT, query.limit * OVERFETCH))
    found = []
    for trace in reader.find_traces(wider):
        spans = trace_to_zipkin_json(trace)
        if any(span_filter.matches(span) for span in spans):
            found.append(spans)
            if len(found) == query.limit:
                break
    return found


def remote_services(reader: Reader, service: str, now_ns: int | None = None) -> list[str]:
    """``remoteEndpoint.serviceName`` of the service's spans in its recent traces."""
    end_ns = time.time_ns() if now_ns is None else now_ns
    query = TraceQuery(start_min_ns=end_ns - DEFAULT_LOOKBACK_MS * 1_000_000, start_max_ns=end_ns,
                       service=service, limit=REMOTE_SERVICE_SAMPLE)
    names = {span.get("remoteEndpoint", {}).get("serviceName")
             for trace in reader.find_traces(query) for span in trace_to_zipkin_json(trace)
             if span.get("localEndpoint", {}).get("serviceName") == service}
    return sorted(name for name in names if name)


def autocomplete_values(reader: Reader, key: str, now_ns: int | None = None) -> list[str]:
    """Values of tag ``key`` on the spans of the recent traces (any service)."""
    end_ns = time.time_ns() if now_ns is None else now_ns
    query = TraceQuery(start_min_ns=end_ns - DEFAULT_LOOKBACK_MS * 1_000_000, start_max_ns=end_ns,
                       limit=REMOTE_SERVICE_SAMPLE)
    values = {span["tags"][key] for trace in reader.find_traces(query)
              for span in trace_to_zipkin_json(trace) if key in span.get("tags", {})}
    return sorted(values)


def _answers(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
    def endpoint(request: Request) -> Response:
        try:
            return handler(request)
        except BadParameterError as exc:
            return PlainTextResponse(str(exc), 400)
        except StorageError as exc:
            return PlainTextResponse(str(exc), 500)
    return endpoint


def _required(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise BadParameterError(f"{name} is required")
    return value


def zipkin_read_routes(reader: Reader, autocomplete_keys: tuple[str, ...] = ()) -> list[Route]:
    """``autocomplete_keys``: the tag keys Lens offers values for (Zipkin's AUTOCOMPLETE_KEYS)."""
    def services(request: Request) -> Response:
        return FastJSONResponse(reader.services())

    def span_names(request: Request) -> Response:
        service = _required(request, "serviceName")
        return FastJSONResponse(sorted({op.name for op in reader.operations(service)}))

    def remote_service_names(request: Request) -> Response:
        return FastJSONResponse(remote_services(reader, _required(request, "serviceName")))

    def traces(request: Request) -> Response:
        query, span_filter = parse_zipkin_trace_query(request.query_params)
        return FastJSONResponse(find_zipkin_traces(reader, query, span_filter))

    def trace(request: Request) -> Response:
        raw = request.path_params["trace_id"]
        spans = reader.get_trace(parse_zipkin_trace_id(raw))
        if not len(spans):
            return PlainTextResponse(f"traceId {raw} not found", 404)
        return FastJSONResponse(trace_to_zipkin_json(spans))

    def trace_many(request: Request) -> Response:
        found = (reader.get_trace(t) for t in parse_trace_ids(request.query_params.get("traceIds")))
        return FastJSONResponse([trace_to_zipkin_json(t) for t in found if len(t)])

    def dependencies(request: Request) -> Response:
        start_ns, end_ns = parse_window_ms(request.query_params)
        return FastJSONResponse([
            {"parent": d.parent, "child": d.child, "callCount": d.call_count,
             **({"errorCount": d.error_count} if d.error_count else {})}
            for d in reader.dependencies(start_ns, end_ns)])

    def keys(request: Request) -> Response:
        return FastJSONResponse(list(autocomplete_keys))

    def values(request: Request) -> Response:
        key = _required(request, "key")
        # As Zipkin: keys not configured have no values.
        return FastJSONResponse(autocomplete_values(reader, key) if key in autocomplete_keys else [])

    routes = {"/services": services, "/spans": span_names, "/remoteServices": remote_service_names,
              "/traces": traces, "/trace/{trace_id}": trace, "/traceMany": trace_many,
              "/dependencies": dependencies, "/autocompleteKeys": keys,
              "/autocompleteValues": values}
    return [Route(f"/api/v2{path}", _answers(handler), methods=["GET", "HEAD"])
            for path, handler in routes.items()]
