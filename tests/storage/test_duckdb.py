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
