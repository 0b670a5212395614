"""DuckDB schema and the column encodings it uses.

Ids are unsigned 64-bit integers (a trace id is two: hi and lo, big-endian
halves), which DuckDB compares and stores at fixed width. ``detail`` and the
resource/scope bodies are OTLP protobuf bytes kept as latin-1 text: one
character per byte, so DuckDB's vectorised ``contains`` can pre-filter tag
searches on the exact encoded attribute, and ZSTD compresses them.

Trace lookup uses ``trace_index``: one row per trace per write, with an ART
index on ``trace_hi``. It gives a trace's time range, and the spans table,
written in arrival order, is pruned to that range by DuckDB's per-row-group
min/max of ``start_ns``. So lookup cost follows the trace's time span, not the
size of the store.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np
import pyarrow as pa

_latin1: ModuleType | None
try:
    _latin1 = importlib.import_module("traceway.storage.duckdb._latin1")
except ImportError:  # not compiled: Python builds the text columns
    _latin1 = None

SCHEMA_VERSION = 1

DDL = [
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS spans (
        trace_hi UBIGINT NOT NULL,
        trace_lo UBIGINT NOT NULL,
        span_id UBIGINT NOT NULL,
        parent_id UBIGINT NOT NULL,          -- 0 for a root span
        service VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        kind UTINYINT NOT NULL,
        start_ns BIGINT NOT NULL,
        duration_ns BIGINT NOT NULL,
        status_code UTINYINT NOT NULL,
        status_message VARCHAR NOT NULL,
        resource_id UINTEGER NOT NULL,
        scope_id UINTEGER NOT NULL,
        detail VARCHAR NOT NULL USING COMPRESSION zstd
    )""",
    """CREATE TABLE IF NOT EXISTS trace_index (
        trace_hi UBIGINT NOT NULL,
        trace_lo UBIGINT NOT NULL,
        start_ns BIGINT NOT NULL,
        end_ns BIGINT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS trace_index_hi ON trace_index (trace_hi)",
    # Resources and scopes are stored once; ``hash`` identifies the content.
    """CREATE TABLE IF NOT EXISTS resources (
        id UINTEGER PRIMARY KEY, hash BIGINT NOT NULL UNIQUE, service VARCHAR NOT NULL,
        body VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS scopes (
        id UINTEGER PRIMARY KEY, hash BIGINT NOT NULL UNIQUE, name VARCHAR NOT NULL,
        version VARCHAR NOT NULL, body VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS operations (
        service VARCHAR NOT NULL, name VARCHAR NOT NULL, kind UTINYINT NOT NULL,
        PRIMARY KEY (service, name, kind))""",
    # Rollups (storage/duckdb/rollups.py): partial RED rows appended with every
    # write; dependency edges per minute, recomputed for the minutes marked dirty.
    """CREATE TABLE IF NOT EXISTS red_rollup (
        minute_ns BIGINT NOT NULL, service VARCHAR NOT NULL, name VARCHAR NOT NULL,
        kind UTINYINT NOT NULL, status_code UTINYINT NOT NULL, calls BIGINT NOT NULL,
        duration_sum_ns BIGINT NOT NULL, buckets SMALLINT[] NOT NULL, counts BIGINT[] NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS edge_rollup (
        minute_ns BIGINT NOT NULL, parent VARCHAR NOT NULL, child VARCHAR NOT NULL,
        calls BIGINT NOT NULL, errors BIGINT NOT NULL, buckets SMALLINT[] NOT NULL,
        counts BIGINT[] NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS edge_dirty (minute_ns BIGINT NOT NULL)",
]

SPAN_COLUMNS = ("trace_hi, trace_lo, span_id, parent_id, service, name, kind, start_ns, "
                "duration_ns, status_code, status_message, resource_id, scope_id, detail")

_BIG_U64 = np.dtype(">u8")


def _lengths(ids: list[bytes]) -> np.ndarray:
    return np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))


def u64_pairs(ids16: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """16-byte ids -> (hi, lo) unsigned 64-bit columns; ValueError for other lengths."""
    if (_lengths(ids16) != 16).any():
        raise ValueError("trace ids must be 16 bytes")
    both = np.frombuffer(b"".join(ids16), dtype=_BIG_U64).astype(np.uint64)
    return both[0::2], both[1::2]


def u64s(ids8: list[bytes]) -> np.ndarray:
    """8-byte ids (b"" meaning none) -> unsigned 64-bit column, 0 for none;
    ValueError for other lengths."""
    lengths = _lengths(ids8)
    present = lengths == 8
    joined = b"".join(ids8)
    if present.all():
        return np.frombuffer(joined, dtype=_BIG_U64).astype(np.uint64)
    if (lengths[~present] != 0).any():
        raise ValueError("span ids must be 8 bytes or empty")
    out = np.zeros(len(ids8), dtype=np.uint64)
    out[present] = np.frombuffer(joined, dtype=_BIG_U64)
    return out


def latin1_text(values: list[bytes]) -> pa.StringArray:
    """Bytes as latin-1 text (one character per byte), as an Arrow string column.

    Compiled (``_latin1.c``): no Python object per value, and the copy runs
    without the GIL. Without a C compiler at install time, Python does it.
    """
    if _latin1 is None:
        return pa.array([value.decode("latin-1") for value in values], pa.string())
    offsets, data = _latin1.utf8_columns(values)
    return pa.StringArray.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(data))


def ids16_from(hi: np.ndarray, lo: np.ndarray) -> list[bytes]:
    both = np.empty(len(hi) * 2, dtype=_BIG_U64)
    both[0::2] = hi
    both[1::2] = lo
    raw = both.tobytes()
    return [raw[i:i + 16] for i in range(0, len(raw), 16)]


def ids8_from(values: np.ndarray) -> list[bytes]:
    raw = np.asarray(values, dtype=np.uint64).astype(_BIG_U64).tobytes()
    out = [raw[i:i + 8] for i in range(0, len(raw), 8)]
    return [b"" if i == b"\0" * 8 else i for i in out]


def id_halves(trace_id: bytes) -> tuple[int, int]:
    return int.from_bytes(trace_id[:8], "big"), int.from_bytes(trace_id[8:], "big")
