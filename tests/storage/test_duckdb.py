from pathlib import Path

import pytest

from traceway.storage.conformance import StorageConformance
from traceway.storage.distinct import DistinctReader
from traceway.storage.duckdb import DuckDBStore
from traceway.storage.jaeger_corpus import JaegerCorpusConformance

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"


@pytest.fixture
def duckdb_store(tmp_path):
    store = DistinctReader(DuckDBStore(tmp_path))
    yield store
    store.close()


class TestDuckDBStore(StorageConformance):
    @pytest.fixture
    def store(self, duckdb_store):
        return duckdb_store

    @pytest.fixture
    def reopen(self, tmp_path):
        opened = []

        def reopen(old):
            old.close()
            opened.append(DistinctReader(DuckDBStore(tmp_path)))
            return opened[-1]

        yield reopen
        for store in opened:
            store.close()


class TestDuckDBStoreJaegerCorpus(JaegerCorpusConformance):
    corpus_dir = FIXTURES / "jaeger-storage-integration"

    @pytest.fixture
    def store(self, duckdb_store):
        return duckdb_store


def test_a_store_written_before_the_rollups_is_backfilled_once(tmp_path):
    import duckdb

    from traceway.analysis.red import MINUTE_NS, minute_of
    from traceway.model import SpanKind
    from traceway.storage.api import DependencyLink
    from traceway.storage.testspans import HOUR_NS, batch_of, make_span

    t0 = minute_of(1_767_225_600 * 10**9)
    store = DuckDBStore(tmp_path)
    spans = batch_of(make_span(1, 1, start_ns=t0, service="web", kind=SpanKind.SERVER),
                     make_span(1, 2, parent=1, start_ns=t0 + 1, service="db", kind=SpanKind.SERVER))
    store.write(spans)
    store.write(spans)  # a retried write: the backfill counts it once too
    store.close()
    con = duckdb.connect(str(tmp_path / "traceway.duckdb"))  # as an older Traceway left it
    for table in ("red_rollup", "edge_rollup", "edge_dirty"):
        con.execute(f"DROP TABLE {table}")
    con.execute("DELETE FROM meta WHERE key = 'rollup_version'")
    con.close()

    store = DuckDBStore(tmp_path)
    try:
        assert [(r.service, r.calls) for r in store.red(t0, t0 + MINUTE_NS).rows()] == [("db", 1), ("web", 1)]
        assert [(e.parent, e.child, e.calls) for e in store.edges(t0, t0 + MINUTE_NS)] == [
            ("web", "db", 1)]
        assert store.dependencies(t0 - HOUR_NS, t0 + HOUR_NS) == [DependencyLink("web", "db", 1)]
        store.write(batch_of(make_span(2, 1, start_ns=t0, service="web", kind=SpanKind.SERVER)))
    finally:
        store.close()
    store = DuckDBStore(tmp_path)  # not backfilled again: the new span is counted once
    try:
        assert [(r.service, r.calls) for r in store.red(t0, t0 + MINUTE_NS).rows()] == [("db", 1), ("web", 2)]
    finally:
        store.close()


def test_maintenance_compacts_partial_rows_and_answers_the_same(tmp_path):
    from traceway.analysis.red import MINUTE_NS, minute_of
    from traceway.model import SpanKind, StatusCode
    from traceway.storage.testspans import batch_of, make_span

    t0 = minute_of(1_767_225_600 * 10**9)
    store = DuckDBStore(tmp_path)
    try:
        for n in range(6):  # six writes into the same two minutes
            store.write(batch_of(
                make_span(n, 1, start_ns=t0 + n, service="web", kind=SpanKind.SERVER,
                          duration_ns=(n + 1) * 1_000_000,
                          status_code=StatusCode.ERROR if n % 3 == 0 else StatusCode.OK),
                make_span(n, 2, parent=1, start_ns=t0 + MINUTE_NS + n, service="db")))
        before = store.red(t0, t0 + 2 * MINUTE_NS).rows()
        edges_before = store.edges(t0, t0 + 2 * MINUTE_NS)
        (partial,) = store._con.execute("SELECT count(*) FROM red_rollup").fetchone()
        store.maintain(now_ns=t0 + 10 * MINUTE_NS)
        (compacted,) = store._con.execute("SELECT count(*) FROM red_rollup").fetchone()
        assert (partial, compacted) == (12, 3)  # then web OK, web ERROR, db: one row each
        assert store.red(t0, t0 + 2 * MINUTE_NS).rows() == before
        assert store.edges(t0, t0 + 2 * MINUTE_NS) == edges_before
        assert [(r.service, r.calls, r.errors) for r in before] == [("web", 6, 2), ("db", 6, 0)]
    finally:
        store.close()


