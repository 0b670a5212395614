"""Each span stored once: which spans of a batch ClickHouse already holds.

A retried write, a spool replayed after a crash, or a sender that repeats a
request would otherwise store a span again, and the RED view would count it
again (a materialized view sees every inserted row). So a write first drops
the spans of its batch that repeat one earlier in the batch or one already
stored (same trace id, span id, start, service and kind: the two halves of a
Zipkin shared span differ in service and kind). Traces the lookup table does
not know cannot have stored spans, so a batch of new traces costs one lookup
by primary key. Query builders and the pure filter; ``ClickHouseStore`` runs them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from traceway.model import SpanBatch
from traceway.storage.clickhouse.queries import Query
from traceway.storage.clickhouse.schema import KIND_BY_NAME, Location

SpanKey = tuple[str, str, int, str, int]  # trace id hex, span id hex, start ns, service, kind
Stored = dict[SpanKey, set[bytes]]  # -> digests of the stored copies' content

_WINDOW = ("TraceId IN {ids:Array(String)} AND Timestamp BETWEEN "
           "fromUnixTimestamp64Nano({first:Int64}) AND fromUnixTimestamp64Nano({last:Int64})")
# Spans that differ only in content are different spans (both kept); on the
# exporter's tables, without Traceway's columns, the key alone decides.
_CONTENT = "MD5(concat(TracewaySpan, TracewayResource, TracewayScope))"


def known_traces(loc: Location, trace_ids: list[str]) -> Query:
    """Which of these traces have spans stored (the lookup table, by its key)."""
    return (f"SELECT DISTINCT TraceId FROM {loc.trace_id_ts} WHERE TraceId IN {{ids:Array(String)}}",
            {"ids": trace_ids})


def stored_spans(loc: Location, trace_ids: list[str], first_ns: int, last_ns: int,
                 own_columns: bool) -> Query:
    """Key and content digest of the stored spans of these traces in the window."""
    content = _CONTENT if own_columns else "''"
    return (f"SELECT TraceId, SpanId, toUnixTimestamp64Nano(Timestamp), ServiceName, SpanKind, "
            f"{content} FROM {loc.traces} WHERE {_WINDOW}",
            {"ids": trace_ids, "first": first_ns, "last": last_ns})


def stored_of(rows: Iterable[tuple[Any, ...]]) -> Stored:
    stored: Stored = {}
    for trace, span, start, service, kind, digest in rows:
        key = (trace, span, int(start), service, KIND_BY_NAME.get(kind, 0))
        stored.setdefault(key, set()).add(digest if isinstance(digest, bytes) else digest.encode())
    return stored


def fresh(batch: SpanBatch, stored: Stored, own_columns: bool) -> SpanBatch:
    """``batch`` without the spans in ``stored`` or repeated earlier in it."""
    seen: set[tuple[Any, ...]] = set()
    keep = []
    for i, record in enumerate(zip(batch.trace_id, batch.span_id, batch.start_ns, batch.service,
                                   batch.kind, batch.detail, batch.resource, batch.scope)):
        if record in seen:
            continue
        seen.add(record)
        key = (record[0].hex(), record[1].hex(), *record[2:5])
        digests = stored.get(key)
        if digests is not None:
            content = hashlib.md5(b"".join(record[5:])).digest() if own_columns else b""
            if content in digests:
                continue
        keep.append(i)
    return batch if len(keep) == len(batch) else batch.take(keep)


def rederived(loc: Location, trace_ids: list[str], first_ns: int, last_ns: int,
              operations: bool) -> list[Query]:
    """Rows of the lookup (and operations) tables for the stored spans of these
    traces in the window, as their views write them. Repeating them is
    harmless: reads take the min and max of a trace's rows, and operations are
    distinct."""
    params = {"ids": trace_ids, "first": first_ns, "last": last_ns}
    statements = [(f"INSERT INTO {loc.trace_id_ts} (TraceId, Start, End)\n"
                   f"SELECT TraceId, min(Timestamp), max(Timestamp) FROM {loc.traces}\n"
                   f"WHERE {_WINDOW}\nGROUP BY TraceId", params)]
    if operations:
        statements.append((f"INSERT INTO {loc.operations}\nSELECT ServiceName, SpanName, "
                           f"SpanKind, max(toDateTime(Timestamp)) FROM {loc.traces}\n"
                           f"WHERE {_WINDOW}\nGROUP BY ServiceName, SpanName, SpanKind", params))
    return statements
