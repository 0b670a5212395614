"""Background deletion of data older than the retention period."""

from __future__ import annotations

import logging
import threading
import time

from traceway.storage.api import Retention
from traceway.telemetry import Telemetry

log = logging.getLogger(__name__)


class RetentionLoop:
    """Every ``interval_s``, delete spans older than ``retention_ns``. Runs on its
    own thread; the store lets writes proceed concurrently."""

    def __init__(self, store: Retention, retention_ns: int, telemetry: Telemetry,
                 interval_s: float = 300.0) -> None:
        self._store = store
        self._retention_ns = retention_ns
        self._telemetry = telemetry
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traceway-retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def run_once(self) -> int:
        deleted = self._store.delete_before(time.time_ns() - self._retention_ns)
        self._telemetry.retention_deleted.inc(deleted)
        if deleted:
            log.info("retention deleted %d spans", deleted)
        return deleted

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.run_once()
            except Exception:
                log.exception("retention run failed; will retry")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
