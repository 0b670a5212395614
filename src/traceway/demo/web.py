"""A tiny traced JSON-over-HTTP service and client for the demo shop (stdlib only).

Every request handled becomes a SERVER span continuing the caller's context;
every call made becomes a CLIENT span whose context travels in the headers,
unless the caller asks for ``propagate=False`` (the demo's broken path).
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from traceway.instrument import extract, inject, mark_error

_logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], dict[str, str]], dict[str, Any]]


class HTTPError(Exception):
    """Raised by a handler to answer with ``status`` (a deliberate failure, not a crash)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Service:
    """Routes ``(method, path)`` to handlers taking (JSON body, query) and returning a JSON dict."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.routes: dict[tuple[str, str], Handler] = {}
        self.tracer = trace.get_tracer(f"traceway.demo.{name}")

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.routes[(method, path)] = fn
            return fn

        return register

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        url = urllib.parse.urlsplit(raw_path)
        handler = self.routes.get((method, url.path))
        if handler is None:
            return 404, {"error": f"no route {method} {url.path}"}
        query = dict(urllib.parse.parse_qsl(url.query))
        attributes = {"http.request.method": method, "http.route": url.path, "url.path": url.path}
        with self.tracer.start_as_current_span(
            f"{method} {url.path}", context=extract(headers), kind=SpanKind.SERVER, attributes=attributes,
            record_exception=False, set_status_on_exception=False,
        ) as span:
            try:
                status, payload = 200, handler(json.loads(body) if body else {}, query)
            except HTTPError as exc:
                status, payload = exc.status, {"error": str(exc)}
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR, str(exc)))
            except Exception as exc:
                mark_error(span, exc)
                _logger.info("%s %s failed: %r", method, url.path, exc)
                status, payload = 500, {"error": f"{type(exc).__name__}: {exc}"}
            span.set_attribute("http.response.status_code", status)
            return status, payload

    def serve(self, port: int = 0) -> ThreadingHTTPServer:
        """Start serving on 127.0.0.1:``port`` (0 = any free port) in a daemon thread."""
        service = self

        class RequestHandler(BaseHTTPRequestHandler):
            def _dispatch(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                status, payload = service.handle(self.command, self.path, dict(self.headers.items()), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _dispatch

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), RequestHandler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
        return server


def call(
    method: str,
    url: str,
    payload: dict[str, Any] | None = None,
    *,
    peer: str,
    propagate: bool = True,
    timeout_s: float = 5.0,
) -> tuple[int, dict[str, Any]]:
    """A CLIENT span around one HTTP call; returns (status, JSON body). 5xx marks the span failed."""
    parts = urllib.parse.urlsplit(url)
    tracer = trace.get_tracer("traceway.demo.client")
    attributes: dict[str, Any] = {
        "http.request.method": method, "url.full": url, "server.address": parts.hostname or "",
        "server.port": parts.port or 80, "peer.service": peer,
    }
    with tracer.start_as_current_span(
        f"{method} {parts.path}", kind=SpanKind.CLIENT, attributes=attributes,
        record_exception=False, set_status_on_exception=False,
    ) as span:
        headers = {"Content-Type": "application/json"}
        if propagate:
            inject(headers)
        else:
            span.set_attribute("demo.context_propagated", False)
        try:
            status, body = raw_call(method, url, payload, headers, timeout_s)
        except OSError as exc:
            mark_error(span, exc)
            raise
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR, f"HTTP {status} from {peer}: {body.get('error', '')}"))
        return status, body


def raw_call(method: str, url: str, payload: dict[str, Any] | None, headers: dict[str, str] | None = None, timeout_s: float = 5.0) -> tuple[int, dict[str, Any]]:
    """An untraced HTTP call (infrastructure traffic: queue polling, the load generator)."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else {}
    except ValueError:
        return status, {"error": raw[:200].decode("latin-1")}