def test_a_plain_reader_computes_dependencies_from_the_spans(duckdb_store):
    from traceway.storage.conformance import zipkin_shared_rpc
    from traceway.storage.duckdb.reader import DuckDBReader
    from traceway.storage.testspans import HOUR_NS, batch_of

    t0 = 1_767_225_600 * 10**9 + 7
    duckdb_store.write(batch_of(*zipkin_shared_rpc(t0)))
    window = (t0 - HOUR_NS, t0 + HOUR_NS)
    plain = DuckDBReader(duckdb_store._con)  # as a read-only client opens the file
    assert plain.dependencies(*window) == duckdb_store.dependencies(*window)
    assert [(d.parent, d.child, d.call_count, d.error_count) for d in plain.dependencies(*window)] == [
        ("backend", "db", 1, 0), ("frontend", "backend", 1, 1)]


def test_red_finds_copies_through_the_traces_already_stored(tmp_path):
    """The copy check reads only spans of traces ``trace_index`` holds: a copy must be
    found whatever else its write or the stored trace holds."""
    from traceway.analysis.red import MINUTE_NS, minute_of
    from traceway.model import SpanKind
    from traceway.storage.testspans import batch_of, make_span

    def trace(n: int) -> int:  # the halves differ: the index holds only the high one
        return n << 64 | n

    t0 = minute_of(1_767_225_600 * 10**9)
    long_root = make_span(trace(1), 1, start_ns=t0, duration_ns=50 * MINUTE_NS, service="web",
                          kind=SpanKind.SERVER)
    late_child = make_span(trace(1), 2, parent=1, start_ns=t0 + 40 * MINUTE_NS, service="db",
                           kind=SpanKind.SERVER)
    backwards = make_span(trace(2), 1, start_ns=t0 + 40 * MINUTE_NS + 5, duration_ns=-10 * MINUTE_NS,
                          service="clock-skewed", kind=SpanKind.SERVER)
    twice = make_span(trace(3), 1, start_ns=t0 + 40 * MINUTE_NS + 7, service="web", kind=SpanKind.SERVER)
    store = DuckDBStore(tmp_path)
    try:
        store.write(batch_of(long_root))
        store.write(batch_of(late_child, backwards))
        # Again, among spans of new traces, one of them twice in its first write.
        store.write(batch_of(late_child, backwards, twice, twice,
                             make_span(trace(4), 1, start_ns=t0 + 40 * MINUTE_NS, service="web",
                                       kind=SpanKind.SERVER)))
        store.write(batch_of(long_root, make_span(trace(5), 1, start_ns=t0 + 40 * MINUTE_NS,
                                                  service="web", kind=SpanKind.SERVER)))
        calls = {(row.time_ns, row.service): row.calls
                 for row in store.red(t0, t0 + 60 * MINUTE_NS, MINUTE_NS).rows()}
        assert calls == {(t0, "web"): 1, (t0 + 40 * MINUTE_NS, "db"): 1,
                         (t0 + 40 * MINUTE_NS, "clock-skewed"): 1, (t0 + 40 * MINUTE_NS, "web"): 3}
    finally:
        store.close()
