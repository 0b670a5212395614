"""OTLP/HTTP receiver: POST /v1/traces, protobuf or JSON, optionally gzip."""

from __future__ import annotations

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from traceway.collector.body import BodyError, media_type, read_body
from traceway.collector.http_errors import JSON, PROTOBUF, overloaded_response, status_response
from traceway.collector.ingest import Ingest, OverloadedError, WriteFailedError
from traceway.convert.otlp import InvalidPayloadError, spans_from_otlp_json, spans_from_otlp_proto

_DECODERS = {PROTOBUF: spans_from_otlp_proto, JSON: spans_from_otlp_json}
_PROTOCOL = {PROTOBUF: "otlp_http_protobuf", JSON: "otlp_http_json"}


def otlp_http_app(ingest: Ingest) -> Starlette:
    async def export(request: Request) -> Response:
        kind = media_type(request)
        decode = _DECODERS.get(kind)
        if decode is None:
            return status_response(415, f"unsupported Content-Type {kind!r}; use "
                                   f"{PROTOBUF} or {JSON}", JSON)
        try:
            decoded = decode(await read_body(request))
            await ingest.accept(decoded, _PROTOCOL[kind])
        except BodyError as exc:
            return status_response(exc.status, str(exc), kind)
        except InvalidPayloadError as exc:
            return status_response(400, str(exc), kind)
        except OverloadedError as exc:
            return overloaded_response(exc, kind)
        except WriteFailedError as exc:
            return status_response(503, str(exc), kind, {"Retry-After": "5"})
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
