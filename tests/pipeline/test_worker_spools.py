"""A receiver worker's spool read by the writer: closed segments stored, then deleted."""

import os
import threading
import time

import pytest

from traceway.pipeline.batcher import QueueFullError, WriteQueue
from traceway.pipeline.quarantine import Quarantine
from traceway.pipeline.spool import Spool
from traceway.pipeline.worker_spools import (
    WorkerSpoolReader,
    WorkerSpoolStage,
    lock_directory,
    worker_directory,
)
from traceway.storage.distinct import distinct_spans
from traceway.storage.memory import GatedMemoryStore, MemoryStore
from traceway.storage.testspans import batch_of, make_span
from traceway.telemetry import Telemetry
from traceway.testing import wait_until

T0 = 1_700_000_000_000_000_000


def _span(n):
    return make_span(n, 1, start_ns=T0 + n)


def _segments(directory):
    return sorted(directory.glob("segment-*.spool"))


def _worker_spool(root, index=1, **kwargs):
    """What a worker process sets up: its directory's lock, then its spool."""
    directory = worker_directory(root, index)
    lock = lock_directory(directory, wait=True)
    spool = Spool(directory, **kwargs)
    spool.start()
    return lock, spool


def _reader(root, store, stored=None):
    queue = WriteQueue(store, Telemetry())
    reader = WorkerSpoolReader(root, queue.submit, Quarantine(None, Telemetry()),
                               (stored if stored is not None else []).append)
    return queue, reader


def test_closed_segments_are_stored_and_deleted_the_open_one_waits_for_its_worker(tmp_path):
    lock, spool = _worker_spool(tmp_path, segment_age_s=60)
    stage = WorkerSpoolStage(spool, max_backlog_bytes=1 << 30)
    stage.submit(batch_of(_span(1))).result(10)
    store = MemoryStore()
    stored = []
    queue, reader = _reader(tmp_path, store, stored)
    assert reader.consume_closed() == 0  # the worker is appending to its only segment
    assert len(store.get_trace(_span(1).trace_id)) == 0
    spool.close()
    os.close(lock)  # the worker exits
    assert reader.drain(10)
    assert len(store.get_trace(_span(1).trace_id)) == 1
    assert sum(map(len, stored)) == 1
    assert not _segments(worker_directory(tmp_path, 1))
    queue.close()


def test_a_rotated_segment_is_stored_while_its_worker_runs(tmp_path):
    lock, spool = _worker_spool(tmp_path, segment_age_s=0.05)
    stage = WorkerSpoolStage(spool, max_backlog_bytes=1 << 30)
    stage.submit(batch_of(_span(1))).result(10)
    store = MemoryStore()
    queue, reader = _reader(tmp_path, store)
    reader.start()
    wait_until(lambda: len(store.get_trace(_span(1).trace_id)) == 1)
    wait_until(lambda: not any(p.stat().st_size for p in _segments(spool.directory)))
    reader.close()
    spool.close()
    os.close(lock)
    queue.close()


def test_a_worker_killed_mid_segment_loses_nothing_it_acknowledged(tmp_path):
    """kill -9: no close(); the lock goes with the process; a torn tail is never acknowledged."""
    lock, spool = _worker_spool(tmp_path, segment_age_s=60)
    stage = WorkerSpoolStage(spool, max_backlog_bytes=1 << 30)
    for n in range(1, 4):
        stage.submit(batch_of(_span(n))).result(10)
    [segment] = _segments(spool.directory)
    with open(segment, "ab") as torn:
        torn.write(b"\x40\x00\x00\x00\x01\x02")  # a record cut short by the kill
    os.close(lock)
    store = MemoryStore()
    queue, reader = _reader(tmp_path, store)
    assert reader.drain(10)
    assert [len(store.get_trace(_span(n).trace_id)) for n in range(1, 4)] == [1, 1, 1]
    queue.close()


def test_a_failed_store_write_keeps_the_segment_until_it_is_stored(tmp_path):
    lock, spool = _worker_spool(tmp_path, segment_age_s=60)
    WorkerSpoolStage(spool, 1 << 30).submit(batch_of(_span(1))).result(10)
    spool.close()
    os.close(lock)

    class FlakyStore(MemoryStore):
        failures = 1

        def write(self, batch):
            if self.failures:
                self.failures -= 1
                raise OSError("disk full")
            super().write(batch)

    store = FlakyStore()
    queue, reader = _reader(tmp_path, store)
    reader.consume_closed()
    wait_until(lambda: reader.pending() == 0)
    assert _segments(spool.directory), "deleted although its spans were not stored"
    assert reader.drain(10)
    assert len(store.get_trace(_span(1).trace_id)) == 1
    queue.close()


def test_a_worker_refuses_spans_while_the_writer_is_far_behind(tmp_path):
    lock, spool = _worker_spool(tmp_path, segment_age_s=60)
    stage = WorkerSpoolStage(spool, max_backlog_bytes=1)
    stage.submit(batch_of(_span(1))).result(10)
    time.sleep(0.15)  # the backlog is measured every 0.1 s
    with pytest.raises(QueueFullError):
        stage.submit(batch_of(_span(2)))
    spool.close()
    os.close(lock)


