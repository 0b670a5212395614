"""DuckDBStore: the embedded default backend (Writer, Reader, Retention)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.acero
import pyarrow.compute as pc
from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from traceway.analysis.red import MINUTE_NS
from traceway.convert.otlp import service_name
from traceway.model import SpanBatch
from traceway.storage.api import RejectedSpansError, StorageError
from traceway.storage.duckdb.reader import DuckDBReader
from traceway.storage.duckdb.rollups import (
    DuckDBRollups,
    backfill,
    delete_rollups_before,
    dirty_minutes,
    rollup_statements,
    start_ranges,
    unmerged_minutes,
)
from traceway.storage.duckdb.schema import DDL, SCHEMA_VERSION, latin1_text, u64_pairs, u64s

DATABASE_FILE = "traceway.duckdb"
# DuckDB errors about the batch's values, not the database's state.
_CONTENT_ERRORS = (duckdb.ConversionException, duckdb.ConstraintException,
                   duckdb.OutOfRangeException, duckdb.TypeMismatchException,
                   duckdb.InvalidInputException)
CHECKPOINT_THRESHOLD = "128MB"


def _scope_name_version(body: bytes) -> tuple[str, str]:
    scope = InstrumentationScope.FromString(body)
    return scope.name, scope.version


def body_id(body: bytes) -> int:
    """A stable signed 64-bit id for a resource or scope encoding."""
    return int.from_bytes(hashlib.blake2b(body, digest_size=8).digest(), "big", signed=True)


class DuckDBStore(DuckDBRollups, DuckDBReader):
    """One DuckDB file in ``data_dir`` (Writer, Reader, Retention, Rollups). ``write`` is called from one thread at a
    time (the pipeline's writer); reads run concurrently on their own cursors."""

    def __init__(self, data_dir: str | os.PathLike[str], *, memory_limit: str = "1GB",
                 threads: int = 2, file_name: str = DATABASE_FILE) -> None:
        self.path = Path(data_dir) / file_name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(self.path), config={
                "memory_limit": memory_limit, "threads": threads,
                # Checkpoints recompress the open row group: fewer, larger ones
                # more than double write throughput (bench/ingest.py).
                "checkpoint_threshold": CHECKPOINT_THRESHOLD})
        except duckdb.IOException as exc:
            raise StorageError(f"cannot open {self.path}: {exc}") from None
        for statement in DDL:
            con.execute(statement)
        con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        backfill(con)
        super().__init__(con)
        self._write_con = con.cursor()
        self._write_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._marked: set[int] = set()
        self._unmerged = unmerged_minutes(con)
        self._maintained_at = time.monotonic()
        self._maintainer: threading.Thread | None = None
        # content hash -> small dense id: bit-packs to a byte or two per span,
        # where the 64-bit hash itself would cost eight.
        self._ids: dict[str, dict[int, int]] = {
            table: dict(con.execute(f"SELECT hash, id FROM {table}").fetchall())
            for table in ("resources", "scopes")}
        self._known_operations = set(con.execute(
            "SELECT service, name, kind FROM operations").fetchall())

    # -- Writer -------------------------------------------------------------
    def write(self, batch: SpanBatch) -> None:
        if not len(batch):
            return
        with self._write_lock:
            try:
                spans, new_rows = self._tables(batch)
            except (ValueError, OverflowError, TypeError, DecodeError, pa.ArrowException) as exc:
                raise RejectedSpansError(f"write refused: {exc}") from exc
            con = self._write_con
            try:
                # Few calls on purpose: each one releases the GIL and may wait
                # a whole switch interval to get it back from the decoders.
                con.register("batch_spans", spans)
                con.register("batch_traces", _trace_ranges(spans))
                marks = self._register_dirty_minutes(spans)
                for table, rows in new_rows.items():
                    con.register(f"new_{table}", pa.table(dict(zip(
                        _LOOKUP_COLUMNS[table], map(list, zip(*rows))))))
                con.execute(_write_sql(list(new_rows), start_ranges(
                    spans["start_ns"].to_numpy()), _span_id_repeats(spans)))
            except duckdb.Error as exc:
                try:
                    con.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                if isinstance(exc, _CONTENT_ERRORS):
                    raise RejectedSpansError(f"write refused: {exc}") from exc
                raise StorageError(f"write failed: {exc}") from exc
            for table in ("resources", "scopes"):
                self._ids[table].update((row[1], row[0]) for row in new_rows.get(table, ()))
            self._known_operations.update(new_rows.get("operations", ()))
            self._marked.update(marks)
            self._unmerged.update(np.unique(
                spans["start_ns"].to_numpy() // MINUTE_NS * MINUTE_NS).tolist())
        self._maybe_maintain()

    def _register_dirty_minutes(self, spans: pa.Table) -> set[int]:
        """Register ``batch_dirty``: the minutes this batch makes dirty that the
        writer has not marked since the last edge refresh."""
        marks = dirty_minutes(spans["start_ns"].to_numpy(), spans["duration_ns"].to_numpy())
        marks -= self._marked
        self._write_con.register("batch_dirty", pa.table(
            {"minute_ns": pa.array(sorted(marks), pa.int64())}))
        return marks

    def _dense_ids(self, table: str, bodies: list[bytes], describe: Callable[[bytes], tuple[str, ...]],
                   ) -> tuple[dict[bytes, int], list[tuple[Any, ...]]]:
        """Ids of the distinct ``bodies``, and rows for the ones not stored yet.
        The new ids are recorded only once the write commits."""
        known = self._ids[table]
        ids: dict[bytes, int] = {}
        new_rows: list[tuple[Any, ...]] = []
        for body in dict.fromkeys(bodies):
            content = body_id(body)
            dense = known.get(content)
            if dense is None:
                dense = len(known) + len(new_rows) + 1
                new_rows.append((dense, content, *describe(body), body.decode("latin-1")))
            ids[body] = dense
        return ids, new_rows

    def _tables(self, batch: SpanBatch) -> tuple[pa.Table, dict[str, list[tuple[Any, ...]]]]:
        """The spans as an Arrow table, and the rows of lookup tables they add.

        Column by column (numpy, Arrow), with no Python code per span: this runs
        holding the GIL that the receivers need."""
        resource_ids, new_resources = self._dense_ids(
            "resources", batch.resource, lambda body: (service_name(Resource.FromString(body)),))
        scope_ids, new_scopes = self._dense_ids("scopes", batch.scope, _scope_name_version)
        n = len(batch)
        hi, lo = u64_pairs(batch.trace_id)
        spans = pa.table({
            "trace_hi": hi, "trace_lo": lo,
            "span_id": u64s(batch.span_id), "parent_id": u64s(batch.parent_span_id),
            "service": pa.array(batch.service, pa.string()),
            "name": pa.array(batch.name, pa.string()),
            "kind": np.fromiter(batch.kind, dtype=np.uint8, count=n),
            "start_ns": np.fromiter(batch.start_ns, dtype=np.int64, count=n),
            "duration_ns": np.fromiter(batch.duration_ns, dtype=np.int64, count=n),
            "status_code": np.fromiter(batch.status_code, dtype=np.uint8, count=n),
            "status_message": pa.array(batch.status_message, pa.string()),
            "resource_id": np.fromiter(map(resource_ids.__getitem__, batch.resource),
                                       dtype=np.uint32, count=n),
            "scope_id": np.fromiter(map(scope_ids.__getitem__, batch.scope),
                                    dtype=np.uint32, count=n),
            "detail": latin1_text(batch.detail),
        })
        new_rows = {"resources": new_resources, "scopes": new_scopes,
                    "operations": self._new_operations(spans)}
        return spans, {table: rows for table, rows in new_rows.items() if rows}

    def _new_operations(self, spans: pa.Table) -> list[tuple[Any, ...]]:
        distinct = spans.select(["service", "name", "kind"]).group_by(
            ["service", "name", "kind"], use_threads=False).aggregate([])
        return [op for op in zip(*(column.to_pylist() for column in distinct.columns))
                if op not in self._known_operations]

    # -- Retention ----------------------------------------------------------
    def delete_before(self, start_ns: int) -> int:
        # Its own connection, outside the write lock: DuckDB lets these deletes
        # commit alongside the writer's appends, so ingest is not blocked.
        con = self._con.cursor()
        try:
            (deleted,) = con.execute("DELETE FROM spans WHERE start_ns < ?", [start_ns]).fetchone() or (0,)
            delete_rollups_before(con, start_ns)
            if deleted:
                con.execute("DELETE FROM trace_index WHERE end_ns < ?", [start_ns])
                con.execute("""DELETE FROM operations WHERE (service, name, kind) NOT IN
                               (SELECT DISTINCT service, name, kind FROM spans)""")
                with self._write_lock:
                    self._known_operations = set(con.execute(
                        "SELECT service, name, kind FROM operations").fetchall())
            return int(deleted)
        finally:
            con.close()

    def size_bytes(self) -> int:
        total = 0
        for suffix in ("", ".wal"):
            try:
                total += os.path.getsize(str(self.path) + suffix)
            except OSError:
                pass
        return total

    def checkpoint(self) -> None:
        with self._write_lock:
            self._write_con.execute("CHECKPOINT")

    def close(self) -> None:
        if self._maintainer is not None:
            self._maintainer.join(timeout=60)
        with self._write_lock:
            try:
                self._write_con.close()
                self._con.close()
            except duckdb.Error:
                pass


def _trace_ranges(spans: pa.Table) -> pa.Table:
    """One trace_index row per trace: its first start and last end in the batch
    (an end never before its start: the copy check relies on every span's start
    lying in its row's range). Grouped by Arrow: on small batches DuckDB's
    parallel GROUP BY costs more."""
    ends = pc.add(spans["start_ns"], pc.max_element_wise(spans["duration_ns"], 0))
    grouped = pa.table({"trace_hi": spans["trace_hi"], "trace_lo": spans["trace_lo"],
                        "start_ns": spans["start_ns"], "end_ns": ends}).group_by(
        ["trace_hi", "trace_lo"], use_threads=False).aggregate(
        [("start_ns", "min"), ("end_ns", "max")])
    return grouped.select(["trace_hi", "trace_lo", "start_ns_min", "end_ns_max"])


_LOOKUP_COLUMNS = {"resources": ("id", "hash", "service", "body"),
                   "scopes": ("id", "hash", "name", "version", "body"),
                   "operations": ("service", "name", "kind")}


def _span_id_repeats(spans: pa.Table) -> bool:
    """Whether a span id is in the batch twice (copies, or the two halves of a Zipkin
    shared span): only then RED looks for copies inside the batch."""
    span_ids = spans["span_id"].to_numpy()
    return len(np.unique(span_ids)) < len(span_ids)


def _write_sql(new_row_tables: list[str], batch_ranges: list[tuple[int, int]],
               copies_in_batch: bool) -> str:
    statements = [
        "BEGIN",
        # before the spans: it looks for copies of them
        *rollup_statements(batch_ranges, copies_in_batch=copies_in_batch),
        "INSERT INTO spans SELECT * FROM batch_spans",
        "INSERT INTO trace_index SELECT * FROM batch_traces",
    ]
    # Resource and scope ids are new by construction (one writer); an operation
    # may be re-inserted after retention pruned it while a write was in flight.
    statements += [f"INSERT {'OR IGNORE ' if table == 'operations' else ''}INTO {table} "
                   f"SELECT * FROM new_{table}" for table in new_row_tables]
    statements.append("COMMIT")
    return ";\n".join(statements)
