"""A tiny in-memory message queue over HTTP: the demo's broker.

It is infrastructure, not a traced service: messages carry the producer's
trace context in their ``headers`` and the broker passes them along untouched.
``POST /publish {"queue", "id", "headers", "body"}``; ``POST /poll {"queue", "wait_s"}``
answers the oldest message or ``{}`` after waiting.
"""

from __future__ import annotations

import collections
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class MessageQueue:
    def __init__(self) -> None:
        self._queues: dict[str, collections.deque[dict[str, Any]]] = collections.defaultdict(collections.deque)
        self._ready = threading.Condition()

    def publish(self, message: dict[str, Any]) -> None:
        with self._ready:
            self._queues[message.get("queue", "default")].append(message)
            self._ready.notify_all()

    def poll(self, queue: str, wait_s: float) -> dict[str, Any]:
        with self._ready:
            self._ready.wait_for(lambda: bool(self._queues[queue]), timeout=min(wait_s, 5.0))
            return self._queues[queue].popleft() if self._queues[queue] else {}

    def serve(self, port: int = 0) -> ThreadingHTTPServer:
        broker = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0) or 0)) or b"{}")
                if self.path == "/publish":
                    broker.publish(request)
                    answer: dict[str, Any] = {"ok": True}
                elif self.path == "/poll":
                    answer = broker.poll(request.get("queue", "default"), float(request.get("wait_s", 1.0)))
                else:
                    self.send_error(404)
                    return
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
        return server