def test_the_writer_waits_for_room_in_its_queue(tmp_path):
    lock, spool = _worker_spool(tmp_path, segment_age_s=60)
    stage = WorkerSpoolStage(spool, max_backlog_bytes=1 << 30)
    for n in range(1, 6):
        stage.submit(batch_of(_span(n))).result(10)
    spool.close()
    os.close(lock)
    store = GatedMemoryStore()
    queue = WriteQueue(store, Telemetry(), max_bytes=1)  # one batch at a time
    reader = WorkerSpoolReader(tmp_path, queue.submit, Quarantine(None, Telemetry()),
                               lambda batch: None)
    reader.start()
    time.sleep(0.2)
    assert _segments(spool.directory)
    store.gate.set()
    wait_until(lambda: not _segments(spool.directory))
    assert [len(store.get_trace(_span(n).trace_id)) for n in range(1, 6)] == [1] * 5
    reader.close()
    queue.close()


def test_a_request_body_spooled_as_it_arrived_is_decoded_by_the_writer(tmp_path):
    from traceway.convert.otlp import spans_from_otlp_proto
    from traceway.sample import sample_request

    body = sample_request(2, seed=4).SerializeToString()
    decoded = spans_from_otlp_proto(body)
    lock, spool = _worker_spool(tmp_path, segment_age_s=60)
    WorkerSpoolStage(spool, 1 << 30).submit(decoded.batch, decoded.request).result(10)
    spool.close()
    os.close(lock)
    [segment] = _segments(spool.directory)
    assert body in segment.read_bytes()  # no columns encoded on the worker's path
    store = MemoryStore()
    queue, reader = _reader(tmp_path, store)
    assert reader.drain(10)
    for trace_id in set(decoded.batch.trace_id):
        assert len(store.get_trace(trace_id)) == decoded.batch.trace_id.count(trace_id)
    queue.close()


def test_the_writers_own_spool_keeps_a_worker_request_as_it_arrived(tmp_path):
    """Under tail sampling the writer's stage spools what the workers spooled again:
    it gets the body, so it writes those bytes instead of encoding the columns."""
    from traceway.convert.otlp import spans_from_otlp_proto
    from traceway.sample import sample_request

    body = sample_request(2, seed=5).SerializeToString()
    decoded = spans_from_otlp_proto(body)
    lock, spool = _worker_spool(tmp_path / "spool", segment_age_s=60)
    WorkerSpoolStage(spool, 1 << 30).submit(decoded.batch, decoded.request).result(10)
    spool.close()
    os.close(lock)
    writers = Spool(tmp_path / "writer", segment_age_s=60)
    writers.start()
    reader = WorkerSpoolReader(tmp_path / "spool",
                               lambda batch, request: writers.append(batch, lambda _: 1, request),
                               Quarantine(None, Telemetry()), lambda batch: None)
    assert reader.drain(10)
    writers.close()
    [segment] = _segments(tmp_path / "writer")
    assert body in segment.read_bytes()
    assert [len(batch) for batch, _ in writers.read(0)] == [len(decoded.batch)]


def _spooled_by_a_stopped_worker(root, count):
    lock, spool = _worker_spool(root, segment_age_s=60)
    stage = WorkerSpoolStage(spool, max_backlog_bytes=1 << 30)
    for n in range(1, count + 1):
        stage.submit(batch_of(_span(n))).result(10)
    spool.close()
    os.close(lock)
    return spool.directory


def test_close_does_not_wait_for_room_behind_a_stuck_store(tmp_path):
    """SIGTERM during a store outage: the reader stops although the writer's queue
    stays full; the segment it was reading stays on disk and is stored later."""
    directory = _spooled_by_a_stopped_worker(tmp_path, 5)
    store = GatedMemoryStore()
    queue = WriteQueue(store, Telemetry(), max_bytes=1)  # full after one batch
    reader = WorkerSpoolReader(tmp_path, queue.submit, Quarantine(None, Telemetry()),
                               lambda batch: None)
    reader.start()
    time.sleep(0.3)  # the writer holds one batch, the reader waits for room
    closing = threading.Thread(target=reader.close)
    closing.start()
    closing.join(5)
    assert not closing.is_alive(), "close() waited for the stuck store"
    assert _segments(directory)
    store.gate.set()
    assert reader.drain(10)
    # The batch stored before the close is read again with its segment: stored twice,
    # returned once.
    assert [len(distinct_spans(store.get_trace(_span(n).trace_id))) for n in range(1, 6)] == [1] * 5
    queue.close()


def test_drain_stops_at_a_failed_write_and_leaves_the_segment(tmp_path):
    """A store that fails at a stop is not retried until the drain's timeout: what
    is left waits on disk for the next start."""
    directory = _spooled_by_a_stopped_worker(tmp_path, 2)

    class BrokenStore(MemoryStore):
        def write(self, batch):
            raise OSError("disk full")

    queue, reader = _reader(tmp_path, BrokenStore())
    started = time.monotonic()
    assert reader.drain(60) is False
    assert time.monotonic() - started < 30, "the drain retried a failing store until its timeout"
    assert _segments(directory)
    queue.close()
