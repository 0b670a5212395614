"""A span the store refuses never fails the group commit it shares (real DuckDB)."""

from __future__ import annotations

import json

from traceway.pipeline.batcher import WriteQueue
from traceway.pipeline.quarantine import Quarantine, write_isolating
from traceway.storage.duckdb import DuckDBStore
from traceway.storage.testspans import batch_of, make_span
from traceway.telemetry import Telemetry

T0 = 1_700_000_000_000_000_000


def test_group_commit_stores_every_span_but_the_refused_one(tmp_path):
    store = DuckDBStore(tmp_path / "db")
    telemetry = Telemetry()
    quarantine = Quarantine(tmp_path / "quarantine", telemetry)
    queue = WriteQueue(store, telemetry, quarantine=quarantine, linger_s=0.05)
    good = [make_span(n, 1, start_ns=T0) for n in range(1, 40)]
    poison = make_span(99, 1, start_ns=T0, kind=300)
    futures = [queue.submit(batch_of(span)) for span in good[:20]]
    futures.append(queue.submit(batch_of(*good[20:30], poison, *good[30:])))
    for future in futures:
        future.result(30)  # no request fails because of its neighbour
    queue.close()
    assert all(len(store.get_trace(span.trace_id)) == 1 for span in good)
    assert len(store.get_trace(poison.trace_id)) == 0
    (line,) = (tmp_path / "quarantine" / "spans.jsonl").read_text().splitlines()
    assert json.loads(line)["trace_id"] == poison.trace_id.hex()
    assert telemetry.spans_quarantined.labels("store_rejected")._value.get() == 1
    store.close()


def test_isolation_finds_every_refused_span(tmp_path):
    store = DuckDBStore(tmp_path / "db")
    quarantine = Quarantine(None, Telemetry())
    spans = [make_span(n, 1, start_ns=T0, kind=300 if n % 7 == 0 else 1,
                       status_code=999 if n == 10 else 0) for n in range(1, 50)]
    assert write_isolating(store, batch_of(*spans), quarantine) == 8
    stored = sum(len(store.get_trace(span.trace_id)) for span in spans)
    assert stored == 49 - 8
    store.close()
