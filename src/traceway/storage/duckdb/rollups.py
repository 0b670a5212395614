"""DuckDB rollups: RED rows and dependency edges per minute (the Rollups capability).

RED: every write appends, in its own transaction, one partial row per (minute,
service, operation, kind, status) of the batch, aggregated by SQL over the
registered Arrow batch; reads merge the partial rows (sum the counts, add the
sketches bucket by bucket). A span already stored (same COPY_KEY: a retried write,
a replayed spool) is not counted again: the write anti-joins its batch against the
spans stored in the short ranges of time its starts fall in, before inserting it.
Every ``MAINTAIN_INTERVAL_S`` a background pass compacts the partial rows of past
minutes into one row per key, so reads stay proportional to minutes x keys, not to
the number of writes.

Edges need a span's parent, which may arrive in a later write. So a write only
marks minutes dirty: the start minute of each span (its own call) and the minutes
it spans (the calls of children that may already be stored). Reading edges first
recomputes the dirty minutes in range from the spans (the self-join, one
contiguous run of minutes at a time) and stores them in ``edge_rollup``. A dirty
mark is deleted by the transaction that recomputed it from a snapshot holding the
spans it stood for; a write after that snapshot leaves its own mark.

The same background pass recomputes the dirty minutes that have passed, so that
reads mostly find the edges ready. ``dependencies`` answers from the edge rollup
alone, its window rounded out to whole minutes. A store from before the rollups (or
from an older ROLLUP_VERSION) is backfilled once when opened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np

from traceway.analysis.red import LOG_GAMMA, MINUTE_NS, EdgeRow, RedColumns, minute_of
from traceway.storage.api import DependencyLink
from traceway.storage.duckdb.rollup_rows import edge_rows_of, red_columns_of

log = logging.getLogger(__name__)

ROLLUP_VERSION = "2"  # 2: copies of a span counted once
MAINTAIN_INTERVAL_S = 30.0
# How many minutes after its start a long span marks dirty (for children that
# arrived before it).
PARENT_MARGIN_NS = 3_600 * 10**9
ERROR = 2  # StatusCode.ERROR

_BUCKET = f"CAST(ceil(ln(greatest(duration_ns, 1)) / {LOG_GAMMA!r}) AS SMALLINT)"
_MINUTE = f"(start_ns // {MINUTE_NS}) * {MINUTE_NS}"
_RED_KEY = "minute_ns, service, name, kind, status_code"
# Spans equal in these are copies of one span (a retried write, a replayed spool):
# RED counts one of them. The two halves of a Zipkin shared span differ in kind and
# service, so both count.
COPY_KEY = "trace_hi, trace_lo, span_id, service, kind, start_ns"

_RED_OF = f"""
    SELECT {_RED_KEY}, sum(n)::BIGINT, sum(d)::BIGINT, list(b ORDER BY b), list(n ORDER BY b)
    FROM (SELECT {_MINUTE} AS minute_ns, service, name, kind, status_code, {_BUCKET} AS b,
                 count(*) AS n, sum(duration_ns) AS d
          FROM {{source}} GROUP BY ALL)
    GROUP BY {_RED_KEY}"""


def _merged(rows: str, key: str, sums: str) -> str:
    """Rows of ``rows`` (with ``buckets``/``counts`` sketch columns) merged per ``key``:
    ``sums`` added, sketches added bucket by bucket."""
    return f"""
        WITH r AS ({rows}),
             t AS (SELECT {key}, {sums} FROM r GROUP BY ALL),
             u AS (SELECT {key}, b, sum(n)::BIGINT AS n
                   FROM (SELECT {key}, unnest(buckets) AS b, unnest(counts) AS n FROM r)
                   GROUP BY ALL),
             s AS (SELECT {key}, list(b ORDER BY b) AS bs, list(n ORDER BY b) AS ns
                   FROM u GROUP BY ALL)
        SELECT t.*, s.bs, s.ns FROM t JOIN s USING ({key}) ORDER BY {key}"""


_RED_SUMS = "sum(calls)::BIGINT, sum(duration_sum_ns)::BIGINT"

# Callee spans (``c``) joined to their parent (``p``), the SERVER half of a shared span
# first. Parents are looked for from ``$parent_lo`` (``calls_params``).
_CALLS = f"""
    WITH c AS (SELECT DISTINCT trace_hi, trace_lo, span_id, parent_id, service, status_code,
                      duration_ns, start_ns
               FROM spans WHERE start_ns BETWEEN $lo AND $hi AND parent_id <> 0),
         p AS (SELECT trace_hi, trace_lo, span_id,
                      arg_min(service, CASE WHEN kind = 2 THEN 0 ELSE 1 END) AS service
               FROM spans WHERE start_ns BETWEEN $parent_lo AND $hi
                 AND span_id IN (SELECT parent_id FROM c)
               GROUP BY trace_hi, trace_lo, span_id)
    SELECT {_MINUTE.replace("start_ns", "c.start_ns")} AS minute_ns, p.service AS parent,
           c.service AS child, c.status_code = {ERROR} AS is_error,
           {_BUCKET.replace("duration_ns", "c.duration_ns")} AS b
    FROM c JOIN p ON c.trace_hi = p.trace_hi AND c.trace_lo = p.trace_lo
                 AND c.parent_id = p.span_id
    WHERE p.service <> c.service"""

_EDGES_OF_CALLS = f"""
    SELECT minute_ns, parent, child, sum(n)::BIGINT, sum(e)::BIGINT,
           list(b ORDER BY b), list(n ORDER BY b)
    FROM (SELECT minute_ns, parent, child, b, count(*) AS n, count(*) FILTER (is_error) AS e
          FROM ({_CALLS}) GROUP BY ALL)
    GROUP BY minute_ns, parent, child"""


# Where a call's parent is looked for first: spans that start at most this long before
# the callees' window (nearly every parent). Only the traces of callees whose parent is
# not there are looked up in trace_index (an index lookup while they are few), so a
# parent that started hours earlier is still found.
PARENT_NEAR_NS = MINUTE_NS
MAX_INDEXED_TRACES = 2_000
_FAR_TRACES = """
    SELECT DISTINCT c.trace_hi
    FROM (SELECT trace_hi, trace_lo, parent_id FROM spans
          WHERE start_ns BETWEEN $lo AND $hi AND parent_id <> 0) c
    ANTI JOIN (SELECT trace_hi, trace_lo, span_id FROM spans
               WHERE start_ns BETWEEN $near AND $hi) p
    ON c.trace_hi = p.trace_hi AND c.trace_lo = p.trace_lo AND c.parent_id = p.span_id"""


def calls_params(cur: duckdb.DuckDBPyConnection, lo: int, hi: int) -> dict[str, int]:
    """Parameters of _CALLS for callee spans started in ``[lo, hi]``: parents are looked
    for from the first start of every trace whose parent is not near."""
    near = lo - PARENT_NEAR_NS
    far = cur.execute(_FAR_TRACES, {"lo": lo, "hi": hi, "near": near}).fetchnumpy()["trace_hi"]
    if not len(far):
        return {"lo": lo, "hi": hi, "parent_lo": near}
    if len(far) <= MAX_INDEXED_TRACES:  # a literal list: DuckDB probes the index
        traces = ", ".join(str(int(t)) for t in far.tolist())
        found = cur.execute(f"SELECT min(start_ns) FROM trace_index WHERE trace_hi IN ({traces})"
                            ).fetchone()
    else:
        found = cur.execute("SELECT min(start_ns) FROM trace_index WHERE trace_hi IN "
                            "(SELECT unnest(?::UBIGINT[]))", [far.tolist()]).fetchone()
    first = found[0] if found and found[0] is not None else near
    return {"lo": lo, "hi": hi, "parent_lo": min(first, near)}


def dependencies_of_spans(cur: duckdb.DuckDBPyConnection, lo: int, hi: int
                          ) -> list[DependencyLink]:
    """``Reader.dependencies`` computed from the spans (for windows not in a rollup)."""
    rows = cur.execute(f"SELECT parent, child, sum(n)::BIGINT, sum(e)::BIGINT FROM "
                       f"(SELECT minute_ns, parent, child, n, e FROM ({_EDGES_OF_CALLS}) "
                       f"AS edges(minute_ns, parent, child, n, e, bs, ns)) GROUP BY ALL",
                       calls_params(cur, lo, hi)).fetchall()
    return [DependencyLink(parent, child, n, errors) for parent, child, n, errors in rows]


def _first_copies(source: str) -> str:
    """One span of ``source`` per COPY_KEY (the columns RED needs)."""
    return f"(SELECT DISTINCT ON ({COPY_KEY}) {COPY_KEY}, name, status_code, duration_ns FROM {source})"


def rollup_statements(stored_ranges: Sequence[tuple[int, int]], *,
                      copies_in_batch: bool) -> list[str]:
    """What a write adds inside its transaction, before its spans are inserted
    (``batch_spans``, ``batch_traces``, ``batch_dirty`` registered). RED counts the
    batch's spans that are no copies of stored ones: those are looked for among the
    spans that start in ``stored_ranges`` (``[first, last]`` pairs covering the batch's
    starts) and belong to a trace of the batch that ``trace_index`` already holds.

    Every stored span has a ``trace_index`` row of its write whose ``[start_ns, end_ns]``
    holds its start, so a trace without one meeting a range has no copy stored: the
    spans of the ranges are then not read at all, and otherwise only checked for those
    traces. Scanning every span of the ranges cost more than the rest of a write
    (bench/store_write.py). Without ``copies_in_batch`` (no span id twice in the batch)
    the batch's own copies are not looked for."""
    batch = _first_copies("batch_spans") if copies_in_batch else "batch_spans"
    if not stored_ranges:
        return [f"INSERT INTO red_rollup {_RED_OF.format(source=batch)}",
                "INSERT INTO edge_dirty SELECT minute_ns FROM batch_dirty"]
    seen = " UNION ALL ".join(
        f"SELECT trace_hi FROM trace_index WHERE start_ns <= {int(last)} AND end_ns >= {int(first)} "
        "AND trace_hi IN (SELECT trace_hi FROM batch_traces)" for first, last in stored_ranges)
    stored = " UNION ALL ".join(
        f"SELECT {COPY_KEY} FROM spans WHERE start_ns BETWEEN {int(first)} AND {int(last)} "
        "AND trace_hi IN (SELECT trace_hi FROM seen)" for first, last in stored_ranges)
    new = f"(SELECT * FROM {batch} ANTI JOIN ({stored}) USING ({COPY_KEY}))"
    return [f"INSERT INTO red_rollup WITH seen AS MATERIALIZED ({seen}) {_RED_OF.format(source=new)}",
            "INSERT INTO edge_dirty SELECT minute_ns FROM batch_dirty"]


