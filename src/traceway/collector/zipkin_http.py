"""Zipkin v2 receiver: POST /api/v2/spans, JSON list or proto3 ListOfSpans."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from traceway.collector.body import media_type
from traceway.collector.http_common import JSON, PROTOBUF, decode_and_accept, status_response
from traceway.collector.ingest import Ingest
from traceway.convert.zipkin import spans_from_zipkin_json, spans_from_zipkin_proto

# Only these two: a cross-site form POST (text/plain, form types) must not store spans.
_DECODERS = {JSON: spans_from_zipkin_json, PROTOBUF: spans_from_zipkin_proto}


def zipkin_http_app(ingest: Ingest) -> Starlette:
    return Starlette(routes=zipkin_routes(ingest))


def zipkin_routes(ingest: Ingest) -> list[Route]:
    """``POST /api/v2/spans``; the server adds the query side's read routes beside it."""
    async def spans(request: Request) -> Response:
        kind = media_type(request)
        decode = _DECODERS.get(kind)
        if decode is None:
            return status_response(415, f"unsupported Content-Type {kind!r}; use "
                                   f"{JSON} or {PROTOBUF}", JSON)
        answer_as = PROTOBUF if kind == PROTOBUF else JSON
        decoded = await decode_and_accept(request, decode, ingest, "zipkin", answer_as)
        if isinstance(decoded, Response):
            return decoded
        if decoded.rejected:
            return status_response(400, decoded.error_message, answer_as)
        return Response(status_code=202)

    return [Route("/api/v2/spans", spans, methods=["POST"])]
