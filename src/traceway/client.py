"""Traces in a notebook: ``traceway.connect(data_dir_or_url)``.

    import traceway
    db = traceway.connect("/var/lib/traceway")          # or "http://traceway:16686"
    spans = db.spans(service="frontend", lookback="1h")  # a pyarrow Table, one row per span
    spans.to_pandas()                                    # with pandas installed (or polars.from_arrow)
    db.propagation(lookback="1h")["data"]                # the same answers as /api/analysis/*
    traceway.analysis.attributes.attribute_differences(db.traces(service="api"), by="error")

A data directory is opened read-only with DuckDB. DuckDB lets one process hold a database
file for writing, so while ``traceway serve`` runs on that directory, connect to the
server's URL instead: a URL reads through its query API (``/api/traces`` and
``/api/analysis/*``), computing the analyses on the server.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.convert.attributes import string_pairs
from traceway.convert.jaeger_json_read import spans_from_jaeger_json
from traceway.convert.otlp import decode_stored
from traceway.model import SPAN_KIND_NAMES, STATUS_NAMES, SpanBatch
from traceway.query.health import Window, attributes_report, coverage_report, propagation_report
from traceway.query.params import parse_duration_ns
from traceway.storage.api import TraceQuery
from traceway.storage.duckdb.reader import DuckDBReader
from traceway.storage.duckdb.store import DATABASE_FILE

_STRINGS = pa.map_(pa.string(), pa.string())
SPAN_SCHEMA = pa.schema([
    ("trace_id", pa.string()), ("span_id", pa.string()), ("parent_span_id", pa.string()),
    ("service", pa.string()), ("operation", pa.string()), ("kind", pa.string()),
    ("start", pa.timestamp("ns", tz="UTC")), ("duration", pa.duration("ns")),
    ("status", pa.string()), ("status_message", pa.string()),
    ("attributes", _STRINGS), ("resource", _STRINGS),
])


class ConnectError(Exception):
    """The data directory or URL cannot be read; the message says why and what to do."""


def connect(target: str | os.PathLike[str], token: str | None = None) -> Connection:
    """A connection to a Traceway data directory (read-only) or server URL; ``token`` is the
    server's query token when it has ``--query-token-file``."""
    text = os.fspath(target)
    if text.startswith(("http://", "https://")):
        return Connection(_HTTPSource(text.rstrip("/"), token))
    path = Path(text) / DATABASE_FILE
    if not path.is_file():
        raise ConnectError(f"no Traceway database at {path}")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        raise ConnectError(f"cannot open {path} ({exc}); while `traceway serve` holds it, "
                           "connect to the server's URL instead, e.g. "
                           "traceway.connect('http://127.0.0.1:16686')") from None
    return Connection(_LocalSource(DuckDBReader(con), con))


def spans_table(traces: list[SpanBatch]) -> pa.Table:
    """One row per span; ids in hex, attributes and resource as string maps."""
    rows: dict[str, list[Any]] = {name: [] for name in SPAN_SCHEMA.names}
    resources: dict[bytes, list[tuple[str, str]]] = {}
    for batch in traces:
        for r in batch.rows():
            rows["trace_id"].append(r.trace_id.hex())
            rows["span_id"].append(r.span_id.hex())
            rows["parent_span_id"].append(r.parent_span_id.hex() or None)
            rows["service"].append(r.service)
            rows["operation"].append(r.name)
            rows["kind"].append(SPAN_KIND_NAMES.get(r.kind, "unspecified"))
            rows["start"].append(r.start_ns)
            rows["duration"].append(r.duration_ns)
            rows["status"].append(STATUS_NAMES.get(r.status_code, "UNSET"))
            rows["status_message"].append(r.status_message)
            rows["attributes"].append(list(string_pairs(decode_stored(Span, r.detail, "span detail")[0].attributes)))
            if r.resource not in resources:
                resources[r.resource] = list(string_pairs(decode_stored(Resource, r.resource, "resource")[0].attributes))
            rows["resource"].append(resources[r.resource])
    return pa.table(rows, schema=SPAN_SCHEMA)


