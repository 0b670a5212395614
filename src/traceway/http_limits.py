"""Limits every HTTP listener shares: slow and idle connections, descriptors, log floods.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but waits
for ever on a client that opens a connection and sends nothing, or sends its
headers or body a byte at a time: 500 such connections per port exhausted the
process's descriptors. ``SlowClientTimeouts`` closes a connection whose
request headers are not complete ``HEADER_TIMEOUT_S`` after its first byte
(or after the connection opened), or whose body stops arriving for
``BODY_IDLE_TIMEOUT_S``. ``raise_descriptor_limit`` lifts the soft limit on
open files to the hard one at start-up (Go's runtime does the same), and
``RateLimitedLoopErrors`` keeps a flood of identical event-loop errors to one
line per interval.

When descriptors do run out, asyncio's accept loop (CPython 3.11-3.13) goes on
calling ``accept`` up to ``backlog`` times after the first EMFILE, logging and
scheduling a retry for each: with uvicorn's backlog of 2,048 that is thousands
of log lines and timers a second. ``OneAcceptPerWakeup`` accepts one connection
per readiness event instead (the selector reports the socket again at once
while more are waiting), so an EMFILE costs one retry a second.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

HEADER_TIMEOUT_S = 10.0
BODY_IDLE_TIMEOUT_S = 30.0
_MAX_DESCRIPTORS = 1 << 20


class SlowClientTimeouts(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body read timeouts."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(HEADER_TIMEOUT_S)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(HEADER_TIMEOUT_S)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(BODY_IDLE_TIMEOUT_S)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._arm(BODY_IDLE_TIMEOUT_S)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


class OneAcceptPerWakeup(asyncio.SelectorEventLoop):
    """The event loop ``traceway serve`` runs on; see the module docstring."""

    def _accept_connection(self, protocol_factory: Any, sock: Any, sslcontext: Any = None,
                           server: Any = None, backlog: int = 100, *rest: Any) -> None:
        super()._accept_connection(  # type: ignore[misc]
            protocol_factory, sock, sslcontext, server, 1, *rest)


def raise_descriptor_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard limit; return the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard if hard != resource.RLIM_INFINITY else _MAX_DESCRIPTORS, _MAX_DESCRIPTORS)
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-files limit above %d: %s", soft, exc)
    return soft


class RateLimitedLoopErrors:
    """An event-loop exception handler: each distinct message at most once per
    ``interval_s``, with a count of the ones held back."""

    def __init__(self, interval_s: float = 10.0) -> None:
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._held_back: dict[str, int] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        key = f"{message}|{type(context.get('exception')).__name__}"
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._held_back[key] = self._held_back.get(key, 0) + 1
            return
        if len(self._last) > 1000:  # many distinct messages: forget old ones
            self._last.clear()
        self._last[key] = now
        held_back = self._held_back.pop(key, 0)
        if held_back:
            context = {**context, "message": f"{message} (and {held_back} more like it "
                                             f"in the last {self.interval_s:g} s)"}
        loop.default_exception_handler(context)
