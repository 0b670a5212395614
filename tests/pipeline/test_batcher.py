from __future__ import annotations

import time

import pytest

from traceway.model import SpanBatch
from traceway.pipeline.batcher import QueueClosedError, QueueFullError, WriteQueue
from traceway.storage.memory import GatedMemoryStore, MemoryStore
from traceway.storage.testspans import batch_of, make_span
from traceway.telemetry import Telemetry


def _batch(i: int) -> SpanBatch:
    return batch_of(make_span(i, 1, start_ns=1_700_000_000_000_000_000))


def test_waiting_requests_share_one_commit_and_resolve_after_it():
    store = GatedMemoryStore()
    queue = WriteQueue(store, Telemetry())
    first = queue.submit(_batch(1))  # the writer takes this and blocks on the gate
    deadline = time.monotonic() + 10
    while queue._pending and time.monotonic() < deadline:  # until the writer holds it
        time.sleep(0.001)
    waiting = [queue.submit(_batch(i)) for i in range(2, 12)]
    assert not any(f.done() for f in waiting)
    store.gate.set()
    for future in [first, *waiting]:
        future.result(10)
    assert sum(store.write_sizes) == 11
    assert len(store.write_sizes) <= 3  # grouped, not one commit per request
    assert len(store.get_trace(make_span(5, 1, start_ns=0).trace_id)) == 1
    queue.close()


def test_full_queue_refuses_at_once_and_memory_stays_bounded():
    store = GatedMemoryStore()
    queue = WriteQueue(store, Telemetry(), max_bytes=_batch(1).approx_bytes() * 3)
    queue.submit(_batch(1))
    accepted, refused = 0, 0
    for i in range(2, 50):
        try:
            queue.submit(_batch(i))
            accepted += 1
        except QueueFullError:
            refused += 1
    assert refused > 40 and accepted <= 4
    store.gate.set()
    queue.close()


def test_close_writes_everything_queued_then_refuses():
    store = GatedMemoryStore()
    queue = WriteQueue(store, Telemetry())
    futures = [queue.submit(_batch(i)) for i in range(1, 6)]
    store.gate.set()
    queue.close()
    assert all(f.done() and f.exception() is None for f in futures)
    assert sum(store.write_sizes) == 5
    with pytest.raises(QueueClosedError):
        queue.submit(_batch(9))


def test_a_failed_write_fails_every_waiter():
    class BrokenStore(MemoryStore):
        def write(self, batch):
            raise RuntimeError("disk full")

    queue = WriteQueue(BrokenStore(), Telemetry())
    future = queue.submit(_batch(1))
    with pytest.raises(RuntimeError, match="disk full"):
        future.result(10)
    queue.close()


def test_close_with_a_timeout_says_when_the_writer_is_still_writing():
    store = GatedMemoryStore()
    queue = WriteQueue(store, Telemetry())
    future = queue.submit(_batch(1))
    assert queue.close(timeout_s=0.2) is False  # stuck in the store's write
    assert not future.done()
    store.gate.set()
    assert queue.close() is True
    assert future.result(10) is None
