"""Time of each single-trace analysis (critical path, error origins, statistics, shape,
clock skew) on big synthetic traces, and what the clock-skew check adds to a trace fetch.

A trace of N spans is a tree with 8 children a span (breadth first) over 8 hosts, every
97th span in error; the pure functions run in-process (median of ``--repeat`` runs).

    .venv/bin/python bench/trace_analysis.py [--spans 10000 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from traceway.analysis.clock_skew import clock_skew
from traceway.analysis.compare import trace_shape
from traceway.analysis.critical_path import critical_path
from traceway.analysis.error_origin import error_origins
from traceway.analysis.statistics import trace_statistics
from traceway.convert.jaeger_json import trace_to_jaeger_json
from traceway.model import SpanBatch, StatusCode
from traceway.query.clock_skew_view import trace_json_with_skew
from traceway.storage.testspans import make_span


def big_trace(spans: int, fanout: int = 8) -> SpanBatch:
    starts, durations = [0] * spans, [0] * spans
    durations[0] = 4_000_000_000
    records = []
    for i in range(spans):
        parent = (i - 1) // fanout if i else -1
        if i:
            pdur = durations[parent]
            starts[i] = starts[parent] + pdur * ((i - 1) % fanout) // (fanout + 1)
            durations[i] = max(1000, pdur // (fanout + 2))
        host = f"host-{i % 8}"
        records.append(make_span(7, i + 1, parent=parent + 1 if i else b"", start_ns=starts[i],
                                 duration_ns=durations[i], service=f"svc-{i % 8}",
                                 name=f"op-{i % 50}", resource={"host.name": host},
                                 status_code=StatusCode.ERROR if i and i % 97 == 0 else 0))
    return SpanBatch.from_rows(records)


def median_s(fn: Callable[[SpanBatch], Any], batch: SpanBatch, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spans", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for spans in args.spans:
        batch = big_trace(spans)
        timings: dict[str, Callable[[SpanBatch], Any]] = {
            "critical path": critical_path,
            "error origins": error_origins,
            "statistics": trace_statistics,
            "shape (compare)": trace_shape,
            "clock skew": clock_skew,
            "trace JSON": trace_to_jaeger_json,
            "trace JSON + skew check": lambda b: trace_json_with_skew(b, adjust=False),
        }
        print(f"{spans:,} spans")
        for name, fn in timings.items():
            print(f"  {name:<24} {median_s(fn, batch, args.repeat) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
