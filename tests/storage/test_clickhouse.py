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
