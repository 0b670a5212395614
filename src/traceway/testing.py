"""Test helpers shipped with the product: a real `traceway serve` in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(predicate: Callable[[], object], timeout_s: float = 10.0,
               what: str = "condition", interval_s: float = 0.01) -> None:
    """Poll ``predicate`` every ``interval_s`` until it is true; AssertionError
    naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout_s}s: {what}"
        time.sleep(interval_s)


class _PortTakenError(RuntimeError):
    """The server could not bind a port picked for it."""


@dataclass
class ServerProcess:
    """`traceway serve` on free loopback ports with its own data directory."""

    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    otlp_grpc_port: int = field(default_factory=free_port)
    otlp_http_port: int = field(default_factory=free_port)
    zipkin_port: int = field(default_factory=free_port)
    ui_port: int = field(default_factory=free_port)
    remote_sampling_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    # Set these when extra_args turn on --query-token-file or --tls-cert: api() uses them.
    query_token: str = ""
    ca_file: str = ""

    @property
    def scheme(self) -> str:
        return "https" if self.ca_file else "http"

    @property
    def ui_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.ui_port}"

    @property
    def otlp_http_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.otlp_http_port}"

    @property
    def otlp_grpc_address(self) -> str:
        return f"127.0.0.1:{self.otlp_grpc_port}"

    @property
    def zipkin_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.zipkin_port}/api/v2/spans"

    def start(self, timeout_s: float = 20.0, attempts: int = 3) -> ServerProcess:
        """Start and wait until the server says it is ready.

        A port picked by ``free_port`` can be taken by someone else (an outgoing
        connection's ephemeral port) before the server binds it: then the server
        exits at once, and this tries again on fresh ports.
        """
        for attempt in range(attempts):
            try:
                return self._start_once(timeout_s)
            except _PortTakenError:
                if attempt == attempts - 1:
                    raise
                for name in ("otlp_grpc_port", "otlp_http_port", "zipkin_port", "ui_port",
                             "remote_sampling_port"):
                    setattr(self, name, free_port())
        raise AssertionError("unreachable")

    def _start_once(self, timeout_s: float) -> ServerProcess:
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        args = [sys.executable, "-m", "traceway.cli", "serve", "--data-dir", str(self.data_dir),
                "--otlp-grpc-port", str(self.otlp_grpc_port),
                "--otlp-http-port", str(self.otlp_http_port),
                "--zipkin-port", str(self.zipkin_port), "--ui-port", str(self.ui_port),
                "--remote-sampling-port", str(self.remote_sampling_port),
                *self.extra_args]
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child writes to it until it exits
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **self.env})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self._log_since(log_start)
                if "Address already in use" in output:
                    raise _PortTakenError(output)
                raise RuntimeError(f"traceway serve exited with {self.process.returncode}:\n"
                                   + output)
            # Every listener is up once the server logs "traceway ready" (a listener that
            # fails after the UI port answers would otherwise look ready for a moment).
            if "traceway ready" in self._log_since(log_start):
                try:  # /metrics: every role serves it (a collector has no query API)
                    with urllib.request.urlopen(self._request("/metrics"), timeout=5,
                                                context=self._tls()):
                        return self
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("traceway serve did not become ready:\n" + self._log_since(log_start))

    def _log_since(self, offset: int) -> str:
        assert self.log_path is not None
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def _request(self, path: str) -> urllib.request.Request:
        headers = {"Authorization": f"Bearer {self.query_token}"} if self.query_token else {}
        return urllib.request.Request(self.ui_url + path, headers=headers)

    def _tls(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None

    def api(self, path: str) -> Any:
        """GET a query-API path and decode its JSON (raises HTTPError on 4xx/5xx)."""
        with urllib.request.urlopen(self._request(path), timeout=30, context=self._tls()) as answer:
            return json.loads(answer.read())

    @property
    def remote_sampling_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.remote_sampling_port}/sampling"

    def reload(self) -> None:
        """Ask the server to re-read its --config file (SIGHUP)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)

    def wait_for_trace(self, trace_id: str, min_spans: int = 1, timeout_s: float = 10.0) -> Any:
        """The trace's Jaeger JSON once it has ``min_spans`` spans.

        Acknowledged spans are durable at once but reach the store a moment
        later (the spool answers first), so tests wait rather than assume.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            data = self.api(f"/api/traces?traceID={trace_id}")["data"]
            if data and len(data[0]["spans"]) >= min_spans:
                return data[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"trace {trace_id} not stored with {min_spans} spans "
                                     f"within {timeout_s}s")
            time.sleep(0.02)

    def ingest(self, request: Any) -> None:
        """POST an OTLP ``ExportTraceServiceRequest`` as protobuf and wait until the
        trace of its first span is queryable (plain-HTTP, token-free servers)."""
        post = urllib.request.Request(self.otlp_http_url + "/v1/traces",
                                      data=request.SerializeToString(), method="POST",
                                      headers={"Content-Type": "application/x-protobuf"})
        with urllib.request.urlopen(post, timeout=30) as answer:
            assert answer.status == 200, answer.read()
        self.wait_for_trace(request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex())

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def worker_pids(self) -> list[int]:
        """The receiver workers (--workers) the server runs now: its child processes."""
        assert self.process is not None
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == self.process.pid:
                pids.append(int(stat.parent.name))
        return pids
