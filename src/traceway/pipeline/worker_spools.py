"""Receiver workers hand their spans to the one writer through their own spools.

With ``--workers N`` the server runs N-1 receiver processes beside the main one
(``traceway/workers.py``): DuckDB allows one writer process, so only the main
process writes the store. A worker answers a sender once the spans are fsynced
to its own spool, ``<data dir>/spool/worker-K/`` (``WorkerSpoolStage``), and
never deletes a segment. The main process reads every worker's closed segments
(``WorkerSpoolReader``: the spool on disk is the channel, read back from the
page cache, with no pipe in between), submits their batches to its own stage
(the WriteQueue, or the tail sampler, which spools them again) and deletes a
segment once everything in it is durable there.

A segment is closed once a later one exists (a Spool opens the next segment
only after closing the last) or once no process holds the directory's lock: a
worker takes ``lock`` before it opens its spool and holds it until it exits,
kill -9 included, and a worker started again begins a new segment. Whatever a
crash leaves is read at the next start; spans stored twice (consumed, then the
main process died before deleting the segment) are returned once by readers.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from pathlib import Path

from traceway.model import SpanBatch
from traceway.pipeline.batcher import (
    QueueClosedError,
    QueueFullError,
    StageUnavailableError,
    StoreUnavailableError,
)
from traceway.pipeline.quarantine import Quarantine
from traceway.pipeline.spool import Spool

log = logging.getLogger(__name__)

WORKER_DIR = "worker-{}"
_LOCK = "lock"
_BACKLOG_CHECK_S = 0.1
_RETRY_S = 0.02
_FAILED_RETRY_S = 1.0


def worker_directory(spool_root: Path, index: int) -> Path:
    return spool_root / WORKER_DIR.format(index)


def lock_directory(directory: Path, wait: bool) -> int | None:
    """An open descriptor holding ``directory``'s exclusive lock (released when it is
    closed or the process exits), or None if another process holds it and not ``wait``."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / _LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _held_for_the_writer(segment: int) -> int:
    """A worker's segments stay held for ever: the main process deletes them."""
    return 1


class WorkerSpoolStage:
    """A receiver worker's Stage: ``submit`` resolves once the batch is fsynced to the
    worker's spool. It refuses while the writer is more than ``max_backlog_bytes`` of
    segments behind, so a slow store slows the senders rather than filling the disk:
    QueueFullError (429) while the store is busy, StoreUnavailableError (503) while
    ``store_problem`` (the main process tells it) says the store is failing."""

    def __init__(self, spool: Spool, max_backlog_bytes: int) -> None:
        self._spool = spool
        self._max_backlog_bytes = max_backlog_bytes
        self._backlog_bytes = 0
        self._backlog_checked = 0.0
        self.store_problem: str | None = None

    def submit(self, batch: SpanBatch, request: bytes | None = None) -> Future[None]:
        """``request``: the OTLP body ``batch`` is every span of, spooled as it arrived
        (the main process decodes it again, in C when built)."""
        backlog = self._backlog()
        if backlog > self._max_backlog_bytes:
            behind = (f"the writer is {backlog >> 20} MiB behind this receiver "
                      f"(limit {self._max_backlog_bytes >> 20} MiB)")
            problem = self.store_problem
            if problem:
                raise StoreUnavailableError(f"{problem}; {behind}")
            raise QueueFullError(behind)
        return self._spool.append(batch, _held_for_the_writer, request)

    def _backlog(self) -> int:
        now = time.monotonic()
        if now - self._backlog_checked > _BACKLOG_CHECK_S:
            self._backlog_checked = now
            total = 0
            try:
                for entry in os.scandir(self._spool.directory):
                    if entry.name.endswith(".spool"):
                        try:
                            total += entry.stat().st_size
                        except FileNotFoundError:  # the writer just deleted it
                            pass
            except OSError:  # out of descriptors, say: the spool's append says so
                return self._backlog_bytes
            self._backlog_bytes = total
        return self._backlog_bytes


class _Segment:
    """One closed worker segment on its way into the writer's stage."""

    def __init__(self, spool: Spool, number: int) -> None:
        self.spool = spool
        self.number = number
        self.waiting = 0  # batches submitted and not yet durable
        self.read = False  # every batch submitted
        self.failed = False


# A Stage's submit: the batch and the OTLP body it is every span of, if there is one
# (the tail sampler's spool keeps those bytes rather than encoding the batch again).
Submit = Callable[[SpanBatch, bytes | None], Future[None]]


