"""ClickHouse outages: which failures to wait out, and waiting them out.

An unreachable server (connection refused, timeouts) and a server that refuses
inserts for a while (disk full, too many parts, memory limit, read-only
replica) are outages: the write retries the same insert (same deduplication
token) with backoff until it lands, and says so in ``problem`` meanwhile. The
write queue behind a stalled write fills up to its bound; the receivers then
answer 503/UNAVAILABLE with Retry-After (not 429), ``/ready`` lists the
problem and ``traceway_write_path_healthy{component="store"}`` is 0. Any
other ClickHouse error (a bad value, say) fails the write at once.

Once ``closed`` is set (SIGTERM: ``stop_waiting``, or ``close``) an outage
fails the write instead: the server stops promptly, and the spans stay in the
spool for the next start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from traceway.storage.api import StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")

_RETRY_FIRST_S, _RETRY_MAX_S = 0.2, 5.0
# Server error codes that pass by themselves.
TRANSIENT_CODES = frozenset({
    159,  # TIMEOUT_EXCEEDED
    164,  # READONLY
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    241,  # MEMORY_LIMIT_EXCEEDED
    242,  # TABLE_IS_READ_ONLY
    243,  # NOT_ENOUGH_SPACE
    252,  # TOO_MANY_PARTS
    319,  # UNKNOWN_STATUS_OF_INSERT
    999,  # KEEPER_EXCEPTION
})


def is_outage(exc: ClickHouseError) -> bool:
    return isinstance(exc, OperationalError) or getattr(exc, "code", None) in TRANSIENT_CODES


class OutageRetry:
    """Runs ClickHouse calls, waiting out outages; ``problem`` says why while one lasts."""

    def __init__(self) -> None:
        self.problem: str | None = None
        self.closed = threading.Event()

    def run(self, attempt: Callable[[], T], what: str) -> T:
        delay = _RETRY_FIRST_S
        while True:
            try:
                result = attempt()
            except ClickHouseError as exc:
                if not is_outage(exc):
                    raise StorageError(f"ClickHouse {what} failed: {exc}") from None
                if self.closed.is_set():
                    raise StorageError(f"ClickHouse unavailable while stopping: {exc}") from None
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                self.problem = f"ClickHouse unavailable: {first_line}"
                log.warning("ClickHouse %s failed, retrying in %.1fs: %s", what, delay, exc)
                self.closed.wait(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
            else:
                if self.problem is not None:
                    log.warning("ClickHouse %s succeeded again after an outage", what)
                self.problem = None
                return result
