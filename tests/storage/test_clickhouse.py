"""The storage suites on the ClickHouse backend: chdb always, a server when
TRACEWAY_CLICKHOUSE_URL is set (see conftest.py)."""

import time
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
    spool must restore its rows: the exporter's readers (Grafana) find traces
    through it, the service list comes from the operations view, and a write's
    copy check looks only at traces it knows (a retried request was stored twice)."""
    from traceway.pipeline.quarantine import Quarantine
    from traceway.pipeline.spool import Spool
    from traceway.pipeline.spooled import drain_spool
    from traceway.storage.testspans import batch_of, make_span
    from traceway.telemetry import Telemetry

    t0 = 1_700_000_000 * 10**9
    inserted = batch_of(*(make_span(1, s, start_ns=t0 + s * 10**9) for s in range(1, 4)))
    clickhouse_store.write(inserted)
    cut_views_short(clickhouse_client, fresh_database)
    assert clickhouse_store.services() == []
    spool = Spool(tmp_path / "spool")
    spool.start()
    spool.append(inserted, lambda segment: 1).result()
    spool.close()
    assert drain_spool(tmp_path / "spool", clickhouse_store, Quarantine(None, Telemetry())) == 0
    assert len(clickhouse_store.get_trace(inserted.trace_id[0])) == 3
    assert clickhouse_store.services() == sorted(set(inserted.service))
    assert lookup_rows(clickhouse_client, fresh_database, inserted.trace_id[0]) > 0
    clickhouse_store.write(inserted)  # the sender's retry
    rows = clickhouse_client.query(f"SELECT count() FROM `{fresh_database}`.otel_traces").result_rows
    assert rows == [(3,)]


def cut_views_short(client, database: str) -> None:
    """What a kill between the insert and its views' commits leaves: spans without view rows."""
    for table in ("otel_traces_trace_id_ts", "otel_traces_operations"):
        client.command(f"TRUNCATE TABLE `{database}`.{table}")


def traces_ddl(client, database: str) -> str:
    """``otel_traces``' CREATE statement as the server keeps it."""
    return str(client.query("SELECT create_table_query FROM system.tables WHERE database = "
                            "{db:String} AND name = 'otel_traces'",
                            parameters={"db": database}).result_rows[0][0])


def lookup_rows(client, database: str, trace_id: bytes) -> int:
    return int(client.query(f"SELECT count() FROM `{database}`.otel_traces_trace_id_ts "
                            "WHERE TraceId = {id:String}", parameters={"id": trace_id.hex()}
                            ).result_rows[0][0])


def test_a_tail_sampler_restart_repairs_lookup_rows_of_spans_it_kept(clickhouse_client,
                                                                     clickhouse_store,
                                                                     fresh_database, tmp_path):
    """Under tail sampling the stored copy of a kept span carries its policy and
    the spooled copy does not. After a kill -9 that cut the views short, the
    start-up repair must still restore the lookup rows (else the sampler's next
    write of the trace was stored twice)."""
    from traceway.pipeline.spool import Spool
    from traceway.pipeline.spooled import rederive_stored_copies
    from traceway.storage.testspans import batch_of, make_span

    t0 = 1_700_000_000 * 10**9
    received = batch_of(*(make_span(1, s, start_ns=t0 + s * 10**9) for s in range(1, 4)))
    kept = batch_of(*(make_span(1, s, start_ns=t0 + s * 10**9,
                                attributes={"sampling.policy": "all"}) for s in range(1, 4)))
    clickhouse_store.write(kept)
    cut_views_short(clickhouse_client, fresh_database)
    spool = Spool(tmp_path / "spool")
    spool.start()
    spool.append(received, lambda segment: 1).result()
    spool.close()
    rederive_stored_copies(tmp_path / "spool", clickhouse_store)
    assert lookup_rows(clickhouse_client, fresh_database, kept.trace_id[0]) > 0
    clickhouse_store.write(kept)  # the sampler keeps the trace again
    rows = clickhouse_client.query(f"SELECT count() FROM `{fresh_database}`.otel_traces").result_rows
    assert rows == [(3,)]
    assert len(Spool(tmp_path / "spool").existing_segments()) == 1  # left for the sampler


