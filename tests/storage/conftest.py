"""ClickHouse for the storage tests: chdb in this process (one engine path per
process, so one for the session; each test gets its own database), and a
ClickHouse server too when ``TRACEWAY_CLICKHOUSE_URL`` names one."""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlparse

import pytest

from traceway.storage.distinct import DistinctReader

SERVER_URL = os.environ.get("TRACEWAY_CLICKHOUSE_URL", "")
BACKENDS = ["chdb", *(["server"] if SERVER_URL else [])]


def server_client():
    from traceway.storage.clickhouse import connect

    url = urlparse(SERVER_URL)
    return connect(host=url.hostname, port=url.port or 8123, username=url.username or "default",
                   password=url.password or "", secure=url.scheme == "https")


@pytest.fixture(params=BACKENDS)
def clickhouse_client(request):
    if request.param == "chdb":
        yield request.getfixturevalue("chdb_client")
    else:
        client = server_client()
        yield client
        client.close()


@pytest.fixture
def fresh_database(clickhouse_client):
    """A database of its own for one test, dropped afterwards."""
    name = f"traceway_test_{uuid.uuid4().hex[:12]}"
    yield name
    clickhouse_client.command(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def clickhouse_store(clickhouse_client, fresh_database):
    from traceway.storage.clickhouse import ClickHouseStore, Location

    return DistinctReader(ClickHouseStore(clickhouse_client, Location(database=fresh_database)))
