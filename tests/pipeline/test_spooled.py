import time

from traceway.pipeline.batcher import WriteQueue
from traceway.pipeline.quarantine import Quarantine
from traceway.pipeline.spool import Spool
from traceway.pipeline.spooled import SpooledWrites, drain_spool
from traceway.storage.memory import GatedMemoryStore, MemoryStore
from traceway.storage.testspans import batch_of, make_span
from traceway.telemetry import Telemetry
from traceway.testing import wait_until

T0 = 1_700_000_000_000_000_000


def test_acknowledged_from_the_spool_before_the_store_commits_and_survives_a_crash(tmp_path):
    store = GatedMemoryStore()
    queue = WriteQueue(store, Telemetry())
    spool = Spool(tmp_path / "spool", segment_age_s=60)
    spool.start()
    ack = SpooledWrites(queue, spool).submit(batch_of(make_span(1, 1, start_ns=T0)))
    ack.result(10)  # answered although the store is stuck
    assert len(store.get_trace(make_span(1, 1, start_ns=T0).trace_id)) == 0
    # "kill -9": nothing else runs; the next start drains the spool into the store
    recovered = MemoryStore()
    assert drain_spool(tmp_path / "spool", recovered, Quarantine(None, Telemetry())) == 1
    assert len(recovered.get_trace(make_span(1, 1, start_ns=T0).trace_id)) == 1
    assert not list((tmp_path / "spool").glob("*.spool"))
    store.gate.set()
    queue.close()
    spool.close()


def test_spool_segments_go_once_their_spans_are_in_the_store(tmp_path):
    store = MemoryStore()
    queue = WriteQueue(store, Telemetry())
    spool = Spool(tmp_path / "spool", segment_age_s=0.05)
    spool.start()
    stage = SpooledWrites(queue, spool)
    for i in range(1, 20):
        stage.submit(batch_of(make_span(i, 1, start_ns=T0))).result(10)
        time.sleep(0.01)
    wait_until(lambda: len(list((tmp_path / "spool").glob("*.spool"))) <= 1)
    queue.close()
    spool.close()
    assert not list((tmp_path / "spool").glob("*.spool"))
    assert all(len(store.get_trace(make_span(i, 1, start_ns=T0).trace_id)) == 1
               for i in range(1, 20))


def test_a_spool_replays_in_large_writes_not_one_per_request(tmp_path):
    """A spool that backed up during a store outage is replayed as a few large
    writes (one ClickHouse part each), not one write per acknowledged request."""
    spool = Spool(tmp_path / "spool", segment_age_s=60)
    spool.start()
    for i in range(1, 101):
        spool.append(batch_of(make_span(i, 1, start_ns=T0)), lambda segment: 1).result(10)
    spool.close()
    recovered = GatedMemoryStore()
    recovered.gate.set()
    assert drain_spool(tmp_path / "spool", recovered, Quarantine(None, Telemetry())) == 100
    assert recovered.write_sizes == [100]
    assert all(len(recovered.get_trace(make_span(i, 1, start_ns=T0).trace_id)) == 1
               for i in range(1, 101))
