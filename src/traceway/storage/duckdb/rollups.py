"""DuckDB rollups: RED rows and dependency edges per minute (the Rollups capability).

RED: every write appends, in its own transaction, one partial row per (minute,
service, operation, kind, status) of the batch, aggregated by SQL over the
registered Arrow batch; reads merge the partial rows (sum the counts, add the
sketches bucket by bucket).

Edges need a span's parent, which may arrive in a later write. So a write only
marks minutes dirty: the start minute of each span (its own call) and the minutes
it spans (the calls of children that may already be stored). Reading edges first
recomputes the dirty minutes in range from the spans (the self-join, one
contiguous run of minutes at a time) and stores them in ``edge_rollup``. A dirty
mark is deleted by the transaction that recomputed it from a snapshot holding the
spans it stood for; a write after that snapshot leaves its own mark.

A store from before the rollups is backfilled once when opened.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np

from traceway.analysis.red import LOG_GAMMA, MINUTE_NS, EdgeRow, RedRow
from traceway.storage.api import DependencyLink

ROLLUP_VERSION = "1"
# How many minutes after its start a long span marks dirty (for children that
# arrived before it).
PARENT_MARGIN_NS = 3_600 * 10**9

_BUCKET = f"CAST(ceil(ln(greatest(duration_ns, 1)) / {LOG_GAMMA!r}) AS SMALLINT)"
_MINUTE = f"(start_ns // {MINUTE_NS}) * {MINUTE_NS}"
_RED_KEY = "minute_ns, service, name, kind, status_code"

_RED_OF = f"""
    SELECT {_RED_KEY}, sum(n)::BIGINT, sum(d)::BIGINT, list(b ORDER BY b), list(n ORDER BY b)
    FROM (SELECT {_MINUTE} AS minute_ns, service, name, kind, status_code, {_BUCKET} AS b,
                 count(*) AS n, sum(duration_ns) AS d
          FROM {{source}} GROUP BY ALL)
    GROUP BY {_RED_KEY}"""

# Callee spans (``c``) joined to their parent (``p``), the SERVER half of a shared span
# first. Parents are looked for from the start of the earliest trace involved.
_PARENT_LO = """
    SELECT min(start_ns) FROM trace_index WHERE trace_hi IN
        (SELECT trace_hi FROM spans WHERE start_ns BETWEEN ? AND ? AND parent_id <> 0)"""
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
           c.service AS child, c.status_code = 2 AS is_error,
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


def rollup_statements() -> list[str]:
    """What a write adds inside its transaction (``batch_spans``, ``batch_dirty`` registered)."""
    return [f"INSERT INTO red_rollup {_RED_OF.format(source='batch_spans')}",
            "INSERT INTO edge_dirty SELECT minute_ns FROM batch_dirty"]


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
    con.execute(f"INSERT INTO red_rollup {_RED_OF.format(source='spans')}")
    con.execute(f"INSERT INTO edge_dirty SELECT DISTINCT {_MINUTE} FROM spans")
    con.execute("INSERT OR REPLACE INTO meta VALUES ('rollup_version', ?)", [ROLLUP_VERSION])
    con.execute("COMMIT")


def delete_rollups_before(con: duckdb.DuckDBPyConnection, start_ns: int) -> None:
    minute = start_ns // MINUTE_NS * MINUTE_NS
    for table in ("red_rollup", "edge_rollup", "edge_dirty"):
        con.execute(f"DELETE FROM {table} WHERE minute_ns < ?", [minute])


class DuckDBRollups:
    """Rollups over the store's connection; mixed into DuckDBStore."""

    _con: duckdb.DuckDBPyConnection
    _write_lock: threading.Lock
    _marked: set[int]  # dirty minutes the writer marked since the last refresh
    _refresh_lock: threading.Lock

    def red(self, start_ns: int, end_ns: int, services: Sequence[str] | None = None,
            span_kinds: Sequence[int] | None = None) -> list[RedRow]:
        where = "minute_ns >= ? AND minute_ns < ?"
        params: list[object] = [start_ns, end_ns]
        if services is not None:
            where += " AND service IN (SELECT unnest(?::VARCHAR[]))"
            params.append(list(services))
        if span_kinds is not None:
            where += " AND kind IN (SELECT unnest(?::UTINYINT[]))"
            params.append([int(k) for k in span_kinds])
        sql = f"""
            WITH r AS (SELECT * FROM red_rollup WHERE {where}),
                 t AS (SELECT {_RED_KEY}, sum(calls)::BIGINT AS calls,
                              sum(duration_sum_ns)::BIGINT AS d FROM r GROUP BY ALL),
                 u AS (SELECT {_RED_KEY}, b, sum(n)::BIGINT AS n
                       FROM (SELECT {_RED_KEY}, unnest(buckets) AS b, unnest(counts) AS n FROM r)
                       GROUP BY ALL),
                 s AS (SELECT {_RED_KEY}, list(b ORDER BY b) AS bs, list(n ORDER BY b) AS ns
                       FROM u GROUP BY ALL)
            SELECT t.*, s.bs, s.ns FROM t JOIN s USING ({_RED_KEY})
            ORDER BY {_RED_KEY}"""
        rows = self._query(sql, params)
        return [RedRow(m, svc, op, kind, status, calls, d, dict(zip(bs, ns)))
                for m, svc, op, kind, status, calls, d, bs, ns in rows]

    def edges(self, start_ns: int, end_ns: int) -> list[EdgeRow]:
        self._refresh_edges(start_ns, end_ns)
        rows = self._query("SELECT * FROM edge_rollup WHERE minute_ns >= ? AND minute_ns < ? "
                           "ORDER BY minute_ns, parent, child", [start_ns, end_ns])
        return [EdgeRow(m, parent, child, calls, errors, dict(zip(bs, ns)))
                for m, parent, child, calls, errors, bs, ns in rows]

    def dependencies(self, start_min_ns: int, start_max_ns: int) -> list[DependencyLink]:
        """Whole minutes of the window from the rollup, its ragged ends from the spans."""
        first = -(-start_min_ns // MINUTE_NS) * MINUTE_NS
        after = (start_max_ns + 1) // MINUTE_NS * MINUTE_NS
        calls: dict[tuple[str, str], list[int]] = {}
        if first < after:
            parts = [(e.parent, e.child, e.calls, e.errors) for e in self.edges(first, after)]
            ragged = [(start_min_ns, first - 1), (after, start_max_ns)]
        else:
            parts, ragged = [], [(start_min_ns, start_max_ns)]
        for lo, hi in ragged:
            if lo <= hi:
                parts += self._query(f"SELECT * FROM ({_EDGES_OF_CALLS})",
                                     self._calls_params(lo, hi), columns=slice(1, 5))
        for parent, child, n, errors in parts:
            totals = calls.setdefault((parent, child), [0, 0])
            totals[0] += n
            totals[1] += errors
        return [DependencyLink(parent, child, n, errors)
                for (parent, child), (n, errors) in sorted(calls.items())]

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
                                self._calls_params(first, last + MINUTE_NS - 1, cur))
                    cur.execute("DELETE FROM edge_dirty WHERE minute_ns BETWEEN ? AND ?",
                                [first, last])
                    cur.execute("COMMIT")
            except duckdb.Error:
                try:
                    cur.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                raise
            finally:
                cur.close()

    def _calls_params(self, lo: int, hi: int,
                      cur: duckdb.DuckDBPyConnection | None = None) -> dict[str, int]:
        """Parameters of _CALLS for callee spans started in ``[lo, hi]``."""
        if cur is None:
            ((found,),) = self._query(_PARENT_LO, [lo, hi])
        else:
            (found,) = cur.execute(_PARENT_LO, [lo, hi]).fetchone() or (None,)
        return {"lo": lo, "hi": hi, "parent_lo": lo if found is None else min(found, lo)}

    def _query(self, sql: str, params: list[object] | dict[str, int],
               columns: slice | None = None) -> list[Any]:
        cur = self._con.cursor()
        try:
            rows = cur.execute(sql, params).fetchall()
        finally:
            cur.close()
        return [row[columns] for row in rows] if columns else rows


def _runs(minutes: list[int]) -> list[tuple[int, int]]:
    """Sorted minutes -> (first, last) of each run of consecutive minutes."""
    runs: list[tuple[int, int]] = []
    for minute in minutes:
        if runs and runs[-1][1] + MINUTE_NS == minute:
            runs[-1] = (runs[-1][0], minute)
        else:
            runs.append((minute, minute))
    return runs
