import pytest

from traceway.storage.conformance import StorageConformance
from traceway.storage.distinct import DistinctReader
from traceway.storage.memory import MemoryStore


class TestMemoryStore(StorageConformance):
    @pytest.fixture
    def store(self):
        store = DistinctReader(MemoryStore())
        yield store
        store.close()
