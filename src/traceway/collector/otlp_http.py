"""OTLP/HTTP receiver: POST /v1/traces, protobuf or JSON, optionally gzip."""

from __future__ import annotations

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from traceway.collector.body import media_type
from traceway.collector.http_common import JSON, PROTOBUF, decode_and_accept, status_response
from traceway.collector.ingest import Ingest
from traceway.convert.otlp import spans_from_otlp_json, spans_from_otlp_proto

_DECODERS = {PROTOBUF: spans_from_otlp_proto, JSON: spans_from_otlp_json}
_PROTOCOL = {PROTOBUF: "otlp_http_protobuf", JSON: "otlp_http_json"}


def otlp_http_app(ingest: Ingest) -> Starlette:
    async def export(request: Request) -> Response:
        kind = media_type(request)
        decode = _DECODERS.get(kind)
        if decode is None:
            return status_response(415, f"unsupported Content-Type {kind!r}; use "
                                   f"{PROTOBUF} or {JSON}", JSON)
        decoded = await decode_and_accept(request, decode, ingest, _PROTOCOL[kind], kind)
        if isinstance(decoded, Response):
            return decoded
        return _export_response(decoded.rejected, decoded.error_message, kind)

    return Starlette(routes=[Route("/v1/traces", export, methods=["POST"])])


def _export_response(rejected: int, message: str, kind: str) -> Response:
    answer = ExportTraceServiceResponse()
    if rejected:
        answer.partial_success.rejected_spans = rejected
        answer.partial_success.error_message = message
    if kind == PROTOBUF:
        return Response(answer.SerializeToString(), 200, media_type=PROTOBUF)
    return Response(json_format.MessageToJson(answer, indent=None), 200, media_type=JSON)
