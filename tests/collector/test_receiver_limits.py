"""Limits on what senders can hold (issue 8, "Limits and faults"): idle and
slow connections are closed, hundreds of them do not exhaust descriptors, and
request bytes in flight are capped server-wide."""

from __future__ import annotations

import os
import resource
import socket
import time

import httpx
import pytest

from traceway.http_limits import HEADER_TIMEOUT_S
from traceway.sample import sample_request
from traceway.testing import ServerProcess

PROTOBUF = {"Content-Type": "application/x-protobuf"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # One receiving process: these limits are kept per process (--workers divides the
    # in-flight cap among them), and a worker would take some of the connections.
    process = ServerProcess(tmp_path_factory.mktemp("limits") / "data",
                            extra_args=["--max-in-flight-bytes", "8MiB", "--workers", "1"]).start()
    yield process
    process.stop()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def _open_fds(server: ServerProcess) -> int:
    return len(os.listdir(f"/proc/{server.process.pid}/fd"))


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.5)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_idle_and_slow_connections_are_closed_and_do_not_exhaust_descriptors(server):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), hard))
    ports = [_port(server.otlp_http_url), _port(server.zipkin_url), _port(server.ui_url)]
    baseline = _open_fds(server)
    idle: list[socket.socket] = []
    try:
        for port in ports:  # 500 per port: more than a default 1,024-descriptor limit
            for n in range(500):
                sock = socket.create_connection(("127.0.0.1", port))
                if n % 2:  # half send part of a request and stall (slowloris)
                    sock.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Le")
                idle.append(sock)
        # The server still answers while they are open.
        body = sample_request(1, seed=1).SerializeToString()
        answer = httpx.post(server.otlp_http_url + "/v1/traces", content=body, headers=PROTOBUF,
                            timeout=10)
        assert answer.status_code == 200
        time.sleep(HEADER_TIMEOUT_S + 1)
        assert all(_closed_by_server(sock) for sock in idle[:50] + idle[-50:])
        deadline = time.monotonic() + 10
        while _open_fds(server) > baseline + 20:
            assert time.monotonic() < deadline, f"{_open_fds(server)} descriptors still open"
            time.sleep(0.2)
    finally:
        for sock in idle:
            sock.close()
    assert server.process.poll() is None


def test_a_body_that_stops_arriving_is_cut_off(server):
    sock = socket.create_connection(("127.0.0.1", _port(server.otlp_http_url)))
    sock.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                 b"Content-Length: 1000\r\n\r\n" + b"\0" * 10)
    # Headers are complete, so the body timeout (30 s) applies, not the header one.
    time.sleep(HEADER_TIMEOUT_S + 1)
    assert not _closed_by_server(sock)
    sock.close()


def _start_request(port: int, content_length: int) -> socket.socket:
    """A request whose headers and first body bytes are sent; the rest is held back."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                 + f"Content-Length: {content_length}\r\n\r\n".encode() + b"\0" * 1024)
    return sock


def test_request_bytes_in_flight_are_capped(server):
    port = _port(server.otlp_http_url)
    held = _start_request(port, 6 << 20)  # 6 MiB of the 8 MiB cap
    try:
        time.sleep(0.5)
        answer = httpx.post(server.otlp_http_url + "/v1/traces", content=b"\0" * (4 << 20),
                            headers=PROTOBUF, timeout=10)
        assert answer.status_code == 429
        assert int(answer.headers["Retry-After"]) > 0
        assert "in flight" in answer.text
        small = sample_request(1, seed=2).SerializeToString()  # fits beside it
        assert httpx.post(server.otlp_http_url + "/v1/traces", content=small,
                          headers=PROTOBUF, timeout=10).status_code == 200
    finally:
        held.close()
    time.sleep(0.5)  # the held request's bytes are given back when it ends
    answer = httpx.post(server.otlp_http_url + "/v1/traces", content=b"\0" * (4 << 20),
                        headers=PROTOBUF, timeout=10)
    assert answer.status_code == 400  # admitted, then refused as not OTLP
