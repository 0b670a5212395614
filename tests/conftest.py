"""Fixtures shared by every test package."""

from __future__ import annotations

import pytest

from traceway.testing import ServerProcess


@pytest.fixture
def traceway_server(tmp_path):
    """A real `traceway serve` on free loopback ports, stopped after the test."""
    server = ServerProcess(tmp_path / "data").start()
    yield server
    server.stop()
