"""What HTTP receivers share: decode + accept, and errors as google.rpc.Status."""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from starlette.requests import Request
from starlette.responses import Response

from traceway.collector.body import BodyError, read_body
from traceway.collector.inflight import InFlightFullError
from traceway.collector.ingest import Ingest, OverloadedError, WriteFailedError
from traceway.convert.otlp import DecodedSpans, InvalidPayloadError

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


async def decode_and_accept(request: Request, decode: Callable[[bytes], DecodedSpans],
                            ingest: Ingest, protocol: str,
                            answer_as: str) -> DecodedSpans | Response:
    """The accepted spans, or the error answer (400/413/415/429/503) to send."""
    reservation = ingest.in_flight.reservation()
    try:
        decoded = decode(await read_body(request, reservation))
        await ingest.accept(decoded, protocol)
    except InFlightFullError as exc:
        return status_response(429, f"{exc}; retry later", answer_as,
                               {"Retry-After": str(exc.retry_after)})
    except BodyError as exc:
        return status_response(exc.status, str(exc), answer_as)
    except InvalidPayloadError as exc:
        return status_response(400, str(exc), answer_as)
    except OverloadedError as exc:
        return status_response(exc.http_status, f"{exc}; retry later", answer_as,
                               {"Retry-After": str(exc.retry_after)})
    except WriteFailedError as exc:
        return status_response(503, str(exc), answer_as, {"Retry-After": "5"})
    finally:
        reservation.release()
    return decoded
