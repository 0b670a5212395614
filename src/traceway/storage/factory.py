"""One place that turns a ``--storage`` URL into a store.

- ``duckdb:///path/file.duckdb``: the embedded DuckDB file (the default, empty
  URL, is ``traceway.duckdb`` in ``--data-dir``);
- ``clickhouse://user:password@host:8123/database?secure=true``: a ClickHouse
  server over HTTP(S) (``pip install traceway[clickhouse]``); the password may
  come from ``TRACEWAY_CLICKHOUSE_PASSWORD`` instead;
- ``chdb:///path``: the same ClickHouse backend with the engine in-process
  (``pip install traceway[chdb]``), for one machine and for tests;
- ``memory://``: the in-memory test double (nothing survives a restart).

ClickHouse URLs take ``table`` (default ``otel_traces``), ``cluster`` (ON
CLUSTER, Replicated/Distributed engines), ``create=false`` (never create
tables: read what the OpenTelemetry Collector's exporter made) and
``trace_order=false`` (a new ``otel_traces`` without the trace-ordered
projection: less disk, slower trace reads). The store
comes wrapped in ``DistinctReader``: de-duplication on read, once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import ParseResult, parse_qsl, unquote, urlparse

from traceway.storage.api import StorageError
from traceway.storage.distinct import DistinctReader

SCHEMES = ("duckdb", "clickhouse", "chdb", "memory")
PASSWORD_ENV = "TRACEWAY_CLICKHOUSE_PASSWORD"


def open_store(url: str, data_dir: Path, retention_ns: int = 0) -> DistinctReader:
    """The store ``url`` names; raises StorageError with a message for bad URLs."""
    parsed = urlparse(url or "duckdb://")
    scheme = parsed.scheme.lower()
    if scheme not in SCHEMES:
        raise StorageError(f"--storage {url!r}: the scheme must be one of "
                           + ", ".join(f"{s}://" for s in SCHEMES))
    if scheme == "duckdb":
        from traceway.storage.duckdb import DuckDBStore

        if not parsed.path:
            return DistinctReader(DuckDBStore(data_dir))
        path = Path(unquote(parsed.path))
        return DistinctReader(DuckDBStore(path.parent, file_name=path.name))
    if scheme == "memory":
        from traceway.storage.memory import MemoryStore

        return DistinctReader(MemoryStore())
    return DistinctReader(_clickhouse(scheme, parsed, retention_ns))


def _clickhouse(scheme: str, parsed: ParseResult, retention_ns: int) -> Any:
    try:
        from traceway.storage.clickhouse import ClickHouseStore, Location, connect
    except ImportError as exc:
        extra = "chdb" if scheme == "chdb" else "clickhouse"
        raise StorageError(f"{scheme}:// needs `pip install traceway[{extra}]` ({exc})") from None
    options = dict(parse_qsl(parsed.query))
    location = Location.from_options(options, retention_ns)
    if scheme == "chdb":
        if not parsed.path:
            raise StorageError("chdb:// needs a directory: chdb:///var/lib/traceway/chdb")
        client = connect(dsn=f"chdb://{unquote(parsed.path)}")
    else:
        location = location.with_database(unquote(parsed.path.strip("/")) or location.database)
        client = connect(
            host=parsed.hostname or "localhost", port=parsed.port or 8123,
            username=unquote(parsed.username or "default"),
            password=unquote(parsed.password or "") or os.environ.get(PASSWORD_ENV, ""),
            **_tls_options(options))
    return ClickHouseStore(client, location)


def _tls_options(options: dict[str, str]) -> dict[str, object]:
    """clickhouse-connect's TLS arguments from URL options (``secure``, ``verify``,
    ``ca_cert``, ``client_cert``, ``client_cert_key``)."""
    out: dict[str, object] = {}
    for flag in ("secure", "verify"):
        if flag in options:
            out[flag] = options[flag].lower() in ("1", "true", "yes")
    for name in ("ca_cert", "client_cert", "client_cert_key"):
        if name in options:
            out[name] = options[name]
    return out
