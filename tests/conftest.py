"""Fixtures shared by every test package."""

from __future__ import annotations

import pytest

# The shared storage suites live in the package; let pytest explain their asserts.
pytest.register_assert_rewrite("traceway.storage.conformance", "traceway.storage.jaeger_corpus",
                              "traceway.storage.summary_conformance")

from traceway.testing import ServerProcess  # noqa: E402


@pytest.fixture
def traceway_server(tmp_path):
    """A real `traceway serve` on free loopback ports, stopped after the test."""
    server = ServerProcess(tmp_path / "data").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chdb_client(tmp_path_factory):
    """The chdb engine of this test process (chdb opens one path per process)."""
    clickhouse = pytest.importorskip("traceway.storage.clickhouse")
    pytest.importorskip("chdb")
    client = clickhouse.connect(dsn=f"chdb://{tmp_path_factory.mktemp('chdb')}")
    yield client
    client.close()
