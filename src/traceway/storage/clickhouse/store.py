"""ClickHouseStore: Writer + Reader over the exporter's ``otel_traces`` schema.

One clickhouse-connect ``Client`` serves a ClickHouse server (HTTP) and chdb
(the engine in-process) alike. Writes are Arrow inserts of whole write-queue
groups (thousands of spans), each with an ``insert_deduplication_token``; an
outage (``outage.py``) makes ``write`` wait and retry the same insert, so the
write queue and the spool behind it fill (senders then get 503/UNAVAILABLE
with Retry-After) and no acknowledged span is lost. Trace reads use the trace-ordered
projection of the tables Traceway made, or the exporter's lookup table on its own tables;
searches, services, operations and dependencies are SQL with bound values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError

from traceway.model import SpanBatch
from traceway.storage.api import DependencyLink, Operation, StorageError, TraceQuery
from traceway.storage.clickhouse import dedup, queries
from traceway.storage.clickhouse.outage import OutageRetry
from traceway.storage.clickhouse.rollups import ClickHouseRollups
from traceway.storage.clickhouse.rows import (
    NARROW_READ_COLUMNS,
    OWN_READ_COLUMNS,
    READ_COLUMNS,
    batch_from_table,
    deduplication_token,
    insert_table,
)
from traceway.storage.clickhouse.schema import (
    KIND_BY_NAME,
    OWN_COLUMNS,
    TRACE_ORDER,
    Location,
    create_statements,
)
from traceway.storage.clickhouse.summaries import ClickHouseSummaries
from traceway.storage.tagmatch import span_matches
from traceway.storage.windows import newest_first_windows

log = logging.getLogger(__name__)

# Spans a pattern search confirms in Python per time window, at most.
_PATTERN_CANDIDATES = 50_000

# Free disk space below which ClickHouse refuses Traceway's inserts with
# NOT_ENOUGH_SPACE before writing anything: an outage (``outage.py``), so the
# write waits and senders get 503. Without it ClickHouse writes until the disk
# is full, and a part whose files then meet ENOSPC is committed anyway with
# empty files by chdb 26.9 (later reads fail with CORRUPTED_DATA). The floor
# keeps room for the parts of inserts in flight and for merges: more than one
# write-queue group's parts at usual rates, small beside any real disk. A
# query setting, so it covers the materialized views' tables of the insert and
# alters no table; servers older than the setting (24.x) get none. A larger
# floor the server's profile (or the client's settings) already asks for stays.
MIN_FREE_DISK_BYTES = 32 << 20


def connect(**kwargs: Any) -> Any:
    """A clickhouse-connect client (``dsn="chdb:///path"`` for the embedded engine)."""
    try:
        return clickhouse_connect.get_client(**kwargs)
    except ClickHouseError as exc:
        raise StorageError(f"cannot reach ClickHouse: {exc}") from None


class ClickHouseStore(ClickHouseRollups, ClickHouseSummaries):
    def __init__(self, client: Any, location: Location) -> None:
        self._client = client
        self.location = location
        self._outage = OutageRetry()
        try:
            if location.create:
                self._create_missing()
            columns = {name for (name,) in client.query(
                "SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String}",
                parameters={"db": location.database, "t": location.table}).result_rows}
        except ClickHouseError as exc:
            raise StorageError(f"ClickHouse schema set-up failed: {exc}") from None
        if not columns:
            raise StorageError(f"table {location.traces} does not exist (and create=false)")
        # Tables the exporter created lack Traceway's columns: read and write without them.
        self.own_columns = set(OWN_COLUMNS) <= columns
        # Without Traceway's operations table (create=false), lists scan the spans.
        self._has_operations = self._exists(location.table + "_operations")
        self._has_red = self._exists(location.table + "_red")
        self._trace_ordered = self._has_trace_order()
        self._operations_from = location.operations if self._has_operations else location.traces
        self._insert_settings = self._free_disk_floor()

    def _exists(self, table: str) -> bool:
        return bool(self._client.query(
            "SELECT 1 FROM system.tables WHERE database = {db:String} AND name = {t:String}",
            parameters={"db": self.location.database, "t": table}).result_rows)

    def _free_disk_floor(self) -> dict[str, int]:
        """The insert setting keeping ``MIN_FREE_DISK_BYTES`` free, or the larger
        floor already in force; none on servers without the setting."""
        name = "min_free_disk_bytes_to_perform_insert"
        rows = self._client.query("SELECT value FROM system.settings WHERE name = {n:String}",
                                  parameters={"n": name}).result_rows
        return {name: max(int(rows[0][0]), MIN_FREE_DISK_BYTES)} if rows else {}

    def _has_trace_order(self) -> bool:
        """Whether ``otel_traces`` (on a cluster, each shard's local table) has
        Traceway's trace-ordered projection (only tables Traceway made do)."""
        table = f"{self.location.table}_local" if self.location.cluster else self.location.table
        rows = self._client.query(
            "SELECT create_table_query FROM system.tables WHERE database = {db:String} "
            "AND name = {t:String}", parameters={"db": self.location.database, "t": table}).result_rows
        return bool(rows) and f"PROJECTION {TRACE_ORDER} " in rows[0][0]

    def _create_missing(self) -> None:
        loc = self.location
        for tuned in (True, False):
            existing = {name for (name,) in self._client.query(
                "SELECT name FROM system.tables WHERE database = {db:String}",
                parameters={"db": loc.database}).result_rows}
            try:
                for statement in create_statements(loc, existing, tuned):
                    self._client.command(statement)
                return
            except ClickHouseError as exc:
                if not tuned:
                    raise
                # Older servers refuse the projection's or the maps' settings:
                # once more without them.
                log.warning("creating %s without the projection's and maps' settings (%s): "
                            "trace reads decompress granules of the table's size, tag "
                            "searches whole maps", loc.traces, str(exc).splitlines()[0][:300])

    # -- Writer -------------------------------------------------------------
    def write(self, batch: SpanBatch) -> None:
        """Inserts the spans of ``batch`` not stored yet; waits out an outage
        (``outage.py``), retrying the same insert, so it lands once."""
        batch = self._outage.run(lambda: self._fresh(batch, narrow_by_lookup=True), "read")
        if not len(batch):
            return
        table = insert_table(batch, self.own_columns)
        settings = {**self._insert_settings, "insert_deduplication_token": deduplication_token(batch)}
        self._outage.run(lambda: self._client.insert_arrow(
            f"{self.location.database}.{self.location.table}", table, settings=settings),
            f"insert of {len(batch)} spans")

    @property
    def problem(self) -> str | None:
        """Why writes are stalled (a ClickHouse outage); None while they land."""
        return self._outage.problem

    def stop_waiting(self) -> None:
        """Shutting down: a write that meets an outage fails instead of waiting (``api.WaitsOutOutages``)."""
        self._outage.closed.set()

    def _fresh(self, batch: SpanBatch, narrow_by_lookup: bool) -> SpanBatch:
        """``batch`` without the spans stored already or repeated in it (``dedup``)."""
        return dedup.fresh(batch, self._stored(batch, narrow_by_lookup), self.own_columns)

    def _stored(self, batch: SpanBatch, narrow_by_lookup: bool) -> dedup.Stored:
        """The stored spans of ``batch``'s traces in its time range (only of the
        traces the lookup table knows, if ``narrow_by_lookup``)."""
        if not len(batch):
            return {}
        trace_ids = sorted({t.hex() for t in batch.trace_id})
        if narrow_by_lookup:
            trace_ids = [t for (t,) in self._rows(dedup.known_traces(self.location, trace_ids))]
        return dedup.stored_of(self._rows(dedup.stored_spans(
            self.location, trace_ids, min(batch.start_ns), max(batch.start_ns),
            self.own_columns))) if trace_ids else {}

    def replay_remainder(self, batch: SpanBatch) -> SpanBatch:
        """The spans of a spool batch replayed after a crash that are still to
        be written; the ones ClickHouse already holds are not inserted twice.

        A ``kill -9`` can land after an insert committed to ``otel_traces`` and
        before its materialized views committed (ClickHouse writes the table
        first, then each view), leaving stored spans that the lookup table does
        not know (so they are looked for without it), and that the exporter's
        readers would never find. So when any of the batch's traces has spans stored,
        their lookup (and operations) rows are written again from
        the stored spans; a repeat of them changes nothing. That holds even when
        the stored copies differ in content from the spooled ones (a tail
        sampler adds its policy to the spans it keeps)."""
        stored = self._outage.run(lambda: self._stored(batch, narrow_by_lookup=False), "read")
        if stored:
            log.info("%d spans replayed from the spool share traces with %d stored spans: "
                     "rewriting those traces' lookup rows", len(batch), len(stored))
            for statement in dedup.rederived(self.location, sorted({t.hex() for t in batch.trace_id}),
                                             min(batch.start_ns), max(batch.start_ns),
                                             self._has_operations):
                self._command(statement)
        return dedup.fresh(batch, stored, self.own_columns)

    def _command(self, sql_params: queries.Query) -> None:
        sql, params = sql_params
        try:
            self._client.command(sql, parameters=params, settings=self._insert_settings)
        except ClickHouseError as exc:
            raise StorageError(f"ClickHouse command failed: {exc}") from None

    def close(self) -> None:
        self._outage.closed.set()
        try:
            self._client.close()
        except ClickHouseError:
            pass

    # -- Reader -------------------------------------------------------------
    def _rows(self, sql_params: queries.Query) -> list[tuple[Any, ...]]:
        sql, params = sql_params
        rows: list[tuple[Any, ...]] = self._client.query(sql, parameters=params).result_rows
        return rows

    def _query(self, sql_params: queries.Query) -> list[tuple[Any, ...]]:
        try:
            return self._rows(sql_params)
        except ClickHouseError as exc:
            raise StorageError(f"ClickHouse query failed: {exc}") from None

    def _ranges(self, trace_ids: list[str]) -> list[queries.TraceRange]:
        """(trace id, first second, last second) of the traces the lookup table knows."""
        return [(trace_id, int(first.timestamp()), int(last.timestamp())) for trace_id, first, last
                in self._query(queries.trace_ranges(self.location, trace_ids))]

    def _spans(self, trace_ids: list[str]) -> SpanBatch:
        if self._trace_ordered:
            table = self._arrow(queries.traces_in_order(self.location, trace_ids,
                                                        NARROW_READ_COLUMNS))
            if all(table.column("TracewaySpan").to_pylist()):
                return batch_from_table(table)
            # Rows without Traceway's columns (the exporter's): the projection lacks their maps.
        if len(trace_ids) == 1:
            return self._read(lambda columns: queries.trace_by_id(
                self.location, trace_ids[0], columns))
        ranges = self._ranges(trace_ids)
        if not ranges:
            return SpanBatch()
        return self._read(lambda columns: queries.trace_spans(self.location, ranges, columns))

    def _read(self, spans_query: Callable[[str], queries.Query]) -> SpanBatch:
        """Spans from Traceway's own columns, or rebuilt from the exporter's
        for rows the exporter wrote."""
        if self.own_columns:
            table = self._arrow(spans_query(NARROW_READ_COLUMNS))
            if all(table.column("TracewaySpan").to_pylist()):
                return batch_from_table(table)
        columns = READ_COLUMNS + (OWN_READ_COLUMNS if self.own_columns else "")
        return batch_from_table(self._arrow(spans_query(columns)))

    def _arrow(self, sql_params: queries.Query) -> Any:
        sql, params = sql_params
        try:
            return self._client.query_arrow(sql, parameters=params, use_strings=False)
        except ClickHouseError as exc:
            raise StorageError(f"ClickHouse query failed: {exc}") from None

    def get_trace(self, trace_id: bytes, start_min_ns: int | None = None,
                  start_max_ns: int | None = None) -> SpanBatch:
        return self._spans([trace_id.hex()])

    def find_traces(self, query: TraceQuery) -> list[SpanBatch]:
        newest = self._find_trace_ids(query)
        if not newest:
            return []
        by_trace = {t.trace_id[0].hex(): t for t in self._spans(newest).split_by_trace()}
        return [by_trace[tid] for tid in newest if tid in by_trace]

    def _find_trace_ids(self, query: TraceQuery) -> list[str]:
        """Up to ``query.limit`` matching trace ids, newest first, searched in
        growing windows: a search that fills its limit from recent data never
        reads the rest of the range."""
        newest: dict[str, None] = {}
        for start_ns, end_ns in newest_first_windows(query.start_min_ns, query.start_max_ns):
            window = replace(query, start_min_ns=start_ns, start_max_ns=end_ns,
                             limit=query.limit + len(newest))
            found = (self._confirmed_by_patterns(window) if query.tag_patterns else
                     [row[0] for row in self._query(
                         queries.find_trace_ids(self.location, window, self.own_columns))])
            for trace_id in found:
                if len(newest) < query.limit:
                    newest.setdefault(trace_id)
            if len(newest) >= query.limit:
                break
        return list(newest)

    def _confirmed_by_patterns(self, query: TraceQuery) -> list[str]:
        """Trace ids, newest first, of candidate spans that ``span_matches``
        confirms: patterns follow ``tagmatch.value_matches`` on every backend."""
        columns = READ_COLUMNS + (OWN_READ_COLUMNS if self.own_columns else "")
        candidates = batch_from_table(self._arrow(queries.candidate_spans(
            self.location, query, self.own_columns, columns, _PATTERN_CANDIDATES)))
        found: dict[str, None] = {}
        for record in candidates.rows():
            if span_matches(record, query.tags, query.tag_patterns):
                found.setdefault(record.trace_id.hex())
                if len(found) >= query.limit:
                    break
        return list(found)

    def services(self) -> list[str]:
        return [name for (name,) in self._query(queries.operations(self._operations_from, None))]

    def operations(self, service: str, span_kind: int | None = None) -> list[Operation]:
        found = {Operation(name, KIND_BY_NAME.get(kind, 0))
                 for name, kind in self._query(queries.operations(self._operations_from, service))}
        return sorted((op for op in found if span_kind is None or op.span_kind == span_kind),
                      key=lambda op: (op.name, op.span_kind))

    def dependencies(self, start_min_ns: int, start_max_ns: int) -> list[DependencyLink]:
        return [DependencyLink(parent, child, int(calls), int(failed)) for parent, child, calls, failed
                in self._query(queries.dependencies(self.location, start_min_ns, start_max_ns))]
