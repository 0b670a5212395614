"""DuckDBReader: every query Traceway asks of the DuckDB file."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import duckdb
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.model import SPAN_KIND_BY_NAME, SpanBatch, SpanRecord
from traceway.storage.api import DependencyLink, Operation, TraceQuery, TraceSummary
from traceway.storage.duckdb.patterns import pattern_prefilter
from traceway.storage.duckdb.ranges import spans_of_traces_sql
from traceway.storage.duckdb.rollups import dependencies_of_spans
from traceway.storage.duckdb.schema import SPAN_COLUMNS, id_halves, ids8_from, ids16_from
from traceway.storage.duckdb.summaries import trace_summaries
from traceway.storage.tagmatch import encoded_patterns, span_matches

_CANDIDATE_CHUNK = 2048
_TRACES_PER_QUERY = 256
_UINT32 = re.compile(r"[0-9]{1,10}", re.ASCII)
_FIRST_WINDOW_NS = 60 * 10**9


class DuckDBReader:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._bodies: dict[tuple[str, int], bytes] = {}
        self._bodies_lock = threading.Lock()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        return self._con.cursor()

    # -- trace by id --------------------------------------------------------
    def get_trace(self, trace_id: bytes, start_min_ns: int | None = None,
                  start_max_ns: int | None = None) -> SpanBatch:
        hi, lo = id_halves(trace_id)
        cur = self._cursor()
        try:
            # Only the single equality lets DuckDB use the ART index; trace_lo
            # is matched here (a second condition turns it into a scan).
            rows = [r for r in cur.execute(
                "SELECT trace_lo, start_ns, end_ns FROM trace_index WHERE trace_hi = ?::UBIGINT",
                [hi]).fetchall() if r[0] == lo]
            if not rows:
                return SpanBatch()
            found = (min(r[1] for r in rows), max(r[2] for r in rows))
            return self._spans(cur, [(hi, lo, found[0], found[1])])
        finally:
            cur.close()

    def _spans(self, cur: duckdb.DuckDBPyConnection,
               ranges: list[tuple[int, int, int, int]]) -> SpanBatch:
        """Spans of the given (hi, lo, first start, last end) traces, each read
        within its time range (see ``ranges``)."""
        sql, params = spans_of_traces_sql(SPAN_COLUMNS, ranges)
        return self._batch(cur.execute(sql + " ORDER BY start_ns, span_id", params).fetchnumpy(),
                           cur)

    def _traces(self, cur: duckdb.DuckDBPyConnection,
                ranges: list[tuple[int, int, int, int]]) -> list[SpanBatch]:
        """Whole traces, fetched a page of traces at a time so the memory of one
        query does not grow with a search's limit (1,300 traces read by one
        query once ran DuckDB out of its 1 GB)."""
        traces: list[SpanBatch] = []
        for page in _pages(ranges):
            traces += self._spans(cur, page).split_by_trace()
        return traces

    def _batch(self, cols: dict[str, Any], cur: duckdb.DuckDBPyConnection) -> SpanBatch:
        n = len(cols["trace_hi"])
        if not n:
            return SpanBatch()
        resources = self._bodies_of(cur, "resources", cols["resource_id"])
        scopes = self._bodies_of(cur, "scopes", cols["scope_id"])
        batch = SpanBatch(
            trace_id=ids16_from(cols["trace_hi"], cols["trace_lo"]),
            span_id=ids8_from(cols["span_id"]),
            parent_span_id=ids8_from(cols["parent_id"]),
            service=list(cols["service"]), name=list(cols["name"]),
            kind=cols["kind"].tolist(), start_ns=cols["start_ns"].tolist(),
            duration_ns=cols["duration_ns"].tolist(), status_code=cols["status_code"].tolist(),
            status_message=list(cols["status_message"]),
            detail=[d.encode("latin-1") for d in cols["detail"]],
            resource=[resources[r] for r in cols["resource_id"].tolist()],
            scope=[scopes[s] for s in cols["scope_id"].tolist()],
        )
        return _without_duplicates(batch)

    def _bodies_of(self, cur: duckdb.DuckDBPyConnection, table: str, ids: Iterable[Any]) -> dict[int, bytes]:
        wanted = {int(i) for i in ids}
        with self._bodies_lock:
            found = {i: self._bodies[(table, i)] for i in wanted if (table, i) in self._bodies}
        missing = list(wanted - found.keys())
        if missing:
            rows = cur.execute(f"SELECT id, body FROM {table} WHERE id IN (SELECT unnest(?))",
                               [missing]).fetchall()
            with self._bodies_lock:
                if len(self._bodies) > 100_000:
                    self._bodies.clear()
                for rid, body in rows:
                    found[rid] = self._bodies[(table, rid)] = body.encode("latin-1")
        return found

    # -- search -------------------------------------------------------------
    def find_traces(self, query: TraceQuery) -> list[SpanBatch]:
        cur = self._cursor()
        try:
            latest = self._find_keys(cur, query)
            if not latest:
                return []
            traces = self._traces(cur, self._trace_ranges(cur, latest))
        finally:
            cur.close()
        order = {hi_lo: i for i, hi_lo in enumerate(latest)}
        traces.sort(key=lambda t: order.get(id_halves(t.trace_id[0]), len(order)))
        return traces

    def find_trace_summaries(self, query: TraceQuery) -> list[TraceSummary]:
        """Aggregated in SQL: no span leaves DuckDB."""
        cur = self._cursor()
        try:
            latest = self._find_keys(cur, query)
            if not latest:
                return []
            ranges = self._trace_ranges(cur, latest)
            summaries = [summary for page in _pages(ranges)
                         for summary in trace_summaries(cur, page)]
        finally:
            cur.close()
        order = {hi_lo: i for i, hi_lo in enumerate(latest)}
        summaries.sort(key=lambda s: order.get(id_halves(s.trace_id), len(order)))
        return summaries

    def _find_keys(self, cur: duckdb.DuckDBPyConnection, query: TraceQuery) -> list[tuple[int, int]]:
        """(hi, lo) of up to ``query.limit`` matching traces, newest first. Searches
        in growing time windows, so a search that fills its limit from recent data
        never reads the rest of the range."""
        found: dict[tuple[int, int], None] = {}
        for start_ns, end_ns in _windows(query.start_min_ns, query.start_max_ns):
            window = dataclasses.replace(query, start_min_ns=start_ns, start_max_ns=end_ns)
            matching = (self._matching_by_tags if query.tags or query.tag_patterns
                        else self._matching)
            for key in matching(cur, window, len(found)):
                found.setdefault(key)
                if len(found) >= query.limit:
                    break
            if len(found) >= query.limit:
                break
        return list(found)

    def _matching(self, cur: duckdb.DuckDBPyConnection, query: TraceQuery, already: int) -> list[tuple[int, int]]:
        where, params = _span_conditions(query)
        rows: list[tuple[int, int]] = cur.execute(
            f"SELECT trace_hi, trace_lo FROM spans WHERE {where} GROUP BY ALL "
            "ORDER BY max(start_ns) DESC LIMIT ?", params + [query.limit + already]).fetchall()
        return rows

    def _matching_by_tags(self, cur: duckdb.DuckDBPyConnection, query: TraceQuery, already: int) -> list[tuple[int, int]]:
        where, params = _span_conditions(query)
        for key, value in query.tags.items():
            condition, extra = _tag_prefilter(key, value)
            where += f" AND ({condition})"
            params += extra
        for pattern in query.tag_patterns:
            prefilter = pattern_prefilter(pattern)
            if prefilter is not None:
                where += f" AND ({prefilter[0]})"
                params += prefilter[1]
        cur.execute(f"SELECT {SPAN_COLUMNS} FROM spans WHERE {where} ORDER BY start_ns DESC", params)
        found: dict[tuple[int, int], None] = {}
        side = self._cursor()  # for body look-ups while ``cur`` streams
        try:
            while len(found) < query.limit + already:
                chunk = cur.fetchmany(_CANDIDATE_CHUNK)
                if not chunk:
                    break
                for row, record in zip(chunk, self._records(side, chunk)):
                    hi_lo = (row[0], row[1])
                    if hi_lo not in found and span_matches(record, query.tags, query.tag_patterns):
                        found[hi_lo] = None
        finally:
            side.close()
        return list(found)

    def _records(self, cur: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> list[SpanRecord]:
        resources = self._bodies_of(cur, "resources", (r[11] for r in rows))
        scopes = self._bodies_of(cur, "scopes", (r[12] for r in rows))
        return [SpanRecord(b"", b"", b"", r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                           r[13].encode("latin-1"), resources[r[11]], scopes[r[12]]) for r in rows]

    def _trace_ranges(self, cur: duckdb.DuckDBPyConnection, traces: list[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
        """(hi, lo, first start, last end) of each trace."""
        rows = cur.execute(
            "SELECT trace_hi, trace_lo, min(start_ns), max(end_ns) FROM trace_index "
            "WHERE trace_hi IN (SELECT unnest(?::UBIGINT[])) GROUP BY ALL",
            [list({hi for hi, _ in traces})]).fetchall()
        wanted = set(traces)
        return [r for r in rows if (r[0], r[1]) in wanted]

    def dependencies(self, start_min_ns: int, start_max_ns: int) -> list[DependencyLink]:
        """From the spans; DuckDBStore answers from its rollup instead."""
        cur = self._cursor()
        try:
            return sorted(dependencies_of_spans(cur, start_min_ns, start_max_ns),
                          key=lambda d: (d.parent, d.child))
        finally:
            cur.close()

    # -- services, operations ---------------------------------------------
    def services(self) -> list[str]:
        cur = self._cursor()
        try:
            return [s for (s,) in cur.execute(
                "SELECT DISTINCT service FROM operations ORDER BY service").fetchall()]
        finally:
            cur.close()

    def operations(self, service: str, span_kind: int | None = None) -> list[Operation]:
        sql = "SELECT name, kind FROM operations WHERE service = ?"
        params: list[Any] = [service]
        if span_kind is not None:
            sql += " AND kind = ?"
            params.append(span_kind)
        cur = self._cursor()
        try:
            rows = cur.execute(sql + " ORDER BY name, kind", params).fetchall()
        finally:
            cur.close()
        return [Operation(name, kind) for name, kind in rows]


def _pages(ranges: list[tuple[int, int, int, int]]) -> Iterator[list[tuple[int, int, int, int]]]:
    """Trace ranges in pages of nearby traces (by first start), at most _TRACES_PER_QUERY each."""
    ordered = sorted(ranges, key=lambda r: r[2])
    for first in range(0, len(ordered), _TRACES_PER_QUERY):
        yield ordered[first:first + _TRACES_PER_QUERY]


def _windows(first_ns: int, last_ns: int) -> Iterator[tuple[int, int]]:
    """[start, end] windows from ``last_ns`` back to ``first_ns``, each four times
    as long as the one before, starting at 1/64 of the range (at least a minute)."""
    width = max((last_ns - first_ns) // 64, _FIRST_WINDOW_NS)
    end = last_ns
    while end >= first_ns:
        start = max(first_ns, end - width)
        yield start, end
        end = start - 1
        width *= 4


def _span_conditions(query: TraceQuery) -> tuple[str, list[Any]]:
    conditions = ["start_ns BETWEEN ? AND ?"]
    params: list[Any] = [query.start_min_ns, query.start_max_ns]
    for column, value, op in (("service", query.service, "="), ("name", query.operation, "="),
                              ("kind", query.span_kind, "="),
                              ("duration_ns", query.duration_min_ns, ">="),
                              ("duration_ns", query.duration_max_ns, "<=")):
        if value is not None:
            conditions.append(f"{column} {op} ?")
            params.append(value)
    return " AND ".join(conditions), params


def _latin1(raw: bytes) -> str:
    return raw.decode("latin-1")


def _tag_prefilter(key: str, value: str) -> tuple[str, list[Any]]:
    """A SQL condition true for every span that may match ``key=value``
    (exactly confirmed later by ``span_matches``)."""
    patterns = [_latin1(p) for p in encoded_patterns(key, value)]
    any_pattern = " OR ".join(["contains({col}, ?)"] * len(patterns))
    conditions = [any_pattern.format(col="detail"),
                  f"resource_id IN (SELECT id FROM resources WHERE {any_pattern.format(col='body')})",
                  f"scope_id IN (SELECT id FROM scopes WHERE {any_pattern.format(col='body')})"]
    params: list[Any] = patterns * 3
    derived = _derived_condition(key, value)
    if derived:
        conditions.append(derived[0])
        params += derived[1]
    return " OR ".join(f"({c})" for c in conditions), params


_DROPPED_COUNT_FIELDS = {"otel.dropped_attributes_count": "dropped_attributes_count",
                         "otel.dropped_events_count": "dropped_events_count",
                         "otel.dropped_links_count": "dropped_links_count"}


def _derived_condition(key: str, value: str) -> tuple[str, list[Any]] | None:
    if key == "span.kind" and value in SPAN_KIND_BY_NAME:
        return "kind = ?", [SPAN_KIND_BY_NAME[value]]
    if key == "error" and value == "true":
        return "status_code = 2", []
    if key == "otel.status_code" and value in ("OK", "ERROR"):
        return "status_code = ?", [1 if value == "OK" else 2]
    if key == "otel.status_description":
        return "status_message = ?", [value]
    if key == "otel.scope.name":
        return "scope_id IN (SELECT id FROM scopes WHERE name = ?)", [value]
    if key == "otel.scope.version":
        return "scope_id IN (SELECT id FROM scopes WHERE version = ?)", [value]
    if key == "w3c.tracestate":
        return "contains(detail, ?)", [_latin1(Span(trace_state=value).SerializeToString())]
    if key in _DROPPED_COUNT_FIELDS and _UINT32.fullmatch(value) and int(value) < 2**32:
        field = {_DROPPED_COUNT_FIELDS[key]: int(value)}
        return "contains(detail, ?)", [_latin1(Span(**field).SerializeToString())]  # type: ignore[arg-type]
    if key == "event":
        return "contains(detail, ?)", [_latin1(Span.Event(name=value).SerializeToString())]
    return None


def _without_duplicates(batch: SpanBatch) -> SpanBatch:
    if len(set(batch.span_id)) == len(batch):
        return batch
    rows = list(batch.rows())
    unique = list(dict.fromkeys(rows))
    return batch if len(unique) == len(rows) else SpanBatch.from_rows(unique)
