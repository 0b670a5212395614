"""The storage suites on the ClickHouse backend: chdb always, a server when
TRACEWAY_CLICKHOUSE_URL is set (see conftest.py)."""

from pathlib import Path

import pytest

from traceway.storage.conformance import StorageConformance
from traceway.storage.jaeger_corpus import JaegerCorpusConformance

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"


class TestClickHouseStore(StorageConformance):
    @pytest.fixture
    def store(self, clickhouse_store):
        return clickhouse_store

    @pytest.fixture
    def reopen(self, clickhouse_client, fresh_database):
        from traceway.storage.clickhouse import ClickHouseStore, Location
        from traceway.storage.distinct import DistinctReader

        def reopen(old):
            # The client is shared (one chdb engine per process): a new store
            # on the same tables is what a restarted process sees.
            return DistinctReader(ClickHouseStore(clickhouse_client, Location(database=fresh_database)))

        return reopen


class TestClickHouseStoreJaegerCorpus(JaegerCorpusConformance):
    corpus_dir = FIXTURES / "jaeger-storage-integration"

    @pytest.fixture
    def store(self, clickhouse_store):
        return clickhouse_store


def test_a_replayed_spool_inserts_only_what_clickhouse_lacks(clickhouse_client, clickhouse_store,
                                                           fresh_database, tmp_path):
    """A collector killed after inserting a batch but before its spool segment
    went replays the segment at start: those spans are not stored twice."""
    from traceway.pipeline.quarantine import Quarantine
    from traceway.pipeline.spool import Spool
    from traceway.pipeline.spooled import drain_spool
    from traceway.storage.testspans import batch_of, make_span
    from traceway.telemetry import Telemetry

    t0 = 1_700_000_000 * 10**9
    inserted = batch_of(*(make_span(1, s, start_ns=t0 + s) for s in range(1, 4)))
    not_yet = batch_of(make_span(2, 1, start_ns=t0))
    clickhouse_store.write(inserted)
    spool = Spool(tmp_path / "spool")
    spool.start()
    for batch in (inserted, not_yet):
        spool.append(batch, lambda segment: 1).result()
    spool.close()  # held, so the segment stays on disk as after a crash
    assert drain_spool(tmp_path / "spool", clickhouse_store, Quarantine(None, Telemetry())) == 1
    rows = clickhouse_client.query(
        f"SELECT count(), uniqExact(TraceId, SpanId) FROM `{fresh_database}`.otel_traces").result_rows
    assert rows == [(4, 4)]


def test_a_replayed_spool_restores_lookup_rows_a_kill_cut_off(clickhouse_client, clickhouse_store,
                                                              fresh_database, tmp_path):
    """``kill -9`` between the insert into otel_traces and its views' commits:
    the spans are stored but the lookup table lacks their trace. Replaying the
    spool must make the trace readable by id again (it was invisible before)."""
    from traceway.pipeline.quarantine import Quarantine
    from traceway.pipeline.spool import Spool
    from traceway.pipeline.spooled import drain_spool
    from traceway.storage.testspans import batch_of, make_span
    from traceway.telemetry import Telemetry

    t0 = 1_700_000_000 * 10**9
    inserted = batch_of(*(make_span(1, s, start_ns=t0 + s * 10**9) for s in range(1, 4)))
    clickhouse_store.write(inserted)
    for table in ("otel_traces_trace_id_ts", "otel_traces_trace_keys", "otel_traces_operations"):
        clickhouse_client.command(f"TRUNCATE TABLE `{fresh_database}`.{table}")
    assert not len(clickhouse_store.get_trace(inserted.trace_id[0]))
    spool = Spool(tmp_path / "spool")
    spool.start()
    spool.append(inserted, lambda segment: 1).result()
    spool.close()
    assert drain_spool(tmp_path / "spool", clickhouse_store, Quarantine(None, Telemetry())) == 0
    assert len(clickhouse_store.get_trace(inserted.trace_id[0])) == 3
    assert clickhouse_store.services() == sorted(set(inserted.service))


def test_a_tail_sampler_restart_repairs_lookup_rows_of_spans_it_kept(clickhouse_client,
                                                                     clickhouse_store,
                                                                     fresh_database, tmp_path):
    """Under tail sampling the stored copy of a kept span carries its policy and
    the spooled copy does not. After a kill -9 that cut the views short, the
    start-up repair must still restore the lookup rows (the trace was invisible,
    or the sampler's next write of it was stored twice)."""
    from traceway.pipeline.spool import Spool
    from traceway.pipeline.spooled import rederive_stored_copies
    from traceway.storage.testspans import batch_of, make_span

    t0 = 1_700_000_000 * 10**9
    received = batch_of(*(make_span(1, s, start_ns=t0 + s * 10**9) for s in range(1, 4)))
    kept = batch_of(*(make_span(1, s, start_ns=t0 + s * 10**9,
                                attributes={"sampling.policy": "all"}) for s in range(1, 4)))
    clickhouse_store.write(kept)
    for table in ("otel_traces_trace_id_ts", "otel_traces_trace_keys", "otel_traces_operations"):
        clickhouse_client.command(f"TRUNCATE TABLE `{fresh_database}`.{table}")
    spool = Spool(tmp_path / "spool")
    spool.start()
    spool.append(received, lambda segment: 1).result()
    spool.close()
    rederive_stored_copies(tmp_path / "spool", clickhouse_store)
    assert len(clickhouse_store.get_trace(kept.trace_id[0])) == 3
    clickhouse_store.write(kept)  # the sampler keeps the trace again
    rows = clickhouse_client.query(f"SELECT count() FROM `{fresh_database}`.otel_traces").result_rows
    assert rows == [(3,)]
    assert len(Spool(tmp_path / "spool").existing_segments()) == 1  # left for the sampler


def test_a_span_written_again_is_stored_and_counted_once(clickhouse_client, clickhouse_store,
                                                         fresh_database):
    """A retried write, an overlapping one and a batch repeating a span: each
    span is one row in otel_traces and one call in the RED view; a span that
    differs in content is a span of its own."""
    import time

    from traceway.analysis.red import MINUTE_NS, minute_of
    from traceway.storage.testspans import batch_of, make_span

    t0 = time.time_ns() // MINUTE_NS * MINUTE_NS - 10 * MINUTE_NS
    spans = [make_span(1, s, start_ns=t0 + s, service="a") for s in range(1, 4)]
    clickhouse_store.write(batch_of(*spans[:2]))
    clickhouse_store.write(batch_of(*spans[:2]))
    clickhouse_store.write(batch_of(*spans[1:], spans[2]))
    changed = make_span(1, 3, start_ns=t0 + 3, service="a", attributes={"retry": 1})
    clickhouse_store.write(batch_of(changed))
    rows = clickhouse_client.query(f"SELECT count() FROM `{fresh_database}`.otel_traces").result_rows
    assert rows == [(4,)]
    (row,) = clickhouse_store.red(minute_of(t0), minute_of(t0) + MINUTE_NS).rows()
    assert row.calls == 4
