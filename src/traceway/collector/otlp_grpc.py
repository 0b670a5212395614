"""OTLP/gRPC receiver: opentelemetry.proto.collector.trace.v1.TraceService/Export."""

from __future__ import annotations

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from traceway.collector.body import MAX_BODY_BYTES
from traceway.collector.grpc_auth import BearerInterceptor
from traceway.collector.inflight import InFlightFullError
from traceway.collector.ingest import Ingest, OverloadedError, WriteFailedError
from traceway.convert.otlp import InvalidPayloadError, spans_from_otlp_proto
from traceway.http_security import Security

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"


def otlp_grpc_server(ingest: Ingest, address: str,
                     security: Security | None = None) -> grpc.aio.Server:
    """A gRPC server bound to ``address`` (``host:port``), not yet started; ``security``'s
    ingest tokens and TLS files apply as on the HTTP receivers."""

    # The request arrives as raw bytes (no deserializer) so a malformed message
    # is answered INVALID_ARGUMENT by us rather than INTERNAL by grpcio.
    async def export(body: bytes, context: grpc.aio.ServicerContext[bytes, ExportTraceServiceResponse]) -> ExportTraceServiceResponse:
        reservation = ingest.in_flight.reservation()
        try:
            reservation.take(len(body))
            decoded = spans_from_otlp_proto(body)
            await ingest.accept(decoded, "otlp_grpc")
        except InvalidPayloadError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except (InFlightFullError, OverloadedError, WriteFailedError) as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"{exc}; retry later")
        finally:
            reservation.release()
        answer = ExportTraceServiceResponse()
        if decoded.rejected:
            answer.partial_success.rejected_spans = decoded.rejected
            answer.partial_success.error_message = decoded.error_message
        return answer

    handler = grpc.method_handlers_generic_handler(SERVICE, {
        "Export": grpc.unary_unary_rpc_method_handler(
            export, response_serializer=ExportTraceServiceResponse.SerializeToString)})
    security = security or Security()
    interceptors = ([BearerInterceptor(security.ingest, security.on_refusal)]
                    if security.ingest.required else [])
    server = grpc.aio.server(interceptors=interceptors, options=[
        ("grpc.max_receive_message_length", MAX_BODY_BYTES),
        ("grpc.max_send_message_length", 16 << 20),
        # Receiver workers (--workers) listen on the same port.
        ("grpc.so_reuseport", 1),
    ])
    server.add_generic_rpc_handlers((handler,))
    key_pair = security.grpc_key_pair()
    port = (server.add_secure_port(address, grpc.ssl_server_credentials([key_pair]))
            if key_pair else server.add_insecure_port(address))
    if port == 0:
        raise OSError(f"cannot listen for OTLP/gRPC on {address}")
    return server
