"""Error answers for HTTP receivers, as google.rpc.Status in the request's encoding."""

from __future__ import annotations

from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from starlette.responses import Response

from traceway.collector.ingest import OverloadedError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

_GRPC_CODE_BY_HTTP = {400: code_pb2.INVALID_ARGUMENT, 413: code_pb2.INVALID_ARGUMENT,
                      415: code_pb2.INVALID_ARGUMENT, 429: code_pb2.RESOURCE_EXHAUSTED,
                      500: code_pb2.INTERNAL, 503: code_pb2.UNAVAILABLE}


def status_response(http_status: int, message: str, media_type: str,
                    headers: dict[str, str] | None = None) -> Response:
    status = status_pb2.Status(code=_GRPC_CODE_BY_HTTP.get(http_status, code_pb2.UNKNOWN),
                               message=message)
    if media_type == PROTOBUF:
        return Response(status.SerializeToString(), http_status, headers, PROTOBUF)
    return Response(json_format.MessageToJson(status, indent=None), http_status, headers, JSON)


def overloaded_response(exc: OverloadedError, media_type: str) -> Response:
    http_status = 503 if exc.shutting_down else 429
    return status_response(http_status, f"{exc}; retry later", media_type,
                           {"Retry-After": str(exc.retry_after)})
