from pathlib import Path

import pytest

from traceway.storage.distinct import DistinctReader
from traceway.storage.jaeger_corpus import JaegerCorpusConformance
from traceway.storage.memory import MemoryStore

# CI clones the repo with shared/ beside it: <repo>/../shared/fixtures.
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"


class TestMemoryStoreJaegerCorpus(JaegerCorpusConformance):
    corpus_dir = FIXTURES / "jaeger-storage-integration"

    @pytest.fixture
    def store(self):
        store = DistinctReader(MemoryStore())
        yield store
        store.close()
