"""Rollup rows fetched as Arrow -> what ``Rollups`` answers, merged by numpy.

Sketches arrive as list columns (``buckets``, ``counts``). Flattening them with Arrow
and adding with numpy is several times cheaper than unnesting and re-grouping them
in SQL: an hour of a large system is close to a million sketch entries.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from traceway.analysis.red import EdgeRow, RedColumns


def _ints(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table[name].to_numpy(), dtype=np.int64)


def _flat(table: pa.Table, name: str) -> pa.Array:
    column = table[name]
    return pa.concat_arrays(column.chunks) if column.num_chunks else pa.array([], column.type)


def _entries(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every sketch entry: (row it belongs to, bucket, count)."""
    buckets, counts = _flat(table, "buckets"), _flat(table, "counts")
    return (np.asarray(pc.list_parent_indices(buckets).to_numpy(), dtype=np.int64),
            np.asarray(pc.list_flatten(buckets).to_numpy(), dtype=np.int64),
            np.asarray(pc.list_flatten(counts).to_numpy(), dtype=np.int64))


def _key_numbers(table: pa.Table, columns: tuple[str, str]
                 ) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Number each row's pair of string ``columns`` densely, in the pairs' sorted order
    (as SQL's ORDER BY sorts them); return the numbers and the pairs in number order.
    Numbered here: a window function over the strings doubles the cost of the query."""
    ranks, words = [], []
    for column in columns:
        encoded = table[column].combine_chunks().dictionary_encode()
        dictionary = encoded.dictionary.to_pylist()
        order = sorted(range(len(dictionary)), key=dictionary.__getitem__)
        rank = np.empty(len(dictionary), dtype=np.int64)
        rank[order] = np.arange(len(dictionary))
        ranks.append(rank[np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)])
        words.append([dictionary[i] for i in order])
    width = max(len(words[1]), 1)
    pairs, k = np.unique(ranks[0] * width + ranks[1], return_inverse=True)
    return k.astype(np.int64), [(words[0][p // width], words[1][p % width]) for p in pairs.tolist()]


def _sums(group: np.ndarray, groups: int, values: np.ndarray) -> np.ndarray:
    total = np.zeros(groups, dtype=np.int64)
    np.add.at(total, group, values)  # exact int64, where bincount would round via float
    return total


def red_columns_of(table: pa.Table, by_operation: bool) -> RedColumns:
    """RedColumns of red_rollup rows (``service``, ``operation``, ``time_ns``, ``calls``, ``errors``, ``duration_sum_ns``, sketches):
    totals summed per key and time, sketch entries as they are (repeats add up)."""
    k, names = _key_numbers(table, ("service", "operation"))
    time_ns = _ints(table, "time_ns")
    keys = [(service, operation if by_operation else None) for service, operation in names]
    times, time_index = np.unique(time_ns, return_inverse=True)
    width = max(len(times), 1)
    groups, group = np.unique(k * width + time_index, return_inverse=True)
    calls, errors, duration_sum_ns = (_sums(group, len(groups), _ints(table, name))
                                      for name in ("calls", "errors", "duration_sum_ns"))
    row, bucket, count = _entries(table)
    return RedColumns(keys, groups // width, times[groups % width], calls, errors,
                      duration_sum_ns, k[row], time_ns[row], bucket, count)


def edge_rows_of(table: pa.Table) -> list[EdgeRow]:
    """EdgeRows of edge_rollup rows (``parent``, ``child``, ``calls``, ``errors``, sketches), one per key in key order."""
    k, names = _key_numbers(table, ("parent", "child"))
    calls, errors = (_sums(k, len(names), _ints(table, c)) for c in ("calls", "errors"))
    row, bucket, count = _entries(table)
    first = int(bucket.min()) if len(bucket) else 0
    width = int(bucket.max()) - first + 1 if len(bucket) else 1
    sketches = np.zeros((len(names), width), dtype=np.int64)
    np.add.at(sketches, (k[row], bucket - first), count)
    rows = []
    for key, ((parent, child), sketch) in enumerate(zip(names, sketches)):
        (filled,) = np.nonzero(sketch)
        rows.append(EdgeRow(parent, child, int(calls[key]), int(errors[key]),
                            dict(zip((filled + first).tolist(), sketch[filled].tolist()))))
    return rows
