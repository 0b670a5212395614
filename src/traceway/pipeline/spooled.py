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
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from pathlib import Path

from traceway.model import SpanBatch
from traceway.pipeline.batcher import (
    MAX_BATCH_SPANS,
    QueueClosedError,
    QueueFullError,
    StageUnavailableError,
    WriteQueue,
)
from traceway.pipeline.quarantine import Quarantine, write_isolating
from traceway.pipeline.spool import Spool
from traceway.storage.api import Writer

log = logging.getLogger(__name__)

_RETRY_MIN_S = 0.5
_RETRY_MAX_S = 10.0


class SpooledWrites:
    """A Stage: ``submit`` resolves when the batch is on disk in the spool or
    in the store, whichever comes first; it fails only if both fail.

    A batch acknowledged from the spool whose store write then failed (disk
    full, say) is written again, with backoff, until it is stored or the server
    stops (then the next start stores it from the spool)."""

    def __init__(self, queue: WriteQueue, spool: Spool) -> None:
        self._queue = queue
        self._spool = spool

    def submit(self, batch: SpanBatch, request: bytes | None = None) -> Future[None]:
        if not self._spool.available:
            raise StageUnavailableError(f"{self._spool.problem}; retry later")
        stored = self._queue.submit(batch)  # raises QueueFullError: nothing accepted
        segments: list[int] = []

        def hold(segment: int) -> int:
            segments.append(segment)
            return 1

        acknowledged: Future[None] = Future()
        outcomes: dict[str, BaseException | None] = {}
        lock = threading.Lock()  # the spool's and the writer's threads both settle

        def settle(source: str, error: BaseException | None) -> None:
            with lock:
                outcomes[source] = error
                if not acknowledged.done():
                    if error is None:
                        acknowledged.set_result(None)
                    elif len(outcomes) == 2:
                        acknowledged.set_exception(error)
                retry = (len(outcomes) == 2 and outcomes["spool"] is None
                         and outcomes["store"] is not None)
            if retry:
                log.debug("store write failed after the spool acknowledged %d spans; "
                            "retrying in the background", len(batch))
                self._retry_later(batch, segments, _RETRY_MIN_S)

        try:
            spooled = self._spool.append(batch, hold, request)
        except Exception as exc:  # stopping: the store write alone decides
            log.debug("spool refused a batch: %s", exc)
            settle("spool", exc)
        else:
            spooled.add_done_callback(lambda done: settle("spool", done.exception()))

        def release(done: Future[None]) -> None:
            if done.exception() is None:
                self._spool.release(segments)
            settle("store", done.exception())

        stored.add_done_callback(release)
        return acknowledged

    def _retry_later(self, batch: SpanBatch, segments: list[int], delay_s: float) -> None:
        timer = threading.Timer(delay_s, self._retry, (batch, segments, delay_s))
        timer.daemon = True
        timer.start()

    def _retry(self, batch: SpanBatch, segments: list[int], delay_s: float) -> None:
        next_delay_s = min(delay_s * 2, _RETRY_MAX_S)
        try:
            stored = self._queue.submit(batch)
        except QueueClosedError:
            return  # stopping: the spool keeps the batch for the next start
        except QueueFullError:
            self._retry_later(batch, segments, next_delay_s)
            return

        def done(future: Future[None]) -> None:
            if future.exception() is None:
                self._spool.release(segments)
                log.debug("stored %d spans on a retry after a failed write", len(batch))
            else:
                self._retry_later(batch, segments, next_delay_s)

        stored.add_done_callback(done)


def drain_spool(directory: Path, store: Writer, quarantine: Quarantine) -> int:
    """Store what a previous run left in the spool; return how many spans.

    Records are written in groups of up to ``MAX_BATCH_SPANS`` spans, the
    WriteQueue's largest group: a spool that backed up during an outage is a few
    large writes, not one small insert (one ClickHouse part) per request.
    Batches that reached the store before a crash are written again (readers
    return identical spans once), unless the store can tell which spans it
    already holds (``replay_remainder``, ClickHouse): then only the rest. Spans
    the store refuses, and records that cannot be decoded, are quarantined:
    the start-up goes on."""
    spool = Spool(directory, quarantine=quarantine)
    spans = 0
    replay_remainder = getattr(store, "replay_remainder", None)
    for group in _groups(batch for _, batch in spool.replay()):
        if replay_remainder is not None:
            group = replay_remainder(group)
        write_isolating(store, group, quarantine)
        spans += len(group)
    for segment in spool.existing_segments():
        (directory / f"segment-{segment:012d}.spool").unlink()
    return spans


def rederive_stored_copies(directory: Path, store: Writer) -> None:
    """Before a tail sampler holds again what an earlier run spooled: let a store
    that can tell which spans it already holds (``replay_remainder``, ClickHouse)
    repair what a ``kill -9`` cut short. Without it, spans whose insert committed
    but whose lookup rows did not were stored a second time once their trace was
    kept again (a write's copy check looks only at traces the lookup table knows).
    The remainder is not written here: the spool's records stay for the sampler's
    own replay, and its writes then find the stored copies."""
    replay_remainder = getattr(store, "replay_remainder", None)
    if replay_remainder is None:
        return
    spool = Spool(directory)  # never started: nothing is appended or deleted
    for group in _groups(batch for _, batch in spool.replay()):
        replay_remainder(group)


def _groups(batches: Iterable[SpanBatch]) -> Iterator[SpanBatch]:
    """``batches`` joined in order into groups of at most MAX_BATCH_SPANS spans
    (a larger batch is a group of its own)."""
    group: list[SpanBatch] = []
    spans = 0
    for batch in batches:
        if group and spans + len(batch) > MAX_BATCH_SPANS:
            yield SpanBatch.concat(group)
            group, spans = [], 0
        group.append(batch)
        spans += len(batch)
    if group:
        yield SpanBatch.concat(group)
