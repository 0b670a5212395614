"""OTLP traffic for end-to-end tests: senders that post until an action has run
(a kill, a stop) and remember what the server acknowledged, which must be stored
whatever the action was."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from traceway.sample import sample_request
from traceway.testing import ServerProcess

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def span_counts(request: Any) -> dict[str, int]:
    """Spans per trace id (hex) of an OTLP ExportTraceServiceRequest."""
    counts: dict[str, int] = {}
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                counts[span.trace_id.hex()] = counts.get(span.trace_id.hex(), 0) + 1
    return counts


def post_fresh(server: ServerProcess, body: bytes,
                             headers: dict[str, str]) -> httpx.Response:
    """POST to /v1/traces on a new connection, so either process (--workers) may accept it."""
    return httpx.post(server.otlp_http_url + "/v1/traces", content=body,
                      headers={**headers, "Connection": "close"}, timeout=10)


def acknowledged_around(server: ServerProcess, action: Callable[[], object], *, senders: int,
                        min_traces: int, warm_up_s: float = 0.0,
                        new_connection_each: bool = False) -> dict[str, int]:
    """Spans per trace id of every request the server acknowledged while ``senders``
    threads posted 3-trace requests around ``action()``.

    ``action`` runs, while requests are in flight, after ``warm_up_s`` and once more
    than ``min_traces`` traces are acknowledged (or 30 s later: a loaded machine
    acknowledges slowly). Each sender keeps one connection, or with
    ``new_connection_each`` opens one per request (either process may accept it)."""
    acknowledged: dict[str, int] = {}
    stop = threading.Event()

    def send_until_stopped(seed: int) -> None:
        with httpx.Client(timeout=10) as client:
            i = 0
            while not stop.is_set():
                request = sample_request(3, seed=seed * 100_000 + i)
                i += 1
                body = request.SerializeToString()
                try:
                    answer = (post_fresh(server, body, PROTOBUF) if new_connection_each
                              else client.post(server.otlp_http_url + "/v1/traces", content=body,
                                               headers=PROTOBUF))
                except httpx.HTTPError:
                    continue  # the receiving process died mid-request: not acknowledged
                if answer.status_code == 200:
                    acknowledged.update(span_counts(request))

    threads = [threading.Thread(target=send_until_stopped, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    time.sleep(warm_up_s)
    deadline = time.monotonic() + 30
    while len(acknowledged) <= min_traces and time.monotonic() < deadline:
        time.sleep(0.1)
    action()
    stop.set()
    for thread in threads:
        thread.join()
    return acknowledged
