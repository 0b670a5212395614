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
