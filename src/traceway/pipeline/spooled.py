"""Acknowledge once spans are fsynced to the spool; write the store behind it.

Waiting for the store's commit before answering makes every sender wait for a
DuckDB transaction, so with a few connections the server idles between small
commits. Appending to the spool (one ``write`` + ``fdatasync`` for all waiting
requests) is cheaper, and lets the WriteQueue commit large groups at its own
pace. A spool segment is deleted once every batch in it is in the store; at
start-up the server stores whatever the spool still holds (``drain_spool``),
so an acknowledged span survives ``kill -9``. Readers see a span once its
store commit lands, normally within a few milliseconds of the answer.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from pathlib import Path

from traceway.model import SpanBatch
from traceway.pipeline.batcher import WriteQueue
from traceway.pipeline.quarantine import Quarantine, write_isolating
from traceway.pipeline.spool import Spool
from traceway.storage.api import Writer

log = logging.getLogger(__name__)


class SpooledWrites:
    """A Stage: ``submit`` resolves when the batch is on disk in the spool or
    in the store, whichever comes first; it fails only if both fail."""

    def __init__(self, queue: WriteQueue, spool: Spool) -> None:
        self._queue = queue
        self._spool = spool

    def submit(self, batch: SpanBatch) -> Future[None]:
        stored = self._queue.submit(batch)  # raises QueueFullError: nothing accepted
        segments: list[int] = []

        def hold(segment: int) -> int:
            segments.append(segment)
            return 1

        acknowledged: Future[None] = Future()
        outcomes: list[BaseException | None] = []
        lock = threading.Lock()  # the spool's and the writer's threads both settle

        def settle(done: Future[None]) -> None:
            error = done.exception()
            with lock:
                outcomes.append(error)
                if acknowledged.done():
                    return
                if error is None:
                    acknowledged.set_result(None)
                elif len(outcomes) == 2:
                    acknowledged.set_exception(error)

        try:
            spooled = self._spool.append(batch, hold)
        except Exception as exc:  # stopping: the store write alone decides
            log.debug("spool refused a batch: %s", exc)
            with lock:
                outcomes.append(exc)
        else:
            spooled.add_done_callback(settle)

        def release(done: Future[None]) -> None:
            if done.exception() is None:
                self._spool.release(segments)
            settle(done)

        stored.add_done_callback(release)
        return acknowledged


def drain_spool(directory: Path, store: Writer, quarantine: Quarantine) -> int:
    """Store what a previous run left in the spool; return how many spans.

    Batches that reached the store before a crash are written again (readers
    return identical spans once), unless the store can tell which spans it
    already holds (``without_stored``, ClickHouse): then only the rest. Spans
    the store refuses, and records that cannot be decoded, are quarantined:
    the start-up goes on."""
    spool = Spool(directory, quarantine=quarantine)
    spans = 0
    without_stored = getattr(store, "without_stored", None)
    for _, batch in spool.replay():
        if without_stored is not None:
            batch = without_stored(batch)
        write_isolating(store, batch, quarantine)
        spans += len(batch)
    for segment in spool.existing_segments():
        (directory / f"segment-{segment:012d}.spool").unlink()
    return spans