def test_trace_reads_and_the_copy_check_use_the_trace_ordered_projection(clickhouse_client,
                                                                         clickhouse_store,
                                                                         fresh_database):
    """The exporter's ORDER BY puts each (service, span name) of a trace in its own
    granule; Traceway's projection keeps the trace in one. A column read that the
    projection lacks would send these reads back to every granule of the table."""
    from traceway.storage.clickhouse import Location, dedup, queries
    from traceway.storage.clickhouse.rows import NARROW_READ_COLUMNS
    from traceway.storage.testspans import batch_of, make_span

    t0 = 1_700_000_000 * 10**9
    # 3 granules of 8,192 spans, each trace with a span in every one.
    batch = batch_of(*(make_span(t, s, start_ns=t0 + t * 10 + s, service=f"svc{s % 3}",
                                 name=f"op{s % 3}") for t in range(1, 3001) for s in range(1, 9)))
    clickhouse_store.write(batch)
    loc, trace_id = Location(database=fresh_database), batch.trace_id[0].hex()
    for sql, params in (queries.traces_in_order(loc, [trace_id], NARROW_READ_COLUMNS),
                        dedup.stored_spans(loc, [trace_id], t0, t0 + 10**6, own_columns=True)):
        plan = "\n".join(row[0] for row in clickhouse_client.query(
            "EXPLAIN projections = 1 " + sql, parameters=params).result_rows)
        assert "ReadFromMergeTree (traceway_trace_order)" in plan, plan
    assert len(clickhouse_store.get_trace(batch.trace_id[0])) == 8


@pytest.mark.parametrize("constant, refused", [
    ("TRACE_ORDER_SETTINGS", " WITH SETTINGS (no_such_setting = 1)"),
    ("MAP_BUCKET_SETTINGS", ", no_such_setting = 1")])
def test_a_server_refusing_recent_settings_gets_the_table_without_them(
        clickhouse_client, fresh_database, monkeypatch, constant, refused):
    """Servers before 26.4 refuse some projection settings, older ones bucketed
    maps: the table is still created, with the trace-ordered projection at the
    table's granularity and basic maps."""
    from traceway.storage.clickhouse import ClickHouseStore, Location, schema
    from traceway.storage.testspans import batch_of, make_span

    monkeypatch.setattr(schema, constant, refused)
    store = ClickHouseStore(clickhouse_client, Location(database=fresh_database))
    ddl = traces_ddl(clickhouse_client, fresh_database)
    assert f"PROJECTION {schema.TRACE_ORDER} " in ddl and "no_such_setting" not in ddl
    assert "with_buckets" not in ddl
    batch = batch_of(make_span(1, 1, start_ns=1_700_000_000 * 10**9))
    store.write(batch)
    assert len(store.get_trace(batch.trace_id[0])) == 1


