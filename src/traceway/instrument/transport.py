"""Send encoded OTLP trace requests over HTTP (keep-alive) or gRPC.

A transport has one method, ``send(body) -> SendResult``; retries and backoff
live in the exporter so both transports behave the same.
"""

from __future__ import annotations

import gzip
import http.client
import urllib.parse
from dataclasses import dataclass
from typing import Any, Protocol, cast

GRPC_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
RETRYABLE_HTTP = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class SendResult:
    """Outcome of one attempt: ``ok``; else whether a retry may help and how long the server asked us to wait."""

    ok: bool
    retryable: bool = False
    retry_after_s: float | None = None
    detail: str = ""


class Transport(Protocol):
    def send(self, body: bytes, timeout_s: float) -> SendResult:
        """Deliver one serialised ExportTraceServiceRequest; never raises for network errors."""

    def close(self) -> None:
        """Release connections; the transport reconnects if used again."""

    def at_fork_reinit(self) -> None:
        """Forget connections inherited from the parent process without touching them."""


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


class HTTPTransport:
    """POST to ``endpoint`` (a full URL such as ``http://127.0.0.1:4318/v1/traces``) on one kept-alive connection."""

    def __init__(self, endpoint: str, headers: dict[str, str] | None = None, compression: str | None = None) -> None:
        url = urllib.parse.urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) URL: {endpoint!r}")
        self._https = url.scheme == "https"
        self._host = url.hostname
        self._port = url.port or (443 if self._https else 80)
        self._path = (url.path or "/v1/traces") + (f"?{url.query}" if url.query else "")
        self._gzip = compression == "gzip"
        self._headers = {"Content-Type": "application/x-protobuf", "User-Agent": "traceway-instrument"}
        if self._gzip:
            self._headers["Content-Encoding"] = "gzip"
        self._headers.update(headers or {})
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self, timeout_s: float) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=timeout_s)
        else:
            self._conn.timeout = timeout_s
            if self._conn.sock is not None:
                self._conn.sock.settimeout(timeout_s)
        return self._conn

    def send(self, body: bytes, timeout_s: float) -> SendResult:
        if self._gzip:
            body = gzip.compress(body, compresslevel=1)
        for attempt in (1, 2):  # a kept-alive connection the server closed gets one silent reconnect
            conn = self._connection(timeout_s)
            try:
                conn.request("POST", self._path, body=body, headers=self._headers)
                response = conn.getresponse()
                response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                if attempt == 2:
                    return SendResult(False, retryable=True, detail=repr(exc))
                continue
            except OSError as exc:
                self.close()
                return SendResult(False, retryable=True, detail=repr(exc))
            except http.client.HTTPException as exc:
                self.close()
                return SendResult(False, retryable=True, detail=repr(exc))
            status = response.status
            if response.will_close:
                self.close()
            if 200 <= status < 300:
                return SendResult(True)
            return SendResult(
                False,
                retryable=status in RETRYABLE_HTTP,
                retry_after_s=_retry_after(response.getheader("Retry-After")),
                detail=f"HTTP {status}",
            )
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def at_fork_reinit(self) -> None:
        # Closing our copy of the socket only drops the child's file descriptor;
        # the parent's connection stays usable.
        self.close()


class GRPCTransport:
    """Unary ``TraceService/Export`` calls carrying our pre-encoded bytes (no re-serialisation)."""

    _RETRYABLE = ("UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "ABORTED", "CANCELLED", "OUT_OF_RANGE", "DATA_LOSS")

    def __init__(self, endpoint: str, headers: dict[str, str] | None = None, compression: str | None = None, insecure: bool | None = None) -> None:
        url = urllib.parse.urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
        self._target = f"{url.hostname}:{url.port or 4317}"
        self._secure = url.scheme == "https" if insecure is None else not insecure
        self._metadata = tuple((k.lower(), v) for k, v in (headers or {}).items())
        self._compression = compression
        self._channel: Any = None
        self._call: Any = None

    def _stub(self) -> Any:
        if self._call is None:
            import grpc

            if self._secure:
                self._channel = grpc.secure_channel(self._target, grpc.ssl_channel_credentials())
            else:
                self._channel = grpc.insecure_channel(self._target)
            self._call = self._channel.unary_unary(GRPC_METHOD)  # bytes in, bytes out
        return self._call

    def send(self, body: bytes, timeout_s: float) -> SendResult:
        import grpc

        compression = grpc.Compression.Gzip if self._compression == "gzip" else None
        try:
            self._stub()(body, timeout=timeout_s, metadata=self._metadata or None, compression=compression)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            name = code.name if code is not None else "UNKNOWN"
            retry_after = None
            trailers = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
            for item in trailers or ():
                key, value = cast("tuple[str, str | bytes]", item)  # a plain pair at run time
                if key == "retry-after":
                    retry_after = _retry_after(str(value))
            return SendResult(False, retryable=name in self._RETRYABLE, retry_after_s=retry_after, detail=f"gRPC {name}")
        return SendResult(True)

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
        self._channel = self._call = None

    def at_fork_reinit(self) -> None:
        # A gRPC channel must not be used across fork; build a new one lazily.
        self._channel = self._call = None
