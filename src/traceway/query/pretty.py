"""``prettyPrint=true`` on any JSON answer of the query API, as Jaeger's HTTP API offers.

An ASGI middleware rather than a flag in each handler, so routes added later
(other API versions, analysis endpoints) honour it too. Only JSON answers to
requests that ask for it are buffered and re-indented; the rest pass through.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def wants_pretty(query_string: bytes) -> bool:
    return any(key == "prettyPrint" and value.lower() == "true"
               for key, value in parse_qsl(query_string.decode("latin-1")))


class PrettyPrintMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not wants_pretty(scope.get("query_string", b"")):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body: list[bytes] = []

        async def reindent(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if content_type.startswith(b"application/json"):
                    start = message
                    return
            elif start is not None and message["type"] == "http.response.body":
                body.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                pretty = orjson.dumps(orjson.loads(b"".join(body)), option=orjson.OPT_INDENT_2)
                headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
                headers.append((b"content-length", str(len(pretty)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": pretty})
                return
            await send(message)

        await self.app(scope, receive, reindent)
