"""The gRPC side of the bearer-token check: metadata ``authorization: Bearer <token>``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from traceway.http_security import BearerTokens, RefusalCounter


class BearerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Answers UNAUTHENTICATED, before any handler runs, unless ``tokens`` accept the call."""

    def __init__(self, tokens: BearerTokens, on_refusal: RefusalCounter) -> None:
        self._tokens = tokens
        self._on_refusal = on_refusal

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails],
                                     Awaitable[grpc.RpcMethodHandler[Any, Any]]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        metadata = dict(handler_call_details.invocation_metadata or ())
        header = metadata.get("authorization")
        reason = self._tokens.refusal(header if isinstance(header, str) else None)
        if reason is None:
            return await continuation(handler_call_details)
        self._on_refusal("ingest")

        async def refuse(request: bytes, context: grpc.aio.ServicerContext[bytes, None]) -> None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, reason)

        return grpc.unary_unary_rpc_method_handler(refuse)
