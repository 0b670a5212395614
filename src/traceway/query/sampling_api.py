"""Jaeger's remote sampling endpoint: ``GET /sampling?service=NAME`` (and ``/api/sampling``)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from traceway.pipeline.sampling.strategies import Strategies


def sampling_routes(strategies: Strategies, path: str = "/sampling") -> list[Route]:
    def sampling(request: Request) -> Response:
        service = request.query_params.get("service")
        if not service:
            return PlainTextResponse("'service' parameter must be provided", 400)
        return JSONResponse(strategies.for_service(service))

    return [Route(path, sampling)]


def remote_sampling_app(strategies: Strategies) -> Starlette:
    """The app on ``--remote-sampling-port``: Jaeger agents and SDKs poll ``/sampling``."""
    return Starlette(routes=sampling_routes(strategies, "/sampling")
                     + sampling_routes(strategies, "/"))
