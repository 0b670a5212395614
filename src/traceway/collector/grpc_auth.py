"""The gRPC side of the bearer-token check: metadata ``authorization: Bearer <token>``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc

from traceway.http_security import BearerTokens, RefusalCounter


class BearerInterceptor(grpc.aio.ServerInterceptor):
    """Answers UNAUTHENTICATED, before any handler runs, unless ``tokens`` accept the call."""

    def __init__(self, tokens: BearerTokens, on_refusal: RefusalCounter) -> None:
        self._tokens = tokens
        self._on_refusal = on_refusal

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails],
                                     Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        metadata = dict(handler_call_details.invocation_metadata or ())  # type: ignore[attr-defined]
        reason = self._tokens.refusal(metadata.get("authorization"))
        if reason is None:
            return await continuation(handler_call_details)
        self._on_refusal("ingest")

        async def refuse(request: bytes, context: grpc.aio.ServicerContext) -> None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, reason)

        return grpc.unary_unary_rpc_method_handler(refuse)
