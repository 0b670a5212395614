import threading
import time

from traceway.pipeline.retention import RetentionLoop
from traceway.storage.duckdb import DuckDBStore
from traceway.storage.testspans import batch_of, make_span
from traceway.telemetry import Telemetry

HOUR_NS = 3_600 * 10**9


def test_retention_deletes_old_spans_while_writes_continue(tmp_path):
    store = DuckDBStore(tmp_path)
    now = time.time_ns()
    old = [make_span(i, 1, start_ns=now - 3 * HOUR_NS, service="old") for i in range(1, 200)]
    store.write(batch_of(*old))
    stop = threading.Event()
    written = []

    def keep_writing():
        i = 1000
        while not stop.is_set():
            store.write(batch_of(make_span(i, 1, start_ns=time.time_ns(), service="new")))
            written.append(i)
            i += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    telemetry = Telemetry()
    try:
        deleted = RetentionLoop(store, 2 * HOUR_NS, telemetry).run_once()
    finally:
        stop.set()
        writer.join()
    assert deleted == len(old)
    assert len(store.get_trace(old[0].trace_id)) == 0
    assert store.services() == ["new"]
    assert len(written) > 0
    for i in written[-5:]:
        assert len(store.get_trace(make_span(i, 1, start_ns=0).trace_id)) == 1
    assert "traceway_retention_deleted_spans_total 199.0" in telemetry.render().decode()
    store.close()