class Connection:
    """Searches return whole traces; analyses return the documents of /api/analysis/*."""

    def __init__(self, source: _LocalSource | _HTTPSource) -> None:
        self._source = source

    def traces(self, service: str | None = None, operation: str | None = None,
               lookback: str = "1h", tags: dict[str, str] | None = None,
               limit: int = 20) -> list[SpanBatch]:
        """Up to ``limit`` traces with a span matching, newest first (as /api/traces)."""
        return self._source.traces(service, operation, lookback, tags or {}, limit)

    def spans(self, service: str | None = None, operation: str | None = None,
              lookback: str = "1h", tags: dict[str, str] | None = None,
              limit: int = 20) -> pa.Table:
        """Every span of the traces ``traces`` finds, as a table (see SPAN_SCHEMA)."""
        return spans_table(self.traces(service, operation, lookback, tags, limit))

    def propagation(self, lookback: str = "1h", grace: str = "30s") -> dict[str, Any]:
        return self._source.analysis("propagation", lookback=lookback, grace=grace)

    def coverage(self, lookback: str = "1h") -> dict[str, Any]:
        return self._source.analysis("coverage", lookback=lookback)

    def attributes(self, service: str | None = None, operation: str | None = None,
                   lookback: str = "1h", by: str = "latency",
                   threshold: str | None = None) -> dict[str, Any]:
        return self._source.analysis("attributes", service=service, operation=operation,
                                     lookback=lookback, by=by, threshold=threshold)

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _window(lookback: str) -> Window:
    end_ns = time.time_ns()
    return Window(end_ns - parse_duration_ns(lookback, "lookback"), end_ns)


class _LocalSource:
    def __init__(self, reader: DuckDBReader, con: duckdb.DuckDBPyConnection) -> None:
        self._reader, self._con = reader, con

    def traces(self, service: str | None, operation: str | None, lookback: str,
               tags: dict[str, str], limit: int) -> list[SpanBatch]:
        window = _window(lookback)
        return self._reader.find_traces(TraceQuery(
            start_min_ns=window.start_ns, start_max_ns=window.end_ns, service=service,
            operation=operation, tags=tags, limit=limit))

    def analysis(self, name: str, *, lookback: str, **options: Any) -> dict[str, Any]:
        window = _window(lookback)
        if name == "propagation":
            return propagation_report(self._reader, window, parse_duration_ns(options["grace"], "grace"))
        if name == "coverage":
            return coverage_report(self._reader, window)
        threshold = options.pop("threshold")
        return attributes_report(self._reader, window, **options, threshold_ns=(
            parse_duration_ns(threshold, "threshold") if threshold else None))

    def close(self) -> None:
        self._con.close()


class _HTTPSource:
    def __init__(self, url: str, token: str | None) -> None:
        self._url = url
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        try:
            request = urllib.request.Request(f"{self._url}{path}?{query}", headers=self._headers)
            with urllib.request.urlopen(request, timeout=60) as answer:
                document: dict[str, Any] = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            raise ConnectError(f"{self._url}{path}: HTTP {exc.code}: {exc.read()[:500]!r}") from None
        except OSError as exc:
            raise ConnectError(f"cannot reach {self._url}: {exc}") from None
        return document

    def traces(self, service: str | None, operation: str | None, lookback: str,
               tags: dict[str, str], limit: int) -> list[SpanBatch]:
        document = self._get("/api/traces", {"service": service, "operation": operation,
                                             "lookback": lookback, "limit": limit,
                                             "tags": json.dumps(tags) if tags else None})
        return [spans_from_jaeger_json(trace) for trace in document["data"] or ()]

    def analysis(self, name: str, **params: Any) -> dict[str, Any]:
        return self._get(f"/api/analysis/{name}", params)

    def close(self) -> None:
        pass
