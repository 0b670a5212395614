"""RED metrics over HTTP: Jaeger's monitor API (what Jaeger UI's Monitor tab calls)
and the JSON of Traceway's services overview and service map.

Thin handlers: parse, read the store's rollups, render with a pure converter.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from traceway.analysis.red import (
    MINUTE_NS,
    Windows,
    call_rate,
    error_ratio,
    latency_ms,
    series_of,
    windows,
)
from traceway.convert.jaeger_metrics import CALLS, ERRORS, LATENCIES, metric_family_json
from traceway.convert.red_json import edges_json, red_table_json, sparkline_grid
from traceway.model import SpanKind
from traceway.query.jaeger_api import FastJSONResponse, envelope, error
from traceway.query.metrics_params import (
    parse_metrics_query,
    parse_quantile,
    parse_span_kinds,
    parse_window,
)
from traceway.query.params import BadParameterError
from traceway.storage.api import Rollups

# A service's own work: the requests it serves and the messages it consumes.
OWN_WORK_KINDS = [int(SpanKind.SERVER), int(SpanKind.CONSUMER)]


def monitor_routes(store: object) -> list[Route]:
    if not isinstance(store, Rollups):
        return []
    rollups: Rollups = store

    def metric(request: Request, name: str,
               value: Callable[[Windows], np.ndarray], quantile: float | None = None) -> JSONResponse:
        query = parse_metrics_query(request.query_params)
        grid = query.grid
        rows = rollups.red(*grid.rows_range_ns(), grid.bucket_ns, services=query.services,
                           span_kinds=query.span_kinds, by_operation=query.group_by_operation)
        series = series_of(windows(rows, grid), value)
        return FastJSONResponse(metric_family_json(name, series, query.group_by_operation,
                                                   quantile))

    def calls(request: Request) -> JSONResponse:
        return metric(request, CALLS, call_rate)

    def errors(request: Request) -> JSONResponse:
        return metric(request, ERRORS, error_ratio)

    def latencies(request: Request) -> JSONResponse:
        quantile = parse_quantile(request.query_params)
        return metric(request, LATENCIES, latency_ms(quantile), quantile)

    def min_step(request: Request) -> JSONResponse:
        return envelope(MINUTE_NS // 10**6)

    def red_table(request: Request) -> JSONResponse:
        service = request.query_params.get("service")
        grid = sparkline_grid(parse_window(request.query_params))
        rows = rollups.red(*grid.rows_range_ns(), grid.bucket_ns,
                           services=[service] if service else None, by_operation=bool(service),
                           span_kinds=parse_span_kinds(request.query_params, OWN_WORK_KINDS))
        return envelope(red_table_json(rows, grid))

    def edges(request: Request) -> JSONResponse:
        grid = parse_window(request.query_params)
        start = (grid.end_ns - grid.lookback_ns) // MINUTE_NS * MINUTE_NS
        return envelope(edges_json(rollups.edges(start, grid.points_ns()[-1])))

    return [Route(path, _answering_bad_parameters(handler)) for path, handler in (
        ("/api/metrics/calls", calls), ("/api/metrics/errors", errors),
        ("/api/metrics/latencies", latencies), ("/api/metrics/minstep", min_step),
        ("/api/red/services", red_table), ("/api/red/edges", edges))]


def _answering_bad_parameters(handler: Callable[[Request], JSONResponse]
                              ) -> Callable[[Request], JSONResponse]:
    def answer(request: Request) -> JSONResponse:
        try:
            return handler(request)
        except BadParameterError as exc:
            return error(400, str(exc))
    return answer
