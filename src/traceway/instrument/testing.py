"""Test doubles shipped with the kit: an in-memory exporter, a loopback OTLP/HTTP sink, a reset.

Run ``python -m traceway.instrument.testing [PORT]`` for a standalone sink
that prints its port and counts spans (``GET /count``; printed again on SIGTERM).
"""

from __future__ import annotations

import gzip
import signal
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from traceway.instrument import provider

__all__ = ["InMemorySpanExporter", "OTLPSink", "reset"]


def reset() -> None:
    """Shut down what ``configure`` installed and forget the global provider, so tests can configure again."""
    handle = provider.current_handle()
    if handle is not None:
        handle.shutdown()
    provider._forget_handle()
    # The API allows setting the global provider once per process; tests need more.
    from opentelemetry.util._once import Once

    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


class OTLPSink:
    """An OTLP/HTTP receiver on 127.0.0.1 that stores decoded requests.

    ``statuses`` is a list of HTTP status codes answered to the next requests
    in order (then 200), to exercise retries; ``retry_after`` is sent with them.
    Set ``decode=False`` to only count bytes and spans cheaply (benchmarks).
    """

    def __init__(self, port: int = 0, *, decode: bool = True) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.span_count = 0
        self.request_count = 0
        self.statuses: list[int] = []
        self.retry_after: str | None = None
        self.decode = decode
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                status = sink._record(self.path, body)
                self.send_response(status)
                if status != 200 and sink.retry_after is not None:
                    self.send_header("Retry-After", sink.retry_after)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                body = str(sink.span_count).encode()
                self.send_response(200 if self.path == "/count" else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def _record(self, path: str, body: bytes) -> int:
        with self._lock:
            self.request_count += 1
            if self.statuses:
                return self.statuses.pop(0)
        if path != "/v1/traces":
            return 404
        request = ExportTraceServiceRequest.FromString(body)
        n = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
        with self._lock:
            self.span_count += n
            if self.decode:
                self.requests.append(request)
        return 200

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spans(self) -> Iterator[Any]:
        """Every received protobuf Span, in arrival order."""
        for request in list(self.requests):
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    yield from ss.spans

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _main(argv: list[str]) -> int:
    sink = OTLPSink(int(argv[0]) if argv else 0, decode=False).start()
    print(sink.port, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    print(sink.span_count, flush=True)
    sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