class WorkerSpoolReader:
    """The main process's side: feeds every worker's closed segments to ``submit``
    (the writer's stage) and deletes each once all its batches are durable there.

    ``on_durable(batch)`` runs for every batch once durable (metrics, adaptive
    sampling's root counts). A batch whose write fails is read again later from
    its segment, which stays on disk until then. At most ``max_in_memory_bytes``
    of spans are submitted and not yet durable: the rest waits on disk (when the
    store is slower than the receivers, the workers' backlog grows on disk, not
    here, until they answer 429). The default holds two of the writer's largest
    groups of typical spans: one being written while the next one gathers."""

    def __init__(self, spool_root: Path, submit: Submit, quarantine: Quarantine,
                 on_durable: Callable[[SpanBatch], None], poll_s: float = 0.01,
                 max_in_memory_bytes: int = 160 << 20) -> None:
        self._root = spool_root
        self._submit = submit
        self._quarantine = quarantine
        self._on_durable = on_durable
        self._poll_s = poll_s
        self._spools: dict[Path, Spool] = {}
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._in_memory_bytes = 0
        self._max_in_memory_bytes = max_in_memory_bytes
        self._segments: dict[tuple[Path, int], _Segment] = {}
        self._retry_after: dict[tuple[Path, int], float] = {}
        self._failed_writes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="traceway-worker-spools",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                consumed = self.consume_closed(self._stop.is_set)
            except QueueClosedError:
                return
            except OSError as exc:  # a vanished directory, EIO: try again
                log.error("reading the receiver workers' spools: %s", exc)
                consumed = 0
            if not consumed:
                self._stop.wait(self._poll_s)

    def consume_closed(self, give_up: Callable[[], bool] = lambda: False) -> int:
        """Submit every closed segment not yet submitted; return how many.

        Raises QueueClosedError once ``give_up()`` is true while waiting for room
        in the writer's queue: the segment then stays on disk, read again later."""
        count = 0
        for directory in sorted(self._root.glob(WORKER_DIR.format("*"))):
            for number in self._closed_segments(directory):
                key = (directory, number)
                with self._lock:
                    if key in self._segments or self._retry_after.get(key, 0) > time.monotonic():
                        continue
                    segment = self._segments[key] = _Segment(self._spools[directory], number)
                self._consume(segment, give_up)
                count += 1
        return count

    def _closed_segments(self, directory: Path) -> list[int]:
        spool = self._spools.get(directory)
        if spool is None:
            spool = self._spools[directory] = Spool(directory, quarantine=self._quarantine)
        numbers = spool.existing_segments()
        if not numbers:
            return []
        fd = lock_directory(directory, wait=False)
        if fd is None:
            return numbers[:-1]  # a worker appends to the last one
        os.close(fd)  # no worker: all closed, and a worker starting now opens a new one
        return numbers

    def _consume(self, segment: _Segment, give_up: Callable[[], bool]) -> None:
        try:
            for batch, request in segment.spool.read(segment.number):
                size = batch.approx_bytes()
                future = self._submit_patiently(batch, request, size, give_up)
                with self._lock:
                    segment.waiting += 1
                future.add_done_callback(partial(self._settle, segment, batch, size))
        except FileNotFoundError:
            pass  # an empty segment its worker closed and deleted (it holds nothing)
        except BaseException:
            with self._lock:  # read it again later (what was submitted is returned once)
                segment.failed = True
                segment.read = True
            self._maybe_finish(segment)
            raise
        with self._lock:
            segment.read = True
        self._maybe_finish(segment)

    def _submit_patiently(self, batch: SpanBatch, request: bytes | None, size: int,
                          give_up: Callable[[], bool]) -> Future[None]:
        """Submit once there is room, waiting while the writer's queue is full (a
        store outage can make that last); QueueClosedError when stopping or once
        ``give_up()`` is true."""
        with self._room:
            # An oversized batch still goes alone.
            while self._in_memory_bytes and self._in_memory_bytes + size > self._max_in_memory_bytes:
                if give_up():
                    raise QueueClosedError("stopping: the rest waits in the workers' spools")
                self._room.wait(_RETRY_S)
            self._in_memory_bytes += size
        while True:
            try:
                return self._submit(batch, request)
            except (QueueFullError, StageUnavailableError):
                if give_up():
                    self._release_room(size)
                    raise QueueClosedError("stopping: the rest waits in the workers' spools") from None
                time.sleep(_RETRY_S)
            except BaseException:
                self._release_room(size)
                raise

    def _release_room(self, size: int) -> None:
        with self._room:
            self._in_memory_bytes -= size
            self._room.notify_all()

    def _settle(self, segment: _Segment, batch: SpanBatch, size: int,
                done: Future[None]) -> None:
        self._release_room(size)
        error = done.exception()
        with self._lock:
            segment.waiting -= 1
            first_failure = error is not None and not segment.failed
            if error is not None:
                segment.failed = True
                self._failed_writes += 1
        if error is None:
            self._on_durable(batch)
        elif first_failure and not self._stop.is_set():  # a stop logs what it leaves
            log.warning("worker segment %d: a write failed (%s); it is read again later",
                        segment.number, error)
        self._maybe_finish(segment)

    def _maybe_finish(self, segment: _Segment) -> None:
        key = (segment.spool.directory, segment.number)
        with self._lock:
            if not segment.read or segment.waiting:
                return
            if self._segments.get(key) is not segment:
                return
            if segment.failed:  # read it again (its stored batches are returned once)
                self._retry_after[key] = time.monotonic() + _FAILED_RETRY_S
            else:
                self._retry_after.pop(key, None)
                # Under the lock: a poll must not see the file once the key is gone.
                segment.spool.discard(segment.number)
            del self._segments[key]

    def pending(self) -> int:
        """Segments submitted and not yet durable and deleted."""
        with self._lock:
            return len(self._segments)

    def drain(self, timeout_s: float = 60.0) -> bool:
        """Consume every segment of every worker directory (call it when no worker runs)
        and wait until all are durable and deleted. False, leaving the rest on disk for
        the next start, if that takes over ``timeout_s`` or a write fails (a store that
        fails now, at a start or a stop, is not retried here)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._retry_after.clear()  # a segment given up on by close() is read now
            failed_before = self._failed_writes
        while time.monotonic() < deadline and self._failed_writes == failed_before:
            try:
                self.consume_closed(lambda: time.monotonic() >= deadline)
            except QueueClosedError:
                return False
            if not self.pending() and not any(
                    self._root.glob(WORKER_DIR.format("*") + "/segment-*.spool")):
                return True
            time.sleep(self._poll_s)
        return False

    def close(self) -> None:
        """Stop the polling thread; a segment it was submitting stays on disk (``drain``
        or the next start reads it)."""
        self._stop.set()
        with self._room:
            self._room.notify_all()
        if self._thread is not None:
            self._thread.join()
