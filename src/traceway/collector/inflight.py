"""A cap on request bytes held in memory by all receivers at once.

Each request's body (and its decompressed form) is counted from the moment it
is read until its spans are accepted or refused. Past the cap a request is
answered 429 with ``Retry-After`` (gRPC: UNAVAILABLE) before more of it is read,
so eight concurrent 60 MB bodies cannot take the process's memory with them.
One request is always admitted when nothing else is in flight.
"""

from __future__ import annotations

import threading

RETRY_AFTER_SECONDS = 1


class InFlightFullError(Exception):
    """Admitting more bytes would pass the cap; retry after ``retry_after`` seconds."""

    retry_after = RETRY_AFTER_SECONDS


class InFlightBytes:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()  # gRPC and HTTP requests may run on different threads

    def reservation(self) -> Reservation:
        return Reservation(self)

    def _take(self, size: int) -> None:
        with self._lock:
            if self.used and self.used + size > self.limit:
                raise InFlightFullError(
                    f"request bytes in flight at their limit ({self.used >> 20} MiB of "
                    f"{self.limit >> 20} MiB)")
            self.used += size

    def _give_back(self, size: int) -> None:
        with self._lock:
            self.used -= size


class Reservation:
    """The bytes one request holds; ``release`` when its answer is decided."""

    def __init__(self, budget: InFlightBytes) -> None:
        self._budget = budget
        self.size = 0

    def take(self, size: int) -> None:
        """Hold ``size`` more bytes; InFlightFullError (nothing taken) past the cap."""
        self._budget._take(size)
        self.size += size

    def release(self) -> None:
        self._budget._give_back(self.size)
        self.size = 0