def test_a_tag_search_decompresses_one_bucket_of_merged_attribute_maps(clickhouse_client,
                                                                      fresh_database,
                                                                      monkeypatch):
    """Merged parts of tables Traceway makes keep each attribute map in buckets
    by key: a tag search decompresses the bucket of its key, not every key and
    value of every span (as it does on the exporter's basic maps)."""
    from traceway.storage.api import TraceQuery
    from traceway.storage.clickhouse import ClickHouseStore, Location, schema
    from traceway.storage.testspans import batch_of, make_span

    t0 = 1_700_000_000 * 10**9
    batch = batch_of(*(make_span(t, s, start_ns=t0 + t * 10 + s,
                                 attributes={f"key.{k}": f"value-{t}-{s}-{k}" for k in range(16)})
                       for t in range(1, 2001) for s in range(1, 9)))
    query = TraceQuery(t0, t0 + 10**9, tags={"key.3": "value-15-2-3"}, limit=20)

    def decompressed_bytes(table: str) -> tuple[int, list]:
        store = ClickHouseStore(clickhouse_client, Location(database=fresh_database, table=table))
        store.write(batch)
        clickhouse_client.command(f"OPTIMIZE TABLE `{fresh_database}`.`{table}` FINAL")
        counter = ("SELECT value FROM system.events WHERE event = 'CompressedReadBufferBytes'")
        before = int(clickhouse_client.query(counter).result_rows[0][0])
        found = store.find_traces(query)
        return int(clickhouse_client.query(counter).result_rows[0][0]) - before, found

    bucketed, found = decompressed_bytes("otel_traces")
    monkeypatch.setattr(schema, "MAP_BUCKET_SETTINGS", "")
    basic, found_in_basic = decompressed_bytes("basic_traces")
    assert [t.trace_id[0] for t in found] == [t.trace_id[0] for t in found_in_basic] \
        == [batch.trace_id[8 * 14]]
    assert bucketed < 0.6 * basic, (bucketed, basic)


def test_a_larger_free_disk_floor_in_force_is_kept(clickhouse_client, fresh_database):
    """Traceway's inserts ask ClickHouse to keep 32 MiB free; a larger floor the
    operator set (a server profile, here the client's session) is not lowered:
    with one above the free space, the insert waits as in an outage, unwritten."""
    import threading

    from traceway.storage.api import StorageError
    from traceway.storage.clickhouse import ClickHouseStore, Location
    from traceway.storage.testspans import batch_of, make_span

    name = "min_free_disk_bytes_to_perform_insert"
    floor = f"SELECT value FROM system.settings WHERE name = '{name}'"
    before = clickhouse_client.query(floor).result_rows[0][0]
    clickhouse_client.set_client_setting(name, str(1 << 60))
    try:
        store = ClickHouseStore(clickhouse_client, Location(database=fresh_database))
        failed: list[Exception] = []

        def write() -> None:
            try:
                store.write(batch_of(make_span(1, 1, start_ns=1_700_000_000 * 10**9)))
            except StorageError as exc:
                failed.append(exc)

        writer = threading.Thread(target=write)
        writer.start()
        deadline = time.monotonic() + 20
        while store.problem is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.problem is not None and "NOT_ENOUGH_SPACE" in store.problem, store.problem
        store.stop_waiting()
        writer.join(timeout=20)
        assert failed and not writer.is_alive()
    finally:
        clickhouse_client.set_client_setting(name, before)
    assert clickhouse_client.query(floor).result_rows[0][0] == before
    rows = clickhouse_client.query(f"SELECT count() FROM `{fresh_database}`.otel_traces").result_rows
    assert rows == [(0,)]


def test_without_the_projection_traces_are_read_through_the_lookup_table(clickhouse_client,
                                                                        fresh_database):
    """``trace_order=false`` trades trace-read speed for disk: no projection,
    and every read still finds whole traces."""
    from traceway.storage.api import TraceQuery
    from traceway.storage.clickhouse import ClickHouseStore, Location
    from traceway.storage.testspans import batch_of, make_span

    store = ClickHouseStore(clickhouse_client, Location(database=fresh_database, trace_order=False))
    ddl = traces_ddl(clickhouse_client, fresh_database)
    assert "PROJECTION" not in ddl
    t0 = 1_700_000_000 * 10**9
    batch = batch_of(*(make_span(t, s, start_ns=t0 + t * 10**9 + s, service=f"svc{s}")
                       for t in range(1, 4) for s in range(1, 4)))
    store.write(batch)
    assert len(store.get_trace(batch.trace_id[0])) == 3
    found = store.find_traces(TraceQuery(t0, t0 + 10 * 10**9, service="svc1", limit=10))
    assert sorted(len(trace) for trace in found) == [3, 3, 3]


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
