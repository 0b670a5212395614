"""Diagnosis endpoints: propagation health, instrumentation coverage, attribute differences.

``GET /api/analysis/propagation?lookback=1h&grace=30s``, ``/api/analysis/coverage?lookback=1h``,
``/api/analysis/attributes?service=&operation=&lookback=1h&by=latency|error&threshold=250ms``.
The window ends at ``end`` (microseconds since the epoch, as in Jaeger) or now; durations
use the query API's grammar (``1h``, ``250ms``). Bad parameters answer 400 with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from traceway.analysis.attributes import BY
from traceway.analysis.propagation import DEFAULT_GRACE_NS
from traceway.query.health import Window, attributes_report, coverage_report, propagation_report
from traceway.query.jaeger_api import FastJSONResponse, error
from traceway.query.params import DEFAULT_LOOKBACK_NS, BadParameterError, parse_duration_ns
from traceway.storage.api import Reader


def parse_window(params: QueryParams) -> Window:
    end = params.get("end")
    try:
        end_ns = int(end) * 1000 if end else time.time_ns()
    except ValueError:
        raise BadParameterError(f"end: {end!r} is not an integer (microseconds)") from None
    lookback = params.get("lookback")
    lookback_ns = parse_duration_ns(lookback, "lookback") if lookback else DEFAULT_LOOKBACK_NS
    return Window(end_ns - lookback_ns, end_ns)


def _optional_duration(params: QueryParams, name: str) -> int | None:
    raw = params.get(name)
    return parse_duration_ns(raw, name) if raw else None


def _attributes(reader: Reader, params: QueryParams) -> dict[str, Any]:
    by = params.get("by") or "latency"
    if by not in BY:
        raise BadParameterError(f"by: {by!r} is not one of {', '.join(BY)}")
    return attributes_report(reader, parse_window(params), by=by,
                             service=params.get("service") or None,
                             operation=params.get("operation") or None,
                             threshold_ns=_optional_duration(params, "threshold"))


def health_routes(reader: Reader) -> list[Route]:
    def answer(report: Callable[[QueryParams], dict[str, Any]]):  # type: ignore[no-untyped-def]
        def handler(request: Request) -> JSONResponse:
            try:
                return FastJSONResponse(report(request.query_params))
            except BadParameterError as exc:
                return error(400, str(exc))
        return handler

    def propagation(params: QueryParams) -> dict[str, Any]:
        grace_ns = _optional_duration(params, "grace")
        return propagation_report(reader, parse_window(params),
                                  DEFAULT_GRACE_NS if grace_ns is None else grace_ns)

    return [
        Route("/api/analysis/propagation", answer(propagation)),
        Route("/api/analysis/coverage", answer(lambda p: coverage_report(reader, parse_window(p)))),
        Route("/api/analysis/attributes", answer(lambda p: _attributes(reader, p))),
    ]
