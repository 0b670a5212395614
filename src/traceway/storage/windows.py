"""Newest-first search windows, for stores that search time ranges in steps."""

from __future__ import annotations

from collections.abc import Iterator

FIRST_WINDOW_NS = 60 * 10**9


def newest_first_windows(first_ns: int, last_ns: int) -> Iterator[tuple[int, int]]:
    """[start, end] windows from ``last_ns`` back to ``first_ns``, each four times
    as long as the one before, starting at 1/64 of the range (at least a minute).
    A search that fills its limit from recent data never reads the rest."""
    width = max((last_ns - first_ns) // 64, FIRST_WINDOW_NS)
    end = last_ns
    while end >= first_ns:
        start = max(first_ns, end - width)
        yield start, end
        end = start - 1
        width *= 4