def start_ranges(start_ns: np.ndarray, most: int = 16) -> list[tuple[int, int]]:
    """At most ``most`` ``[first, last]`` ranges covering every start, split at the
    widest gaps (a batch of live spans with a few late ones: a few short ranges)."""
    starts = np.unique(start_ns)
    if not len(starts):
        return []
    gaps = np.diff(starts)
    splits = np.sort(np.argpartition(-gaps, most - 2)[:most - 1]) if len(gaps) >= most else (
        np.arange(len(gaps)))
    splits = splits[gaps[splits] > MINUTE_NS // 60]  # a second apart: one range
    firsts = np.concatenate(([starts[0]], starts[splits + 1]))
    lasts = np.concatenate((starts[splits], [starts[-1]]))
    return list(zip(firsts.tolist(), lasts.tolist()))


def dirty_minutes(start_ns: np.ndarray, duration_ns: np.ndarray) -> set[int]:
    """The minutes whose edges spans starting at ``start_ns`` may change: each start
    minute up to the minute the longest span starting in it ends (at most
    PARENT_MARGIN_NS later)."""
    first = start_ns // MINUTE_NS
    last = (start_ns + np.clip(duration_ns, 0, PARENT_MARGIN_NS)) // MINUTE_NS
    order = np.argsort(first, kind="stable")
    starts, index = np.unique(first[order], return_index=True)
    ends = np.maximum.reduceat(last[order], index)
    minutes: set[int] = set()
    for begin, end in zip(starts.tolist(), ends.tolist()):
        minutes.update(range(begin * MINUTE_NS, (end + 1) * MINUTE_NS, MINUTE_NS))
    return minutes


def backfill(con: duckdb.DuckDBPyConnection) -> None:
    """Build the rollups of a store written before them, once."""
    done = con.execute("SELECT value FROM meta WHERE key = 'rollup_version'").fetchall()
    if done and done[0][0] == ROLLUP_VERSION:
        return
    con.execute("BEGIN")
    con.execute("DELETE FROM red_rollup")
    con.execute("DELETE FROM edge_rollup")
    # In time order, as writes leave them: reads of recent minutes skip the older row groups.
    con.execute(f"INSERT INTO red_rollup {_RED_OF.format(source=_first_copies('spans'))} "
                "ORDER BY minute_ns")
    con.execute(f"INSERT INTO edge_dirty SELECT DISTINCT {_MINUTE} FROM spans")
    con.execute("INSERT OR REPLACE INTO meta VALUES ('rollup_version', ?)", [ROLLUP_VERSION])
    con.execute("COMMIT")


def unmerged_minutes(con: duckdb.DuckDBPyConnection) -> set[int]:
    """Minutes holding partial RED rows (more than one row for a key)."""
    return {m for (m,) in con.execute(f"""SELECT DISTINCT minute_ns FROM
        (SELECT minute_ns FROM red_rollup GROUP BY {_RED_KEY} HAVING count(*) > 1)""").fetchall()}


def delete_rollups_before(con: duckdb.DuckDBPyConnection, start_ns: int) -> None:
    minute = start_ns // MINUTE_NS * MINUTE_NS
    for table in ("red_rollup", "edge_rollup", "edge_dirty"):
        con.execute(f"DELETE FROM {table} WHERE minute_ns < ?", [minute])


class DuckDBRollups:
    """Rollups over the store's connection; mixed into DuckDBStore, whose writer keeps
    ``_marked`` (dirty minutes marked since the last edge refresh) and ``_unmerged``
    (minutes with partial RED rows) under ``_write_lock``."""

    _con: duckdb.DuckDBPyConnection
    _write_lock: threading.Lock
    _marked: set[int]
    _unmerged: set[int]
    _refresh_lock: threading.Lock
    _maintained_at: float
    _maintainer: threading.Thread | None

    def red(self, start_ns: int, end_ns: int, step_ns: int = MINUTE_NS, *,
            services: Sequence[str] | None = None, span_kinds: Sequence[int] | None = None,
            by_operation: bool = True) -> RedColumns:
        where = "minute_ns >= $start AND minute_ns < $end"
        params: dict[str, object] = {"start": start_ns, "end": end_ns, "step": step_ns}
        if services is not None:
            where += " AND service IN (SELECT unnest($services::VARCHAR[]))"
            params["services"] = list(services)
        if span_kinds is not None:
            where += " AND kind IN (SELECT unnest($kinds::UTINYINT[]))"
            params["kinds"] = [int(k) for k in span_kinds]
        operation = "name" if by_operation else "''"
        # The rows as they are, sketches included: merged by numpy (RedColumns entries
        # add up), which is several times cheaper than unnesting them in SQL.
        cur = self._con.cursor()
        try:
            table = cur.sql(f"""
                SELECT service, {operation} AS operation,
                       $start + (minute_ns - $start) // $step * $step AS time_ns, calls,
                       CASE WHEN status_code = {ERROR} THEN calls ELSE 0 END AS errors,
                       duration_sum_ns, buckets, counts
                FROM red_rollup WHERE {where}""", params=params).to_arrow_table()
        finally:
            cur.close()
        return red_columns_of(table, by_operation)

    def edges(self, start_ns: int, end_ns: int) -> list[EdgeRow]:
        self._refresh_edges(start_ns, end_ns)
        cur = self._con.cursor()
        try:
            table = cur.sql("""
                SELECT parent, child, calls, errors, buckets, counts
                FROM edge_rollup WHERE minute_ns >= ? AND minute_ns < ?""",
                params=[start_ns, end_ns]).to_arrow_table()
        finally:
            cur.close()
        return edge_rows_of(table)

    def dependencies(self, start_min_ns: int, start_max_ns: int) -> list[DependencyLink]:
        """From the edge rollup, the window rounded out to whole minutes (the minutes
        that hold ``start_min_ns`` through ``start_max_ns``): computing the ragged ends
        from the spans cost more than the rest of the answer at 10M spans."""
        first = minute_of(start_min_ns)
        after = minute_of(start_max_ns) + MINUTE_NS
        self._refresh_edges(first, after)
        return [DependencyLink(parent, child, int(n), int(errors)) for parent, child, n, errors
                in self._query("SELECT parent, child, sum(calls), sum(errors) FROM edge_rollup "
                               "WHERE minute_ns >= ? AND minute_ns < ? GROUP BY ALL ORDER BY ALL",
                               [first, after])]

    # -- maintenance ----------------------------------------------------------

    def maintain(self, now_ns: int | None = None) -> None:
        """Compact the partial RED rows and recompute the dirty edges of the minutes
        before the last one. Safe alongside writes and reads."""
        settled_ns = minute_of(now_ns if now_ns is not None else time.time_ns()) - MINUTE_NS
        with self._write_lock:
            minutes = sorted(m for m in self._unmerged if m < settled_ns)
            self._unmerged.difference_update(minutes)
        try:
            self._compact(minutes)
        except duckdb.Error:
            with self._write_lock:
                self._unmerged.update(minutes)
            raise
        self._refresh_edges(0, settled_ns)

    def _maybe_maintain(self) -> None:
        """Called by the writer: start a background maintenance pass when one is due."""
        if time.monotonic() - self._maintained_at < MAINTAIN_INTERVAL_S:
            return
        if self._maintainer is not None and self._maintainer.is_alive():
            return
        self._maintained_at = time.monotonic()
        self._maintainer = threading.Thread(target=self._maintain_logged, daemon=True,
                                            name="traceway-rollups")
        self._maintainer.start()

    def _maintain_logged(self) -> None:
        try:
            self.maintain()
        except duckdb.Error:
            log.exception("rollup maintenance failed; will retry")

    def _compact(self, minutes: list[int]) -> None:
        cur = self._con.cursor()
        try:
            for first, last in _runs(minutes):
                rows = f"SELECT * FROM red_rollup WHERE minute_ns BETWEEN {first} AND {last}"
                cur.execute("BEGIN")
                cur.execute("CREATE OR REPLACE TEMP TABLE red_compacted AS "
                            + _merged(rows, _RED_KEY, _RED_SUMS))
                cur.execute("DELETE FROM red_rollup WHERE minute_ns BETWEEN ? AND ?", [first, last])
                cur.execute("INSERT INTO red_rollup SELECT * FROM red_compacted")
                cur.execute("COMMIT")
        except duckdb.Error:
            _rollback(cur)
            raise
        finally:
            cur.close()

    def _refresh_edges(self, start_ns: int, end_ns: int) -> None:
        with self._refresh_lock:
            with self._write_lock:
                self._marked.clear()  # writes from now on mark again
            cur = self._con.cursor()
            try:
                minutes = [m for (m,) in cur.execute(
                    "SELECT DISTINCT minute_ns FROM edge_dirty WHERE minute_ns >= ? "
                    "AND minute_ns < ? ORDER BY 1", [start_ns, end_ns]).fetchall()]
                for first, last in _runs(minutes):
                    cur.execute("BEGIN")
                    cur.execute("DELETE FROM edge_rollup WHERE minute_ns BETWEEN ? AND ?",
                                [first, last])
                    cur.execute(f"INSERT INTO edge_rollup {_EDGES_OF_CALLS}",
                                calls_params(cur, first, last + MINUTE_NS - 1))
                    cur.execute("DELETE FROM edge_dirty WHERE minute_ns BETWEEN ? AND ?",
                                [first, last])
                    cur.execute("COMMIT")
            except duckdb.Error:
                _rollback(cur)
                raise
            finally:
                cur.close()

    def _query(self, sql: str, params: list[object] | dict[str, Any],
               columns: slice | None = None) -> list[Any]:
        cur = self._con.cursor()
        try:
            rows = cur.execute(sql, params).fetchall()
        finally:
            cur.close()
        return [row[columns] for row in rows] if columns else rows


def _rollback(cur: duckdb.DuckDBPyConnection) -> None:
    try:
        cur.execute("ROLLBACK")
    except duckdb.Error:
        pass


def _runs(minutes: list[int]) -> list[tuple[int, int]]:
    """Sorted minutes -> (first, last) of each run of consecutive minutes."""
    runs: list[tuple[int, int]] = []
    for minute in minutes:
        if runs and runs[-1][1] + MINUTE_NS == minute:
            runs[-1] = (runs[-1][0], minute)
        else:
            runs.append((minute, minute))
    return runs
